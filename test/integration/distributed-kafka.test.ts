// What a distributed job leaves on the Kafka cluster (real broker): an at-least-once job commits
// its input positions to the job's consumer group as an exactly-once job does, so lag tools see
// it; repartition topics have no time-based retention and are purged below the positions a
// checkpoint committed; Kafka sinks stamp records with their event time unless asked for
// processing time; and a checkpoint interval the brokers' transaction limit cannot cover is
// refused at start with the settings to change.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorker, type Worker } from "../../runtime/distributed/worker.ts";
import { generationPrefix, jobPrefix, repartitionTopic } from "../../runtime/distributed/topics.ts";
import { ConnectorError } from "../../runtime/errors.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testJobName, writeJobManifest } from "../helpers/distributed.ts";
import { waitFor } from "../helpers/wait.ts";

const T0 = Date.UTC(2026, 0, 1);

describe("distributed jobs on the Kafka cluster (real broker)", () => {
  const k = kafkaAdminHooks();

  /** Writes `count` clicks (user u0..u9, event time T0 + i s) round-robin over `partitions`. */
  async function produceClicks(topic: string, count: number, partitions: number): Promise<void> {
    const producer = inputProducer(k.kafka);
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: count }, (_, i) => ({
        partition: i % partitions,
        value: JSON.stringify({ user: `u${i % 10}`, ts: T0 + i * 1000, n: i }),
      })),
    });
    await producer.disconnect();
  }

  /** A 2-partition job reading the clicks of `input`; `rest` holds its steps and sinks. */
  function clicksJob(name: string, input: string, rest: string): { dir: string; manifest: string } {
    return writeJobManifest(name, {
      parallelism: 2,
      pipeline: `    sources:
      - id: clicks
        kafka: { topic: ${input}, partitions: 2 }
        timestamp: { field: ts }
${rest}`,
    });
  }

  /** Polls until `done()` (observable state); an error (a coordinator still loading) is retried until the deadline, then reported. */
  function until(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<true> {
    return waitFor(what, async () => (await done()) || undefined, { timeoutMs, intervalMs: 200 });
  }

  async function runWhile(worker: Worker, body: () => Promise<void>): Promise<void> {
    const run = worker.run();
    try {
      await body();
    } finally {
      worker.stop();
      await run;
    }
  }

  it("commits an at-least-once job's input positions to the job's consumer group", async () => {
    const name = testJobName("alo");
    const [input, output] = [`${name}-in`, `${name}-out`];
    await createTopics(k.admin, [input, output], 2);
    await produceClicks(input, 200, 2);
    const { dir, manifest } = clicksJob(
      name,
      input,
      `    steps:
      - id: even
        input: clicks
        filter: { condition: "int(record.n) % 2 == 0" }
    sinks:
      - id: out
        input: even
        kafka: { topic: ${output} }
`,
    );
    const worker = await createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "w0"), delivery: "at-least-once" });
    await runWhile(worker, async () => {
      // What `kafka-consumer-groups.sh --describe --group <job prefix>` reads.
      await until("the job group's offsets reach the end of the input", async () => {
        const offsets = await k.admin.fetchOffsets({ groupId: jobPrefix("test", name), topics: [input] });
        return offsets[0]?.partitions.every((p) => p.offset === "100") ?? false;
      });
    });
    expect((await consumeAll(k.kafka, output, { count: 100 })).length).toBe(100);
  });

  it("keeps repartition records until read, purges them once a checkpoint covers them, and stamps outputs as asked", async () => {
    const name = testJobName("purge");
    const [input, eventOut, processingOut] = [`${name}-in`, `${name}-ev`, `${name}-pt`];
    await createTopics(k.admin, [input, eventOut, processingOut], 2);
    // The repartition topic exists already with the broker's default retention (made by an older version).
    const repartition = repartitionTopic(generationPrefix(jobPrefix("test", name), "g0"), "counts.in0");
    await createTopics(k.admin, [repartition], 2);
    await produceClicks(input, 400, 2);
    const started = Date.now();
    const { dir, manifest } = clicksJob(
      name,
      input,
      `    steps:
      - id: by-user
        input: clicks
        keyBy: { key: record.user }
      - id: counts
        input: by-user
        window:
          type: tumbling
          size: 1m
          aggregations: [{ name: events, fn: count }]
    sinks:
      - id: event-time
        input: counts
        kafka: { topic: ${eventOut} }
      - id: processing-time
        input: counts
        kafka: { topic: ${processingOut}, timestamps: processing-time }
`,
    );
    const worker = await createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "w0") });
    expect(worker.plan.topics.map((t) => t.topic)).toEqual([repartition]);
    const configs = await k.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: repartition }] });
    const config = (n: string): string | undefined => configs.resources[0]?.configEntries.find((e) => e.configName === n)?.configValue;
    expect(config("retention.ms")).toBe("-1");
    expect(config("cleanup.policy")).toBe("delete");
    await runWhile(worker, async () => {
      // 400 records went through the repartition topic; once a checkpoint committed positions past
      // them, the log start offsets move up (records below are deleted), never past what was written.
      await until("the consumed repartition records are purged", async () => {
        const offsets = await k.admin.fetchTopicOffsets(repartition);
        return offsets.every((p) => Number(p.low) > 0);
      });
      const offsets = await k.admin.fetchTopicOffsets(repartition);
      for (const p of offsets) expect(Number(p.low)).toBeLessThanOrEqual(Number(p.high));
      // 400 s of event time: windows [0, 1m) … [5m, 6m) closed for 10 users.
      await until("the windows are written", async () => (await consumeAll(k.kafka, processingOut, { idleMs: 1000 })).length >= 60);
    });
    const byEventTime = await consumeAll(k.kafka, eventOut, { idleMs: 1000 });
    const byProcessingTime = await consumeAll(k.kafka, processingOut, { idleMs: 1000 });
    expect(byEventTime.length).toBeGreaterThanOrEqual(60);
    // Event time: within the input's (old) event-time range. Processing time: written during the test.
    for (const r of byEventTime) expect(Number(r.message.timestamp)).toBeLessThan(T0 + 400_000);
    for (const r of byProcessingTime) expect(Number(r.message.timestamp)).toBeGreaterThanOrEqual(started);
  });

  it("refuses to start a job whose checkpoints need longer transactions than the brokers allow", async () => {
    const name = testJobName("txlimit");
    const [input, output] = [`${name}-in`, `${name}-out`];
    await createTopics(k.admin, [input, output], 1);
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 1,
      pipeline: `    sources:
      - id: clicks
        kafka: { topic: ${input}, partitions: 1 }
    sinks:
      - id: out
        input: clicks
        kafka: { topic: ${output} }
`,
    });
    const refused = await createWorker({
      manifest,
      ordinal: 0,
      workers: 1,
      namespace: "test",
      stateDir: join(dir, "w0"),
      checkpointIntervalMs: 20 * 60_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ConnectorError);
    expect((refused as ConnectorError).errorClass).toBe("configuration");
    expect((refused as ConnectorError).message).toContain("transaction.max.timeout.ms");
  });
});
