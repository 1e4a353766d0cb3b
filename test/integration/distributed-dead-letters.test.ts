// A worker's dead-letter topic (real broker): a message that is not JSON and a record a `clean`
// rule rejects both land there with their original bytes and headers naming the error, the
// operator and where they came from; the good records go on to the output, keyed as they came.
// Records without a readable event time or with a value of another type than the source declares
// take the same way — the source check of local runs, on Kafka.
import { join } from "node:path";
import type { Message } from "kafkajs";
import { describe, expect, it } from "vitest";
import { createWorker, type Worker } from "../../runtime/distributed/worker.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testJobName, writeJobManifest } from "../helpers/distributed.ts";

describe("distributed worker: dead letters (real broker)", () => {
  const k = kafkaAdminHooks();

  /** The dead letters and outputs of a one-worker job on fresh topics, fed `messages` before it starts. */
  async function runJob(options: {
    prefix: string;
    partitions: number;
    /** The YAML under spec.pipeline (sources, steps, sinks), given the input, output and dead-letter topics. */
    pipeline: (t: { input: string; output: string; dead: string }) => string;
    messages: Message[];
    deadLetters: number;
    outputs: number;
  }) {
    const { kafka, admin } = k;
    const name = testJobName(options.prefix);
    const topics = { input: `${name}-in`, output: `${name}-out`, dead: `${name}-dead` };
    await createTopics(admin, [topics.input, topics.output, topics.dead], options.partitions);
    const { dir, manifest } = writeJobManifest(name, { parallelism: options.partitions, pipeline: options.pipeline(topics) });
    const producer = inputProducer(kafka);
    await producer.connect();
    await producer.send({ topic: topics.input, messages: options.messages });
    await producer.disconnect();
    const worker: Worker = await createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "state") });
    const run = worker.run();
    try {
      const deadLetters = await consumeAll(kafka, topics.dead, { count: options.deadLetters, idleMs: 15_000 });
      const out = await consumeAll(kafka, topics.output, { count: options.outputs, idleMs: 3_000 });
      const byKey = new Map(deadLetters.map((d) => [String(d.message.key), d.message]));
      const header = (key: string, h: string): string => String(byKey.get(key)?.headers?.[h]);
      return { ...topics, out, byKey, header, poisoned: worker.poisoned() };
    } finally {
      worker.stop();
      await run;
    }
  }

  it("writes unparseable and rejected records to the dead-letter topic with their origin", async () => {
    const { input, out, byKey, header, poisoned } = await runJob({
      prefix: "dl",
      partitions: 2,
      pipeline: ({ input, output, dead }) => `    sources:
      - id: payments
        kafka: { topic: ${input}, partitions: 2 }
    steps:
      - id: valid
        input: payments
        clean:
          rules:
            - { name: non_positive_amount, condition: "record.amount > 0.0" }
    sinks:
      - id: out
        input: valid
        kafka: { topic: ${output} }
      - id: dead
        input: dead-letter
        kafka: { topic: ${dead} }
`,
      messages: [
        { partition: 0, key: "k1", value: JSON.stringify({ id: 1, amount: 10.5 }) },
        { partition: 0, key: "k2", value: "{not json" },
        { partition: 1, key: "k3", value: JSON.stringify({ id: 3, amount: -2.0 }) },
        { partition: 1, key: "k4", value: JSON.stringify({ id: 4, amount: 7.0 }) },
      ],
      deadLetters: 2,
      outputs: 2,
    });
    expect(out.map((m) => (JSON.parse(String(m.message.value)) as { id: number }).id).sort()).toEqual([1, 4]);
    // The Kafka key is the record's key: it reaches the output as its key.
    expect(out.map((m) => String(m.message.key)).sort()).toEqual(["k1", "k4"]);
    expect([...byKey.keys()].sort()).toEqual(["k2", "k3"]);
    // Not JSON: the source rejected it.
    expect(String(byKey.get("k2")?.value)).toBe("{not json");
    expect(header("k2", "runnel.operator")).toBe(`source:${input}`);
    expect(header("k2", "runnel.source.offset")).toBe("1");
    expect(header("k2", "runnel.error")).toMatch(/JSON/);
    // Rejected by the clean rule: original bytes, the step and its rule.
    expect(JSON.parse(String(byKey.get("k3")?.value))).toEqual({ id: 3, amount: -2.0 });
    expect(header("k3", "runnel.operator")).toBe("valid");
    expect(header("k3", "runnel.error.class")).toBe("non_positive_amount");
    expect(header("k3", "runnel.source.topic")).toBe(input);
    expect(header("k3", "runnel.source.partition")).toBe("1");
    expect(header("k3", "runnel.source.offset")).toBe("0");
    expect(poisoned).toBe(1);
  });

  it("dead-letters records whose event time is missing or whose fields break the declared types, by the same source check as local runs", async () => {
    const t = Date.UTC(2026, 0, 1);
    const { input, out, byKey, header } = await runJob({
      prefix: "dlt",
      partitions: 1,
      pipeline: ({ input, output, dead }) => `    sources:
      - id: clicks
        kafka: { topic: ${input}, partitions: 1 }
        timestamp: { field: ts }
        fields: { user: string, ts: int }
    steps:
      - id: known
        input: clicks
        filter: { condition: "record.user != 'nobody'" }
    sinks:
      - id: out
        input: known
        kafka: { topic: ${output} }
      - id: dead
        input: dead-letter
        kafka: { topic: ${dead} }
`,
      messages: [
        { key: "ok1", value: JSON.stringify({ user: "a", ts: t }) },
        { key: "no-time", value: JSON.stringify({ user: "a" }) },
        { key: "bad-time", value: JSON.stringify({ user: "a", ts: "noon" }) },
        { key: "bad-user", value: JSON.stringify({ user: 123, ts: t + 1 }) },
        { key: "ok2", value: JSON.stringify({ user: "b", ts: t + 2 }) },
      ],
      deadLetters: 3,
      outputs: 2,
    });
    expect(out.map((m) => String(m.message.key)).sort()).toEqual(["ok1", "ok2"]);
    expect([...byKey.keys()].sort()).toEqual(["bad-time", "bad-user", "no-time"]);
    expect(header("no-time", "runnel.error.class")).toBe("event-time");
    expect(header("no-time", "runnel.error")).toBe('event-time field "ts" is missing');
    expect(header("bad-time", "runnel.error.class")).toBe("field-type");
    expect(header("bad-user", "runnel.error")).toBe('field "user" is 123, not string');
    for (const key of byKey.keys()) {
      expect(header(key, "runnel.operator")).toBe("clicks");
      expect(header(key, "runnel.source.topic")).toBe(input);
    }
    // The original bytes, as they came.
    expect(JSON.parse(String(byKey.get("bad-user")?.value))).toEqual({ user: 123, ts: t + 1 });
  });
});
