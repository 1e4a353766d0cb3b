// The Kafka adapter's transactions, retries and exported reader against the real broker: a
// transaction the broker aborts for outliving its timeout fails retriably while a newer producer
// with the same id fences for good (and connecting is what fences); a timeout the brokers'
// transaction.max.timeout.ms cannot cover is refused with the settings to change; a topic that
// appears while a source starts is waited for (UNKNOWN_TOPIC_OR_PARTITION is retried); and
// `readCommitted` gives a Node consumer exactly the committed records and publishes its
// positions to its consumer group.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafkaSource } from "../../runtime/connectors/kafka/index.ts";
import { transactionTimeoutFor } from "../../runtime/distributed/transactions.ts";
import { ConnectorError, FencedError } from "../../runtime/errors.ts";
import { createKafkaClient, readCommitted, type KafkaAdmin, type KafkaClient, type KafkaRecord, type PartitionConsumer } from "../../runtime/kafka/index.ts";
import { createTopics, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testEnv, uniqueName } from "../helpers/env.ts";
import { waitFor } from "../helpers/wait.ts";

describe("Kafka adapter (real broker)", () => {
  const k = kafkaAdminHooks();
  let client: KafkaClient;
  let admin: KafkaAdmin;

  beforeAll(async () => {
    client = createKafkaClient({ brokers: testEnv().kafkaBrokers, clientId: "adapter-test" }, { logLevel: "error" });
    admin = client.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  /** Polls until `done()` (observable state); an error (a coordinator still loading) is retried until the deadline, then reported. */
  function until(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<true> {
    return waitFor(what, async () => (await done()) || undefined, { timeoutMs, intervalMs: 100 });
  }

  /** A read_committed partition consumer of partition 0 that collects what it is given. */
  async function watch(topic: string): Promise<{ consumer: PartitionConsumer; records: KafkaRecord[] }> {
    const records: KafkaRecord[] = [];
    const consumer = client.partitionConsumer({
      topic,
      group: uniqueName("watch"),
      onRecords: (_p, r) => void records.push(...r),
      onFailure: (err) => {
        throw err;
      },
    });
    await consumer.start(new Map([[0, 0]]));
    return { consumer, records };
  }

  it("classes a transaction the broker aborted for outliving its timeout as retriable, not fenced", async () => {
    const topic = uniqueName("tx-timeout");
    await createTopics(k.admin, [topic], 1);
    const producer = client.transactionalProducer({ transactionalId: uniqueName("tx"), transactionTimeoutMs: 1_000 });
    await producer.connect();
    await producer.send(topic, [{ value: "left open" }]);
    // The broker's abort marker follows the record once it expired the transaction.
    const { consumer, records } = await watch(topic);
    try {
      await until("the broker aborts the expired transaction", () => consumer.through(0) >= 2);
      expect(records).toEqual([]);
      const err = await producer.commit().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectorError);
      expect(err).not.toBeInstanceOf(FencedError);
      expect((err as ConnectorError).retriable).toBe(true);
      expect((err as ConnectorError).errorClass).toBe("transient");
      expect((err as ConnectorError).message).toContain("past its 1 s timeout");
    } finally {
      await consumer.stop();
      await producer.disconnect();
    }
  });

  it("fences the older producer when a newer one with the same id connects", async () => {
    const topic = uniqueName("tx-fence");
    await createTopics(k.admin, [topic], 1);
    const id = uniqueName("tx");
    const older = client.transactionalProducer({ transactionalId: id, transactionTimeoutMs: 60_000 });
    await older.connect();
    await older.send(topic, [{ value: "zombie" }]);
    const newer = client.transactionalProducer({ transactionalId: id, transactionTimeoutMs: 60_000 });
    await newer.connect(); // nothing sent yet: connecting alone fences
    const err = await older.commit().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FencedError);
    expect((err as FencedError).errorClass).toBe("fenced");
    await newer.send(topic, [{ value: "kept" }]);
    await newer.commit();
    const { consumer, records } = await watch(topic);
    try {
      await until("the newer producer's record is read", () => records.length >= 1);
      expect(records.map((r) => String(r.value))).toEqual(["kept"]);
    } finally {
      await consumer.stop();
      await newer.disconnect();
      await older.disconnect();
    }
  });

  it("derives the transaction timeout from the checkpoint settings within the brokers' limit, and refuses what exceeds it", async () => {
    expect(await admin.brokerConfig("transaction.max.timeout.ms")).toBe("900000");
    expect(await transactionTimeoutFor(admin, 5_000, 60_000)).toBe(130_000);
    // Needs 8 min, asks for 16, gets the brokers' 15.
    expect(await transactionTimeoutFor(admin, 7 * 60_000, 60_000)).toBe(900_000);
    const refused = await transactionTimeoutFor(admin, 20 * 60_000, 60_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ConnectorError);
    expect((refused as ConnectorError).errorClass).toBe("configuration");
    expect((refused as ConnectorError).message).toMatch(/spec\.checkpoint\.interval \(20m\).*transaction\.max\.timeout\.ms = 15m/);
    // The broker itself refuses a producer asking for more than it allows: a configuration error at connect.
    const tooLong = client.transactionalProducer({ transactionalId: uniqueName("tx"), transactionTimeoutMs: 3_600_000 });
    const err = await tooLong.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    await tooLong.disconnect();
    expect((err as ConnectorError).errorClass).toBe("configuration");
    expect((err as ConnectorError).message).toContain("transaction.max.timeout.ms");
  });

  it("waits for a topic that appears while a source starts (UNKNOWN_TOPIC_OR_PARTITION is retried)", async () => {
    const topic = uniqueName("late-topic");
    const starting = createKafkaSource({ connection: { brokers: testEnv().kafkaBrokers }, topic, readerGroup: uniqueName("reader") });
    // Created after kafkajs's own few retries (about 10 s) would have given up.
    await new Promise((r) => setTimeout(r, 12_000));
    await createTopics(k.admin, [topic], 3);
    const source = await starting;
    expect(source.partitions).toBe(3);
  });

  it("reads a transactional topic committed with readCommitted, and publishes the positions to the group", async () => {
    const topic = uniqueName("committed-reader");
    const group = uniqueName("downstream");
    await createTopics(k.admin, [topic], 2);
    // Two producers interleave on both partitions; one aborts.
    const a = client.transactionalProducer({ transactionalId: uniqueName("a"), transactionTimeoutMs: 60_000 });
    const b = client.transactionalProducer({ transactionalId: uniqueName("b"), transactionTimeoutMs: 60_000 });
    await a.connect();
    await b.connect();
    for (let i = 0; i < 20; i++) {
      await a.send(topic, [{ value: `a${i}`, partition: i % 2 }]);
      await b.send(topic, [{ value: `b${i}`, partition: i % 2 }]);
    }
    await b.abort();
    await a.commit();
    await a.disconnect();
    await b.disconnect();
    const seen: string[] = [];
    const reader = await readCommitted({
      brokers: testEnv().kafkaBrokers,
      topic,
      groupId: group,
      eachBatch: (records) => void seen.push(...records.map((r) => String(r.value))),
    });
    try {
      await until("every committed record is read", () => seen.length >= 20);
      const ends = await admin.offsets(topic);
      // Positions reach the end offsets (past the markers) and the group shows them to lag tools.
      await until("the group's offsets reach the end", async () => {
        const committed = await admin.groupOffsets(group, topic);
        return ends.every((e) => committed.get(e.partition) === e.high);
      });
    } finally {
      await reader.stop();
    }
    expect(seen.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`).sort());
  });
});
