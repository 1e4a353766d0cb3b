// Smoke test: kafkajs against the real Kafka 4.x broker of test/env. Proves the client and broker
// agree on everything the runtime's exactly-once design relies on.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Admin, Kafka } from "kafkajs";
import { consumeAll, createTopics, kafkaClient } from "../helpers/kafka.ts";
import { uniqueName } from "../helpers/env.ts";
import { readCommittedWithJava } from "../helpers/java-consumer.ts";

describe("kafka broker (real, KRaft)", () => {
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  it("creates topics and describes them", async () => {
    const topic = uniqueName("smoke-create");
    await createTopics(admin, [topic], 3);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(3);
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic }] });
    expect(configs.resources[0]?.configEntries.some((e) => e.configName === "cleanup.policy")).toBe(true);
  });

  it("produces, and a consumer group joins, reads and commits its offsets", async () => {
    const topic = uniqueName("smoke-group");
    const groupId = uniqueName("group");
    await createTopics(admin, [topic], 2);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            seen.push(message.value?.toString() ?? "");
            await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            if (seen.length === 10) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    expect(seen.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`).sort());

    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const total = committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(total).toBe(10);
  });

  it("commits output and input offsets in one transaction (sendOffsets)", async () => {
    const input = uniqueName("smoke-tx-in");
    const output = uniqueName("smoke-tx-out");
    const groupId = uniqueName("tx-group");
    await createTopics(admin, [input, output]);
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic: input, messages: [{ value: "a" }, { value: "b" }, { value: "c" }] });
    await plain.disconnect();

    const producer = kafka.producer({ transactionalId: uniqueName("tx"), maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic: output, messages: [{ value: "A" }, { value: "B" }, { value: "C" }] });
    await tx.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: "3" }] }] });
    await tx.commit();
    await producer.disconnect();

    // The commit markers reach __consumer_offsets just after commit() returns, and kafkajs's
    // OffsetFetch predates require_stable, so the committed offset appears a moment later.
    await vi.waitFor(
      async () => {
        const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
        expect(offsets[0]?.partitions[0]?.offset).toBe("3");
      },
      { timeout: 10_000, interval: 100 },
    );
    const out = await consumeAll(kafka, output, { count: 3 });
    expect(out.map((r) => r.message.value?.toString())).toEqual(["A", "B", "C"]);
  });

  it("shows a read_committed consumer committed records only, never aborted ones", async () => {
    const topic = uniqueName("smoke-isolation");
    await createTopics(admin, [topic]);
    const producer = kafka.producer({ transactionalId: uniqueName("tx-iso"), maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    for (const [batch, outcome] of [
      ["one", "commit"],
      ["two", "abort"],
      ["three", "commit"],
    ] as const) {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ value: `${batch}-1` }, { value: `${batch}-2` }] });
      await (outcome === "commit" ? tx.commit() : tx.abort());
    }
    await producer.disconnect();

    const committed = await consumeAll(kafka, topic, { idleMs: 2_000 });
    expect(committed.map((r) => r.message.value?.toString())).toEqual(["one-1", "one-2", "three-1", "three-2"]);
    // The aborted records are really in the log: a read_uncommitted reader sees them.
    const everything = await consumeAll(kafka, topic, { readUncommitted: true, idleMs: 2_000 });
    expect(everything.map((r) => r.message.value?.toString())).toContain("two-1");
  });

  it("reads committed records only with Kafka's own Java consumer (the independent check of exactly-once tests)", async () => {
    const topic = uniqueName("smoke-java-rc");
    await createTopics(admin, [topic], 2);
    const producer = kafka.producer({ transactionalId: uniqueName("tx-java"), maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    let tx = await producer.transaction();
    await tx.send({
      topic,
      messages: [
        { key: "a", value: '{"n":1}', partition: 0 },
        { key: "b", value: "tab\there\nand a newline", partition: 1 },
      ],
    });
    await tx.commit();
    tx = await producer.transaction();
    await tx.send({ topic, messages: [{ key: "c", value: "aborted", partition: 0 }] });
    await tx.abort();
    tx = await producer.transaction();
    await tx.send({ topic, messages: [{ value: "3", partition: 0 }] });
    await tx.commit();
    await producer.disconnect();

    const records = await readCommittedWithJava(topic, { idleMs: 5_000 });
    const seen = records.sort((x, y) => x.partition - y.partition || x.offset - y.offset).map((r) => [r.partition, r.key, r.value]);
    expect(seen).toEqual([
      [0, "a", '{"n":1}'],
      [0, null, "3"],
      [1, "b", "tab\there\nand a newline"],
    ]);
  });
});
