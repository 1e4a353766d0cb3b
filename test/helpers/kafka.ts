/**
 * Kafka helpers shared by tests: clients on the test broker, topics, and bounded consumption.
 * These use kafkajs directly, not the runtime's adapter (runtime/kafka/): tests write their input
 * and inspect the broker with a client that is not the one under test.
 */
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage, type Admin, type Producer } from "kafkajs";
import { afterAll, beforeAll } from "vitest";
import type { Engine } from "../../runtime/exec/engine.ts";
import { filterNegativeTimeoutWarning } from "../../runtime/kafka/index.ts";
import { testEnv, uniqueName } from "./env.ts";

/** A kafkajs client on the test environment's broker, quiet unless a test fails. */
export function kafkaClient(clientId = uniqueName("test")): Kafka {
  // kafkajs 2.2 sets negative timeouts, which Node 24 warns about on every test file (harmless).
  filterNegativeTimeoutWarning();
  return new Kafka({ clientId, brokers: testEnv().kafkaBrokers, logLevel: logLevel.ERROR, retry: { retries: 5 } });
}

/** For a describe block: a Kafka client and a connected admin, opened before its tests and closed after them. */
export function kafkaAdminHooks(): { readonly kafka: Kafka; readonly admin: Admin } {
  const ctx = {} as { kafka: Kafka; admin: Admin };
  beforeAll(async () => {
    ctx.kafka = kafkaClient();
    ctx.admin = ctx.kafka.admin();
    await ctx.admin.connect();
  });
  afterAll(async () => {
    await ctx.admin.disconnect();
  });
  return ctx;
}

/**
 * A producer for test input: idempotent, so a send the client retries never writes a record
 * twice — a topic created a moment ago answers "not the leader" for some partitions at first and
 * kafkajs re-sends the whole request, and on a busy machine a send can time out on the client
 * after the broker wrote it. Keyed records go to their murmur2 partition, as Runnel's keyBy
 * places them.
 */
export function inputProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
}

/** Creates topics with the given partition count and waits until they have leaders. */
export async function createTopics(admin: Admin, topics: string[], numPartitions = 1): Promise<void> {
  await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions, configEntries: KEEP_TEST_DATA })) });
}

/**
 * Topic configs of test topics: test data carries fixed event times long past, and sinks write
 * event time as the Kafka timestamp, so time-based retention would delete records at the
 * broker's next retention check — between a job's write and a test's read on a slow run.
 */
export const KEEP_TEST_DATA = [{ name: "retention.ms", value: "-1" }];

export interface Consumed {
  partition: number;
  message: KafkaMessage;
}

/**
 * Reads a topic from the beginning with a fresh group until `count` records arrived or
 * `idleMs` passed without one (then it returns what it has, so tests can assert "nothing more").
 */
export async function consumeAll(kafka: Kafka, topic: string, opts: { count?: number; readUncommitted?: boolean; idleMs?: number } = {}): Promise<Consumed[]> {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName("reader"), readUncommitted: opts.readUncommitted ?? false });
  const got: Consumed[] = [];
  const idleMs = opts.idleMs ?? 3_000;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      let idle = setTimeout(resolve, idleMs + 5_000); // the first fetch includes the group join
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            got.push({ partition, message });
            clearTimeout(idle);
            if (opts.count !== undefined && got.length >= opts.count) resolve();
            else idle = setTimeout(resolve, idleMs);
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** Runs an engine's rounds until `done()` or the deadline (a Kafka source never ends by itself). */
export async function roundsUntil(engine: Engine, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not done after ${timeoutMs} ms: ${JSON.stringify(engine.progress())}`);
    const moved = await engine.round();
    if (!moved) await new Promise((r) => setTimeout(r, 20));
  }
}
