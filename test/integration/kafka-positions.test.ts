// The Kafka source owns its positions absolutely (real broker, faults injected through the
// adapter's partition consumer): after kafkajs crashes and restarts its consumer it resumes at
// the positions it had, with its paused partitions still paused; when kafkajs fetches from past
// a position the fetch is dropped and the partition sought back (no gap); a consumer kafkajs
// gives up on fails the read instead of going silent; and records retention deleted before they
// were read are counted and skipped rather than re-fetched forever. Every test checks the exact
// sequence of records per partition: none twice, none missing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafkaSource, type KafkaSource } from "../../runtime/connectors/kafka/index.ts";
import type { SourceReader } from "../../runtime/connectors/types.ts";
import { ConnectorError } from "../../runtime/errors.ts";
import type { PartitionConsumer } from "../../runtime/kafka/index.ts";
import { createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { testEnv, uniqueName } from "../helpers/env.ts";

interface Item {
  p: number;
  i: number;
}

describe("Kafka source positions through consumer faults (real broker)", () => {
  const k = kafkaAdminHooks();
  const opened: SourceReader<Item>[] = [];
  let connection: { brokers: string[] };

  beforeAll(() => {
    connection = { brokers: testEnv().kafkaBrokers };
  });
  afterAll(async () => {
    for (const r of opened) await r.close().catch(() => undefined);
  });

  /** Writes items i = from..from+count-1 to `partition`. */
  async function produce(topic: string, partition: number, from: number, count: number): Promise<void> {
    const producer = inputProducer(k.kafka);
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: count }, (_, j) => ({ partition, value: JSON.stringify({ p: partition, i: from + j }) })) });
    await producer.disconnect();
  }

  async function source(topic: string, maxBuffered = 20_000): Promise<KafkaSource<Item>> {
    return createKafkaSource<Item>({ connection, topic, readerGroup: uniqueName("reader"), maxBuffered });
  }

  async function open(src: KafkaSource<Item>, partition: number, position?: number): Promise<SourceReader<Item>> {
    const r = await src.open(partition, position);
    opened.push(r);
    return r;
  }

  /** Reads until `until()` holds, polling every partition; fails with what it has after the deadline. */
  async function readUntil(readers: Map<number, SourceReader<Item>>, got: Map<number, number[]>, until: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!until()) {
      if (Date.now() > deadline) throw new Error(`not done after ${timeoutMs} ms: ${JSON.stringify([...got].map(([p, l]) => [p, l.length]))}`);
      let any = false;
      for (const [p, r] of readers) {
        const { records } = await r.read(200);
        if (records.length > 0) any = true;
        for (const item of records) (got.get(p) ?? got.set(p, []).get(p))?.push(item.i);
      }
      if (!any) await new Promise((res) => setTimeout(res, 20));
    }
  }

  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, j) => from + j);
  const consumerOf = (src: KafkaSource<Item>): PartitionConsumer => {
    if (!src.consumer) throw new Error("the source has not started reading");
    return src.consumer;
  };

  it("resumes at its positions after kafkajs restarts the consumer, with paused partitions still paused", async () => {
    const topic = uniqueName("positions-crash");
    await createTopics(k.admin, [topic], 2);
    await produce(topic, 0, 0, 600);
    await produce(topic, 1, 0, 300);
    const src = await source(topic, 100);
    const readers = new Map([
      [0, await open(src, 0)],
      [1, await open(src, 1)],
    ]);
    const got = new Map<number, number[]>();
    // Read partition 1 only: partition 0 fills its 100-record buffer and is paused.
    await readUntil(new Map([[1, readers.get(1) as SourceReader<Item>]]), got, () => (got.get(1)?.length ?? 0) >= 300);
    const consumer = consumerOf(src);
    expect(consumer.pausedInClient()).toEqual([0]);
    expect(consumer.stats.joins).toBe(1);
    // The next fetch with records (partition 1's new ones) crashes the consumer; kafkajs restarts it.
    consumer.faults.crash();
    await produce(topic, 1, 300, 300);
    await readUntil(new Map([[1, readers.get(1) as SourceReader<Item>]]), got, () => consumer.stats.joins >= 2 && (got.get(1)?.length ?? 0) >= 600);
    expect(consumer.stats.crashes).toBe(1);
    // A new group session forgot kafkajs's pauses; the consumer re-applied its own.
    expect(consumer.pausedInClient()).toEqual([0]);
    await readUntil(readers, got, () => (got.get(0)?.length ?? 0) >= 600);
    // A few more reads: a consumer that re-read from the start would deliver more now.
    await produce(topic, 0, 600, 1);
    await readUntil(readers, got, () => (got.get(0)?.length ?? 0) >= 601);
    expect(got.get(0)).toEqual(range(0, 601));
    expect(got.get(1)).toEqual(range(0, 600));
  });

  it("seeks back when kafkajs fetches from past its position, so nothing is skipped", async () => {
    const topic = uniqueName("positions-gap");
    await createTopics(k.admin, [topic], 1);
    await produce(topic, 0, 0, 500);
    const src = await source(topic, 50);
    const reader = await open(src, 0, 100);
    const got = new Map<number, number[]>([[0, (await reader.read(1)).records.map((r) => r.i)]]);
    // The first fetch fills the buffer and pauses the partition: nothing is fetched meanwhile.
    const consumer = consumerOf(src);
    for (const deadline = Date.now() + 30_000; consumer.pausedInClient().length === 0;) {
      if (Date.now() > deadline) throw new Error("the partition was never paused");
      await new Promise((res) => setTimeout(res, 20));
    }
    await produce(topic, 0, 500, 500);
    // As if a reset or a lost seek moved kafkajs ahead: its next fetch starts 150 records later.
    consumer.faults.displace(0, consumer.through(0) + 150);
    await readUntil(new Map([[0, reader]]), got, () => (got.get(0)?.length ?? 0) >= 900);
    expect(consumer.stats.reseeks).toBeGreaterThanOrEqual(1);
    expect(got.get(0)).toEqual(range(100, 1000));
  });

  it("fails the read when kafkajs gives up on its consumer, instead of going silent", async () => {
    const topic = uniqueName("positions-final");
    await createTopics(k.admin, [topic], 1);
    await produce(topic, 0, 0, 10);
    const src = await source(topic);
    const reader = await open(src, 0);
    const got = new Map<number, number[]>();
    await readUntil(new Map([[0, reader]]), got, () => (got.get(0)?.length ?? 0) >= 10);
    consumerOf(src).faults.crash({ final: true });
    await produce(topic, 0, 10, 10);
    const failure = await (async () => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        try {
          await reader.read(100);
        } catch (err) {
          return err;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(ConnectorError);
    expect((failure as ConnectorError).retriable).toBe(true);
    expect((failure as ConnectorError).message).toContain("the consumer stopped");
  });

  it("counts and skips records that retention deleted before they were read", async () => {
    const topic = uniqueName("positions-lost");
    await createTopics(k.admin, [topic], 1);
    await produce(topic, 0, 0, 100);
    const src = await source(topic);
    const reader = await open(src, 0, 0);
    await k.admin.fetchTopicMetadata({ topics: [topic] }); // kafkajs finds the leader in loaded metadata
    await k.admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "40" }] });
    const got = new Map<number, number[]>();
    await readUntil(new Map([[0, reader]]), got, () => (got.get(0)?.length ?? 0) >= 60);
    expect(got.get(0)).toEqual(range(40, 100));
    expect(consumerOf(src).stats.lost).toBe(40);
    expect(reader.position()).toBe(100);
  });
});
