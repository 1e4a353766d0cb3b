// A Kafka source without an event-time field of its own takes each record's Kafka timestamp as
// its event time (real broker): records produced with timestamps of 2026-01-01 land in that
// day's windows, whatever the wall clock says, and a later record closes them.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorker } from "../../runtime/distributed/worker.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testJobName, writeJobManifest } from "../helpers/distributed.ts";

describe("distributed worker: event time from Kafka record timestamps (real broker)", () => {
  const k = kafkaAdminHooks();

  it("windows records by their Kafka timestamps when the source names no event-time field", async () => {
    const { kafka, admin } = k;
    const name = testJobName("rts");
    const [input, output] = [`${name}-in`, `${name}-out`];
    await createTopics(admin, [input], 2);
    await createTopics(admin, [output], 1);
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 2,
      pipeline: `    sources:
      - id: clicks
        kafka: { topic: ${input}, partitions: 2 }
    steps:
      - id: by-user
        input: clicks
        keyBy: { key: record.user }
      - id: per-minute
        input: by-user
        window:
          type: tumbling
          size: 1m
          aggregations: [{ name: events, fn: count }]
    sinks:
      - id: out
        input: per-minute
        kafka: { topic: ${output} }
`,
    });
    const producer = inputProducer(kafka);
    await producer.connect();
    const t0 = Date.UTC(2026, 0, 1);
    // user-a: 3 clicks and user-b: 2 clicks in the first minute of 2026, by their Kafka timestamps;
    // one click each two minutes later (on both partitions) closes that minute.
    const click = (user: string, partition: number, at: number) => ({ partition, value: JSON.stringify({ user }), timestamp: String(at) });
    await producer.send({
      topic: input,
      messages: [
        click("user-a", 0, t0),
        click("user-a", 0, t0 + 10_000),
        click("user-a", 0, t0 + 59_000),
        click("user-b", 1, t0 + 5_000),
        click("user-b", 1, t0 + 30_000),
      ],
    });
    await producer.send({ topic: input, messages: [click("user-a", 0, t0 + 120_000), click("user-b", 1, t0 + 120_000)] });
    await producer.disconnect();
    const worker = await createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "w0") });
    const run = worker.run();
    try {
      const got = await consumeAll(kafka, output, { count: 2, idleMs: 15_000 });
      const windows = got.map((m) => JSON.parse(String(m.message.value)) as { key: string; windowStart: number; events: number });
      expect(windows.sort((a, b) => a.key.localeCompare(b.key)).map((w) => [w.key, w.windowStart, w.events])).toEqual([
        ["user-a", t0, 3],
        ["user-b", t0, 2],
      ]);
    } finally {
      worker.stop();
      await run;
    }
  });
});
