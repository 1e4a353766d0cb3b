/**
 * The dead-letter topic: records Runnel cannot parse (or, later, process) are written there with
 * their original key and value bytes, and headers that say what went wrong and where they came
 * from, so nothing bad is silently lost and a user can inspect or replay it. Dead letters are
 * buffered and `drain()` sends them as one ordered batch; the source drains before its position
 * moves past a dead letter, so each is written at least once, in source order.
 */
import { createKafkaClient, type KafkaConnection, type KafkaHeaders, type KafkaProducer, type OutgoingMessage } from "../../kafka/index.ts";
import type { KafkaMessageIn } from "./source.ts";

/** Header names on dead letters. */
export const DEAD_LETTER_HEADERS = {
  error: "runnel.error",
  errorClass: "runnel.error.class",
  topic: "runnel.source.topic",
  partition: "runnel.source.partition",
  offset: "runnel.source.offset",
  operator: "runnel.operator",
  timestamp: "runnel.source.timestamp",
} as const;

/** A dead-letter queue on a Kafka topic. */
export interface DeadLetterQueue {
  /** Queues a record that failed at `operator` (e.g. "source:orders"). */
  add(message: KafkaMessageIn, error: unknown, operator: string): void;
  /** Sends every queued dead letter in one batch and resolves once acknowledged; fails if it could not be written. */
  drain(): Promise<void>;
  /** Dead letters written (acknowledged) so far. */
  readonly count: number;
  /** Drains and disconnects. */
  close(): Promise<void>;
}

/** Builds the headers of a dead letter: the original headers plus the reason and the origin. */
export function deadLetterHeaders(message: KafkaMessageIn, error: unknown, operator: string): KafkaHeaders {
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    ...message.headers,
    [DEAD_LETTER_HEADERS.error]: err.message,
    [DEAD_LETTER_HEADERS.errorClass]: err.name,
    [DEAD_LETTER_HEADERS.topic]: message.topic,
    [DEAD_LETTER_HEADERS.partition]: String(message.partition),
    [DEAD_LETTER_HEADERS.offset]: String(message.offset),
    [DEAD_LETTER_HEADERS.operator]: operator,
    [DEAD_LETTER_HEADERS.timestamp]: String(message.timestamp),
  };
}

/** Creates a dead-letter queue writing to `topic` with an idempotent producer. */
export async function createDeadLetterQueue(options: { connection: KafkaConnection; topic: string }): Promise<DeadLetterQueue> {
  const kafka = createKafkaClient({ clientId: "runnel-dead-letters", ...options.connection });
  const producer: KafkaProducer = kafka.producer();
  await producer.connect();
  return deadLetterQueueOn(producer, options.topic);
}

/** A dead-letter queue sending through a connected `producer` (disconnected by close()). */
export function deadLetterQueueOn(producer: KafkaProducer, topic: string): DeadLetterQueue {
  let queued: OutgoingMessage[] = [];
  let count = 0;
  const sendQueued = async (): Promise<void> => {
    if (queued.length === 0) return;
    // The batch leaves the queue before the send: dead letters queued while it is in flight go to
    // a fresh array, never into (or out with) a batch the producer may already have encoded.
    const messages = queued;
    queued = [];
    try {
      await producer.send(topic, messages);
    } catch (err) {
      // Sent again by the next drain, ahead of those queued meanwhile (source order).
      queued = [...messages, ...queued];
      throw err;
    }
    count += messages.length;
  };
  // Partitions are read concurrently: drains run one after another, so no batch is sent twice
  // and each drain covers everything queued before it was called.
  let last: Promise<void> = Promise.resolve();
  const queue: DeadLetterQueue = {
    add(message, error, operator) {
      queued.push({ key: message.key, value: message.value, headers: deadLetterHeaders(message, error, operator) });
    },
    drain() {
      const next = last.then(sendQueued);
      last = next.catch(() => undefined);
      return next;
    },
    get count() {
      return count;
    },
    async close() {
      await queue.drain();
      await producer.disconnect();
    },
  };
  return queue;
}
