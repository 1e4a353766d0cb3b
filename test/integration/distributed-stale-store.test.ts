// A stale local store (real broker, real compaction): worker A runs the job and stops, leaving its
// store with a marker. Worker B (another store) takes the task over, fires the window A's store
// still holds and deletes its state; the changelog is then compacted until those deletions are
// gone too (tombstones removed). When A's store gets the task back, replaying from its old marker
// would bring the deleted window back (the next window would fire with A's two old records in it);
// the store must be recognised as stale and rebuilt. Checked with Kafka's Java consumer.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Partitioners, type Kafka } from "kafkajs";
import { createWorker, type Worker } from "../../runtime/distributed/worker.ts";
import { changelogTopic, generationPrefix, jobPrefix } from "../../runtime/distributed/topics.ts";
import { readCommittedWithJavaAtLeast } from "../helpers/java-consumer.ts";
import { consumeAll, createTopics, kafkaAdminHooks } from "../helpers/kafka.ts";
import { waitFor } from "../helpers/kube.ts";
import { CommittedRecords, testJobName, writeJobManifest } from "../helpers/distributed.ts";

describe("distributed workers: a stale local store after compaction (real broker)", () => {
  const k = kafkaAdminHooks();

  it("rebuilds a store whose changelog was written through another store and compacted since", async () => {
    const { kafka, admin } = k;
    const name = testJobName("stale");
    const [input, output] = [`${name}-in`, `${name}-out`];
    await createTopics(admin, [input, output], 1);
    // The job's changelog (of generation g1), compacting as eagerly as the broker allows (tombstones kept 0 ms).
    const changelog = changelogTopic(generationPrefix(jobPrefix("test", name), "g1"));
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: changelog,
          numPartitions: 1,
          configEntries: [
            { name: "cleanup.policy", value: "compact" },
            { name: "segment.ms", value: "1000" },
            { name: "min.cleanable.dirty.ratio", value: "0.01" },
            { name: "delete.retention.ms", value: "0" },
            { name: "min.compaction.lag.ms", value: "0" },
            { name: "max.message.bytes", value: String(64 * 1024 * 1024) },
          ],
        },
      ],
    });
    // Every three records of a user fire their window with the records' sequence numbers (all
    // records fall into one hour in the past: output timestamps are ones the broker accepts).
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 1,
      pipeline: `    sources:
      - id: in
        kafka: { topic: ${input}, partitions: 1 }
        timestamp: { field: ts }
    steps:
      - id: by-user
        input: in
        keyBy: { key: record.user }
      - id: threes
        input: by-user
        window:
          type: tumbling
          size: 1h
          trigger: { count: 3 }
          aggregations: [{ name: seqs, fn: collect, of: record.seq }]
    sinks:
      - id: out
        input: threes
        kafka: { topic: ${output} }
`,
    });
    const windows: number[][] = [];
    const reader = new CommittedRecords((v) => windows.push((JSON.parse(v) as { seqs: number[] }).seqs));
    await reader.start(output);
    const start = async (store: string): Promise<{ worker: Worker; run: Promise<unknown> }> => {
      const worker = await createWorker({
        manifest,
        ordinal: 0,
        workers: 1,
        namespace: "test",
        generation: "g1",
        stateDir: join(dir, store),
        checkpointIntervalMs: 200,
      });
      return { worker, run: worker.run() };
    };
    /** Waits until the worker read `count` records and committed a checkpoint after that. */
    const checkpointedAfter = async (w: Worker, count: number): Promise<void> => {
      await waitFor(`${count} records read`, () => w.engine.progress().recordsIn >= count, { timeoutMs: 60_000 });
      const done = w.checkpointStats.count;
      await waitFor("a checkpoint after them", () => w.checkpointStats.count > done, { timeoutMs: 60_000 });
    };
    try {
      // A: two records of u, the window's state in A's store and the changelog.
      const a = await start("store-a");
      await send(kafka, input, [1, 2]);
      await checkpointedAfter(a.worker, 2);
      a.worker.stop();
      await a.run;

      // B (another store): the third record fires [1, 2, 3] and deletes u's window state.
      const b = await start("store-b");
      await send(kafka, input, [3]);
      await waitFor("the first window", () => windows.length >= 1, { timeoutMs: 60_000 });
      // B keeps checkpointing (new segments) while the cleaner removes u's records and tombstones.
      await waitFor(
        "compaction to remove u's window state and its tombstones from the changelog",
        async () => {
          const records = await consumeAll(kafka, changelog, { readUncommitted: true, idleMs: 1500 });
          return records.length > 0 && !records.some((r) => String(r.message.key).includes("\u0000su"));
        },
        { timeoutMs: 360_000, intervalMs: 3000 },
      );
      b.worker.stop();
      await b.run;

      // A's store again: the next three records are a window of their own.
      const again = await start("store-a");
      await send(kafka, input, [4, 5, 6]);
      await waitFor("the second window", () => windows.length >= 2, { timeoutMs: 60_000 });
      await checkpointedAfter(again.worker, 3);
      again.worker.stop();
      await again.run;
    } finally {
      await reader.stop();
    }
    expect(windows).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const java = await readCommittedWithJavaAtLeast(output, 2);
    expect(java.map((r) => (JSON.parse(r.value) as { seqs: number[] }).seqs)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    // The broker's log cleaner runs every 15 s; removing tombstones takes it two passes.
  }, 480_000);
});

async function send(kafka: Kafka, topic: string, seqs: number[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const ts = Math.floor(Date.now() / 3600_000) * 3600_000 - 1800_000;
  await producer.send({ topic, messages: seqs.map((seq) => ({ partition: 0, value: JSON.stringify({ user: "u", seq, ts: ts + seq }) })) });
  await producer.disconnect();
}
