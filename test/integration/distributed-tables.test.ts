// Table sources on a cluster (real broker): a worker reads the compacted topic to its end before
// the job runs, so the first records join against the whole table, and keeps following it — a
// changed row and a tombstone reach the lookup join while the job runs.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorker } from "../../runtime/distributed/worker.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testJobName, writeJobManifest } from "../helpers/distributed.ts";
import { waitFor } from "../helpers/wait.ts";

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
      // The update and the tombstone reach the join while the job runs: send a record of each user until
      // their outputs show it (polling the job's own output), then no later record may see the old rows.
      let seq = 2;
      const after = await waitFor(
        "the changed row and the tombstone to reach the lookup join",
        async () => {
          await send(input, [
            { key: "a", value: JSON.stringify({ seq: ++seq, user: "u1" }) },
            { key: "b", value: JSON.stringify({ seq: ++seq, user: "u2" }) },
          ]);
          const got = await tierOf(seq);
          return got.get(seq - 1) === "platinum" && got.get(seq) === "unknown" ? got : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      // Once a user's new row showed, it stays: u1's records (odd seq) read gold… then platinum…, u2's silver… then unknown….
      const tiers = (odd: boolean): string =>
        [...after]
          .filter(([s]) => s > 2 && s % 2 === (odd ? 1 : 0))
          .sort(([a], [b]) => a - b)
          .map(([, t]) => t)
          .join(",");
      expect(tiers(true)).toMatch(/^(gold,)*(platinum,)*platinum$/);
      expect(tiers(false)).toMatch(/^(silver,)*(unknown,)*unknown$/);
    } finally {
      await producer.disconnect();
      worker.stop();
      await run;
    }
  });
});
