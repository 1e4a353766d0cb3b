// Fewer tasks than before (real broker): an earlier generation of the job ran 4 tasks, this one
// runs 2. A straggler producer of the retired task 3 still holds an open transaction with output
// in it. Starting the job fences the transactional ids of tasks 2 and 3: the straggler's output
// is aborted (read_committed readers are not held up by it, and never see it), and its commit
// fails as fenced. Checked with Kafka's Java consumer in read_committed.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Partitioners } from "kafkajs";
import { createWorker } from "../../runtime/distributed/worker.ts";
import { jobPrefix } from "../../runtime/distributed/topics.ts";
import { readCommittedWithJavaAtLeast } from "../helpers/java-consumer.ts";
import { createTopics, kafkaAdminHooks } from "../helpers/kafka.ts";
import { waitFor } from "../helpers/kube.ts";
import { CommittedRecords, testJobName, writeJobManifest } from "../helpers/distributed.ts";

describe("distributed workers: transactional ids of retired tasks (real broker)", () => {
  const k = kafkaAdminHooks();

  it("fences the producers of tasks the job no longer has", async () => {
    const { kafka, admin } = k;
    const name = testJobName("retired");
    const [input, output] = [`${name}-in`, `${name}-out`];
    await createTopics(admin, [input], 2);
    await createTopics(admin, [output], 1);
    // An older generation's changelog tells how many tasks the job had.
    const prefix = jobPrefix("test", name);
    await createTopics(admin, [`${prefix}.g-old.changelog`], 4);
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 2,
      pipeline: `    sources:
      - id: in
        kafka: { topic: ${input}, partitions: 2 }
    steps:
      - id: tagged
        input: in
        map: { expression: '{"n": record.n, "by": "job"}' }
    sinks:
      - id: out
        input: tagged
        kafka: { topic: ${output} }
`,
    });
    // The straggler: task 3's producer of the old generation, mid-transaction.
    const straggler = kafka.producer({ transactionalId: `${prefix}.3`, maxInFlightRequests: 1, idempotent: true, transactionTimeout: 600_000 });
    await straggler.connect();
    const txn = await straggler.transaction();
    await txn.send({ topic: output, messages: [{ value: JSON.stringify({ n: -1, by: "straggler" }) }] });

    const worker = await createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "state") });
    const run = worker.run();
    const seen: { n: number; by: string }[] = [];
    const reader = new CommittedRecords((v) => seen.push(JSON.parse(v) as { n: number; by: string }));
    await reader.start(output);
    try {
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({ topic: input, messages: [0, 1, 2, 3].map((n) => ({ partition: n % 2, value: JSON.stringify({ n }) })) });
      await producer.disconnect();
      // Read committed output is not held up behind the straggler's open transaction.
      await waitFor("the job's output", () => seen.length >= 4, { timeoutMs: 60_000 });
      await expect(txn.commit()).rejects.toThrow(/fenced|epoch/i);
    } finally {
      await straggler.disconnect().catch(() => undefined);
      await reader.stop();
      worker.stop();
      await run;
    }
    const java = (await readCommittedWithJavaAtLeast(output, 4)).map((r) => JSON.parse(r.value) as { n: number; by: string });
    expect(java.map((r) => r.n).sort()).toEqual([0, 1, 2, 3]);
    expect(java.every((r) => r.by === "job")).toBe(true);
    expect(seen.map((r) => r.by)).toEqual(["job", "job", "job", "job"]);
  });
});
