// A worker's dead-letter topic (real broker): a message that is not JSON and a record a `clean`
// rule rejects both land there with their original bytes and headers naming the error, the
// operator and where they came from; the good records go on to the output, keyed as they came.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorker } from "../../runtime/distributed/worker.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testJobName, writeJobManifest } from "../helpers/distributed.ts";

describe("distributed worker: dead letters (real broker)", () => {
  const k = kafkaAdminHooks();

  it("writes unparseable and rejected records to the dead-letter topic with their origin", async () => {
    const { kafka, admin } = k;
    const name = testJobName("dl");
    const [input, output, dead] = [`${name}-in`, `${name}-out`, `${name}-dead`];
    await createTopics(admin, [input, output, dead], 2);
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 2,
      pipeline: `    sources:
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
    });
    const producer = inputProducer(kafka);
    await producer.connect();
    await producer.send({
      topic: input,
      messages: [
        { partition: 0, key: "k1", value: JSON.stringify({ id: 1, amount: 10.5 }) },
        { partition: 0, key: "k2", value: "{not json" },
        { partition: 1, key: "k3", value: JSON.stringify({ id: 3, amount: -2.0 }) },
        { partition: 1, key: "k4", value: JSON.stringify({ id: 4, amount: 7.0 }) },
      ],
    });
    await producer.disconnect();
    const worker = await createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "state") });
    const run = worker.run();
    try {
      const deadLetters = await consumeAll(kafka, dead, { count: 2, idleMs: 15_000 });
      const out = await consumeAll(kafka, output, { count: 2, idleMs: 3_000 });
      expect(out.map((m) => (JSON.parse(String(m.message.value)) as { id: number }).id).sort()).toEqual([1, 4]);
      // The Kafka key is the record's key: it reaches the output as its key.
      expect(out.map((m) => String(m.message.key)).sort()).toEqual(["k1", "k4"]);
      const byKey = new Map(deadLetters.map((d) => [String(d.message.key), d.message]));
      expect([...byKey.keys()].sort()).toEqual(["k2", "k3"]);
      const header = (key: string, h: string): string => String(byKey.get(key)?.headers?.[h]);
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
      expect(worker.poisoned()).toBe(1);
    } finally {
      worker.stop();
      await run;
    }
  });
});
