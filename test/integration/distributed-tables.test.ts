// Table sources on a cluster (real broker): a worker reads the compacted topic to its end before
// the job runs, so the first records join against the whole table, and keeps following it — a
// changed row and a tombstone reach the lookup join while the job runs.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorker } from "../../runtime/distributed/worker.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testJobName, writeJobManifest } from "../helpers/distributed.ts";

describe("distributed worker: lookup joins against a compacted topic (real broker)", () => {
  const k = kafkaAdminHooks();

  it("joins against the table read at start, then against its updates and deletions", async () => {
    const { kafka, admin } = k;
    const name = testJobName("tbl");
    const [input, users, output] = [`${name}-in`, `${name}-users`, `${name}-out`];
    await createTopics(admin, [input, output], 2);
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: users, numPartitions: 2, configEntries: [{ name: "cleanup.policy", value: "compact" }] }],
    });
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 2,
      pipeline: `    sources:
      - id: views
        kafka: { topic: ${input}, partitions: 2 }
      - id: users
        mode: table
        kafka: { topic: ${users} }
    steps:
      - id: enriched
        input: views
        lookupJoin:
          table: users
          key: record.user
          type: left
          select:
            seq: record.seq
            tier: "row == null ? 'unknown' : row.tier"
    sinks:
      - id: out
        input: enriched
        kafka: { topic: ${output} }
`,
    });
    const producer = inputProducer(kafka);
    await producer.connect();
    const send = (topic: string, messages: { key: string; value: string | null }[]) => producer.send({ topic, messages });
    await send(users, [
      { key: "u1", value: JSON.stringify({ tier: "gold" }) },
      { key: "u2", value: JSON.stringify({ tier: "silver" }) },
    ]);
    await send(input, [
      { key: "a", value: JSON.stringify({ seq: 1, user: "u1" }) },
      { key: "b", value: JSON.stringify({ seq: 2, user: "u2" }) },
    ]);
    const worker = await createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "state") });
    const run = worker.run();
    try {
      const tierOf = async (count: number): Promise<Map<number, string>> => {
        const got = await consumeAll(kafka, output, { count, idleMs: 15_000 });
        return new Map(got.map((m) => JSON.parse(String(m.message.value)) as { seq: number; tier: string }).map((r) => [r.seq, r.tier]));
      };
      // Read to the end before the job ran: both joined from the start.
      expect(Object.fromEntries(await tierOf(2))).toEqual({ 1: "gold", 2: "silver" });
      await send(users, [
        { key: "u1", value: JSON.stringify({ tier: "platinum" }) },
        { key: "u2", value: null },
      ]);
      await new Promise((r) => setTimeout(r, 2000));
      await send(input, [
        { key: "a", value: JSON.stringify({ seq: 3, user: "u1" }) },
        { key: "b", value: JSON.stringify({ seq: 4, user: "u2" }) },
      ]);
      const after = await tierOf(4);
      expect(after.get(3)).toBe("platinum");
      expect(after.get(4)).toBe("unknown");
    } finally {
      await producer.disconnect();
      worker.stop();
      await run;
    }
  });
});
