// The runtime's Kafka source and sink against the real broker: every partition reaches its task,
// keys land where keyBy routes them, positions survive a restart through a checkpoint, a reader
// owns exactly the partitions it opened, and poison messages are never silently lost.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Admin, Kafka } from "kafkajs";
import { job } from "../../runtime/api/index.ts";
import {
  createDeadLetterQueue,
  createKafkaSink,
  createKafkaSource,
  DEAD_LETTER_HEADERS,
  type KafkaConnection,
  type KafkaMessageIn,
} from "../../runtime/connectors/kafka/index.ts";
import { createEngine } from "../../runtime/exec/engine.ts";
import { taskOfKey } from "../../runtime/exec/hash.ts";
import { ConnectorError } from "../../runtime/errors.ts";
import { kafkaPositions } from "../../runtime/observe/engine-metrics.ts";
import { consumeAll, createTopics, inputProducer, kafkaClient, roundsUntil } from "../helpers/kafka.ts";
import { testEnv, uniqueName } from "../helpers/env.ts";

interface Order {
  user: string;
  n: number;
}

describe("Kafka source and sink (real broker)", () => {
  let kafka: Kafka;
  let admin: Admin;
  let connection: KafkaConnection;

  beforeAll(async () => {
    kafka = kafkaClient();
    admin = kafka.admin();
    await admin.connect();
    connection = { brokers: testEnv().kafkaBrokers };
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  async function produceOrders(topic: string, from: number, count: number): Promise<void> {
    const producer = inputProducer(kafka);
    await producer.connect();
    const messages = Array.from({ length: count }, (_, i) => {
      const n = from + i;
      return { key: `u${n % 16}`, value: JSON.stringify({ user: `u${n % 16}`, n }) };
    });
    await producer.send({ topic, messages });
    await producer.disconnect();
  }

  function doublingJob(input: Awaited<ReturnType<typeof createKafkaSource<Order>>>, output: string) {
    const j = job("kafka-doubling");
    j.source(input)
      .map((o: Order) => ({ ...o, doubled: o.n * 2 }))
      .sink(createKafkaSink({ connection, topic: output, key: (r) => r.user }));
    return j.build();
  }

  it("reads every partition into its task and writes each key to the partition keyBy routes it to", async () => {
    const [input, output] = [uniqueName("orders"), uniqueName("doubled")];
    await createTopics(admin, [input, output], 4);
    await produceOrders(input, 0, 400);
    const source = await createKafkaSource<Order>({ connection, topic: input, readerGroup: uniqueName("reader") });
    expect(source.partitions).toBe(4);
    const engine = createEngine({ graph: doublingJob(source, output), idleSleepMs: 0 });
    await engine.open();
    await roundsUntil(engine, () => engine.progress().recordsOut >= 400);
    await engine.close();

    const out = await consumeAll(kafka, output, { count: 400 });
    const values = out.map((r) => JSON.parse(r.message.value?.toString() ?? "null") as Order & { doubled: number });
    expect(values.map((v) => v.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(values.every((v) => v.doubled === v.n * 2)).toBe(true);
    // The producer's murmur2 partitioner and the runtime's keyBy routing agree.
    for (const r of out) expect(r.partition).toBe(taskOfKey(r.message.key?.toString() ?? "", 4));
  });

  it("resumes at the checkpointed positions after a restart: nothing read twice, nothing skipped", async () => {
    const [input, output] = [uniqueName("orders"), uniqueName("doubled")];
    await createTopics(admin, [input, output], 4);
    const checkpoints = mkdtempSync(join(tmpdir(), "runnel-kafka-cp-"));
    const readerGroup = uniqueName("reader");
    await produceOrders(input, 0, 100);

    const first = createEngine({
      graph: doublingJob(await createKafkaSource<Order>({ connection, topic: input, readerGroup }), output),
      idleSleepMs: 0,
      checkpoint: { dir: checkpoints, intervalMs: 3_600_000 },
    });
    await first.open();
    await roundsUntil(first, () => first.progress().recordsOut >= 100);
    await first.checkpoint();
    await first.close();

    await produceOrders(input, 100, 50);
    const second = createEngine({
      graph: doublingJob(await createKafkaSource<Order>({ connection, topic: input, readerGroup }), output),
      idleSleepMs: 0,
      checkpoint: { dir: checkpoints, intervalMs: 3_600_000 },
      restoreFrom: "latest",
    });
    await second.open();
    // Run until every partition's reader stands at the topic's end: a source that re-read from the
    // start would have emitted more than the 50 new records by then.
    const ends = new Map((await admin.fetchTopicOffsets(input)).map((o) => [o.partition, Number(o.high)]));
    const atEnd = () => {
      const positions = kafkaPositions(second.state).filter((p) => p.topic === input);
      return positions.length === ends.size && positions.every((p) => p.position === ends.get(p.partition));
    };
    await roundsUntil(second, () => second.progress().recordsOut >= 50 && atEnd());
    expect(second.progress().recordsOut).toBe(50);
    await second.close();

    const out = await consumeAll(kafka, output, { count: 150 });
    const ns = out.map((r) => (JSON.parse(r.message.value?.toString() ?? "null") as Order).n).sort((a, b) => a - b);
    expect(ns).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it("gives a reader exactly the partitions it opened (static assignment, no rebalancing)", async () => {
    const input = uniqueName("orders");
    await createTopics(admin, [input], 4);
    await produceOrders(input, 0, 200);
    // Worker 1 of 2 owns tasks 1 and 3.
    const source = await createKafkaSource<Order>({ connection, topic: input, readerGroup: uniqueName("worker-1") });
    const readers = [await source.open(1), await source.open(3)];
    const got: Order[] = [];
    const deadline = Date.now() + 30_000;
    const expected = (await consumeAll(kafka, input, { count: 200 })).filter((r) => r.partition === 1 || r.partition === 3).length;
    while (got.length < expected && Date.now() < deadline) {
      for (const r of readers) got.push(...(await r.read(1000)).records);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const r of readers) await r.close();
    expect(got).toHaveLength(expected);
    expect(new Set(got.map((o) => taskOfKey(o.user, 4)))).toEqual(new Set([1, 3]));
  });

  it("hands a message that cannot be parsed to the poison handler with its coordinates, and keeps going", async () => {
    const input = uniqueName("poison");
    await createTopics(admin, [input], 1);
    const producer = inputProducer(kafka);
    await producer.connect();
    await producer.send({ topic: input, messages: [{ value: '{"user":"a","n":1}' }, { value: "not json {" }, { value: '{"user":"b","n":2}' }] });
    await producer.disconnect();

    const poison: { offset: number; partition: number; raw: string; error: string }[] = [];
    const source = await createKafkaSource<Order>({
      connection,
      topic: input,
      readerGroup: uniqueName("reader"),
      onPoison: (m: KafkaMessageIn, err) => poison.push({ offset: m.offset, partition: m.partition, raw: m.value?.toString() ?? "", error: String(err) }),
    });
    const reader = await source.open(0);
    const got: Order[] = [];
    const deadline = Date.now() + 30_000;
    while (got.length < 2 && Date.now() < deadline) {
      got.push(...(await reader.read(100)).records);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(got.map((o) => o.n)).toEqual([1, 2]);
    expect(poison).toHaveLength(1);
    expect(poison[0]).toMatchObject({ offset: 1, partition: 0, raw: "not json {" });
    expect(poison[0]?.error).toContain("JSON");
    expect(reader.position()).toBe(3);
    await reader.close();
  });

  it("fails with the message's coordinates when no poison handler is set, instead of dropping it", async () => {
    const input = uniqueName("poison-strict");
    await createTopics(admin, [input], 1);
    const producer = inputProducer(kafka);
    await producer.connect();
    await producer.send({ topic: input, messages: [{ value: "garbage" }] });
    await producer.disconnect();
    const reader = await (await createKafkaSource<Order>({ connection, topic: input, readerGroup: uniqueName("reader") })).open(0);
    const deadline = Date.now() + 30_000;
    let error: unknown;
    while (error === undefined && Date.now() < deadline) {
      try {
        await reader.read(10);
        await new Promise((r) => setTimeout(r, 20));
      } catch (err) {
        error = err;
      }
    }
    await reader.close();
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as Error).message).toContain(`kafka:${input} partition 0 offset 0: cannot deserialize`);
  });

  it("writes unparseable messages to the dead-letter topic with their bytes, reason and origin, once", async () => {
    const [input, dlqTopic] = [uniqueName("events"), uniqueName("dead-letters")];
    await createTopics(admin, [input, dlqTopic], 1);
    const producer = inputProducer(kafka);
    await producer.connect();
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    await producer.send({
      topic: input,
      messages: [
        { key: "a", value: '{"user":"a","n":1}' },
        { key: "b", value: binary, headers: { trace: "t-1" } },
        { key: "c", value: '{"user":"c","n":3}' },
        { key: "d", value: "{truncated" }, // the last message: the position must move past it too
      ],
    });
    await producer.disconnect();

    const readerGroup = uniqueName("reader");
    const deadLetters = await createDeadLetterQueue({ connection, topic: dlqTopic });
    const reader = await (await createKafkaSource<Order>({ connection, topic: input, readerGroup, deadLetters })).open(0);
    const got: Order[] = [];
    const deadline = Date.now() + 30_000;
    while ((got.length < 2 || reader.position() !== 4) && Date.now() < deadline) {
      got.push(...(await reader.read(100)).records);
      await new Promise((r) => setTimeout(r, 20));
    }
    await reader.close();
    expect(got.map((o) => o.n)).toEqual([1, 3]); // the valid records around the bad ones are unaffected
    expect(reader.position()).toBe(4);
    expect(deadLetters.count).toBe(2);

    // Restarting at the position writes no dead letter twice.
    const again = await (await createKafkaSource<Order>({ connection, topic: input, readerGroup, deadLetters })).open(0, reader.position());
    for (let i = 0; i < 10; i++) {
      expect((await again.read(100)).records).toEqual([]);
      await new Promise((r) => setTimeout(r, 50));
    }
    await again.close();
    await deadLetters.close();
    expect(deadLetters.count).toBe(2);

    const letters = await consumeAll(kafka, dlqTopic, { count: 2 });
    expect(letters).toHaveLength(2);
    const [first, second] = letters.map((l) => l.message);
    const header = (m: typeof first, name: string) => m?.headers?.[name]?.toString();
    expect(first?.key?.toString()).toBe("b");
    expect(first?.value).toEqual(binary);
    expect(header(first, "trace")).toBe("t-1");
    expect(header(first, DEAD_LETTER_HEADERS.topic)).toBe(input);
    expect(header(first, DEAD_LETTER_HEADERS.partition)).toBe("0");
    expect(header(first, DEAD_LETTER_HEADERS.offset)).toBe("1");
    expect(header(first, DEAD_LETTER_HEADERS.operator)).toBe(`source:${input}`);
    expect(header(first, DEAD_LETTER_HEADERS.error)).toMatch(/JSON/);
    expect(header(first, DEAD_LETTER_HEADERS.errorClass)).toBe("SyntaxError");
    expect(second?.value?.toString()).toBe("{truncated");
    expect(header(second, DEAD_LETTER_HEADERS.offset)).toBe("3");
  });
});
