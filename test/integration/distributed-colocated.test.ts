// A keyBy on the field a topic is keyed by (`kafka.partitionedBy`) needs no repartition topic
// (real broker): two workers count per user straight from a topic keyed by user with Kafka's
// default partitioner, every count is right, and the job created no repartition topic.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorker } from "../../runtime/distributed/worker.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testJobName, writeJobManifest } from "../helpers/distributed.ts";

describe("distributed workers: keyBy on the topic's own key (real broker)", () => {
  const k = kafkaAdminHooks();

  it("counts per user without a repartition topic", async () => {
    const { kafka, admin } = k;
    const name = testJobName("colo");
    const [input, output] = [`${name}-in`, `${name}-out`];
    await createTopics(admin, [input], 4);
    await createTopics(admin, [output], 1);
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 4,
      pipeline: `    sources:
      - id: clicks
        kafka: { topic: ${input}, partitions: 4, partitionedBy: user }
        timestamp: { field: ts }
    steps:
      - id: valid
        input: clicks
        filter: { condition: "record.ts > 0" }
      - id: by-user
        input: valid
        keyBy: { key: record.user }
      - id: totals
        input: by-user
        window:
          type: tumbling
          size: 1m
          aggregations: [{ name: events, fn: count }]
    sinks:
      - id: out
        input: totals
        kafka: { topic: ${output} }
`,
    });
    const producer = inputProducer(kafka);
    await producer.connect();
    const t0 = Date.UTC(2026, 0, 1);
    const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    // Each user i sends i + 1 clicks in the first minute, keyed by user (the default partitioner places them).
    const messages = users.flatMap((user, i) => Array.from({ length: i + 1 }, (_, j) => ({ key: user, value: JSON.stringify({ user, ts: t0 + j * 100 }) })));
    // A later click per user (so on every partition) closes the minute.
    for (const user of users) messages.push({ key: user, value: JSON.stringify({ user, ts: t0 + 120_000 }) });
    await producer.send({ topic: input, messages });
    await producer.disconnect();
    const workers = await Promise.all(
      [0, 1].map((ordinal) => createWorker({ manifest, ordinal, workers: 2, namespace: "test", stateDir: join(dir, `w${ordinal}`) })),
    );
    expect(workers[0]?.plan.topics).toEqual([]);
    const runs = workers.map((w) => w.run());
    try {
      const got = await consumeAll(kafka, output, { count: users.length, idleMs: 15_000 });
      const counts = Object.fromEntries(got.map((m) => JSON.parse(String(m.message.value)) as { key: string; events: number }).map((r) => [r.key, r.events]));
      expect(counts).toEqual(Object.fromEntries(users.map((u, i) => [u, i + 1])));
      expect((await admin.listTopics()).filter((t) => t.includes(name) && t.endsWith(".repartition"))).toEqual([]);
    } finally {
      for (const w of workers) w.stop();
      await Promise.all(runs);
    }
  });
});
