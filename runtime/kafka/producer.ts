/**
 * Producers of Runnel's Kafka adapter. Both are idempotent (a retried send never duplicates),
 * wait for every in-sync replica, and place a keyed record on its key's murmur2 partition as
 * Kafka's Java client and Runnel's keyBy do. The transactional producer carries a task's
 * checkpoint: everything sent between two commits becomes visible together, or never.
 *
 * Its errors are classified here, where Kafka's answers are understood: a newer producer with
 * the same transactional id (fenced: final), the broker aborting a transaction that outlived its
 * timeout (retriable: a restart begins a new one), a timeout above the broker's limit
 * (configuration). With the request versions kafkajs speaks, the broker answers the first two
 * alike (INVALID_PRODUCER_EPOCH); they are told apart by how long the transaction had been open.
 */
// Before kafkajs loads: its sends then group messages in linear time (send-patch.ts).
import "./send-patch.ts";
import { Partitioners, type Kafka, type Producer, type RecordMetadata, type Transaction } from "kafkajs";
import { ConnectorError, FencedError } from "../errors.ts";
import { rememberCoordinators } from "./coordinator-cache.ts";
import { GroupOffsetCommitter } from "./group-offsets.ts";
import { offsetsByTopic, type OutgoingMessage, type TopicOffsets } from "./messages.ts";
import { describeKafkaError, isRetriable, kafkaErrorType } from "./retry.ts";

/** First backoff of a transactional producer's retries (doubling from there). */
const TRANSACTION_RETRY_MS = 20;

/** Messages above this count go out in several produce requests. */
const CHUNK = 5000;
/**
 * Nor does one request carry more than this many bytes of keys, values and headers: a broker
 * refuses a record batch above its message.max.bytes (1 MiB by default), and one round of a job
 * emitting large records (ranked lists, profiles) easily holds more.
 */
const CHUNK_BYTES = 512 * 1024;

function size(v: Buffer | string | null | undefined): number {
  return v === null || v === undefined ? 0 : typeof v === "string" ? Buffer.byteLength(v) : v.length;
}

/** Splits messages into produce requests of at most CHUNK messages and CHUNK_BYTES bytes (a larger single message goes alone). */
export function chunkMessages(messages: OutgoingMessage[], maxCount = CHUNK, maxBytes = CHUNK_BYTES): OutgoingMessage[][] {
  const chunks: OutgoingMessage[][] = [];
  let chunk: OutgoingMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    let b = size(m.key) + size(m.value);
    for (const [k, v] of Object.entries(m.headers ?? {})) b += k.length + (Array.isArray(v) ? v.reduce((s, x) => s + size(x), 0) : size(v));
    if (chunk.length > 0 && (chunk.length >= maxCount || bytes + b > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += b;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** An idempotent producer (at-least-once outputs, dead letters). */
export interface KafkaProducer {
  connect(): Promise<void>;
  /** Sends messages; resolves once every in-sync replica has them. */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** Sends messages that all go to `partition`; returns the offset of the last one. */
  sendToPartition(topic: string, partition: number, messages: OutgoingMessage[]): Promise<number>;
  /** Publishes positions as a consumer group's committed offsets, outside any transaction (what lag tools read). */
  commitOffsets(group: string, offsets: TopicOffsets): Promise<void>;
  disconnect(): Promise<void>;
}

/** A transactional producer: one per task, its id stable across restarts. */
export interface TransactionalProducer {
  /** Registers the transactional id: fences any older producer with the same id and ends its open transaction. */
  connect(): Promise<void>;
  /** Sends messages in the current transaction (begun on first use). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** As send; all messages go to `partition`; returns the offset of the last one. */
  sendToPartition(topic: string, partition: number, messages: OutgoingMessage[]): Promise<number>;
  /** Adds consumer-group positions to the current transaction (committed with it). */
  sendOffsets(group: string, offsets: TopicOffsets): Promise<void>;
  /** Commits the current transaction (an empty one costs nothing). */
  commit(): Promise<void>;
  /** Aborts the current transaction, if one is open; never throws. */
  abort(): Promise<void>;
  disconnect(): Promise<void>;
  /** The timeout the broker enforces on each transaction (ms). */
  readonly transactionTimeoutMs: number;
}

/** Sends in chunks; returns the last chunk's metadata and size. */
async function sendChunks(
  messages: OutgoingMessage[],
  send: (chunk: OutgoingMessage[]) => Promise<RecordMetadata[]>,
): Promise<{ metadata: RecordMetadata[]; count: number }> {
  let last: { metadata: RecordMetadata[]; count: number } = { metadata: [], count: 0 };
  for (const chunk of chunkMessages(messages)) last = { metadata: await send(chunk), count: chunk.length };
  return last;
}

/** The offset of the last message of a send whose messages all went to `partition`. */
function lastOffset(topic: string, partition: number, sent: { metadata: RecordMetadata[]; count: number }): number {
  const meta = sent.metadata.find((m) => m.partition === partition);
  if (meta?.baseOffset === undefined) throw new ConnectorError(`the broker returned no offset for '${topic}' partition ${partition}`, true);
  return Number(meta.baseOffset) + sent.count - 1;
}

/** Creates an idempotent producer. */
export function idempotentProducer(kafka: Kafka): KafkaProducer {
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  const committer = new GroupOffsetCommitter(kafka);
  const send = async (topic: string, messages: OutgoingMessage[]): Promise<{ metadata: RecordMetadata[]; count: number }> => {
    try {
      return await sendChunks(messages, (chunk) => producer.send({ topic, acks: -1, messages: chunk }));
    } catch (err) {
      throw new ConnectorError(`cannot write ${messages.length} records to Kafka topic '${topic}': ${describeKafkaError(err)}`, isRetriable(err), err);
    }
  };
  return {
    connect: () => producer.connect(),
    send: async (topic, messages) => void (await send(topic, messages)),
    sendToPartition: async (topic, partition, messages) => lastOffset(topic, partition, await send(topic, messages)),
    commitOffsets: (group, offsets) => committer.commit(group, offsets),
    async disconnect() {
      await committer.close();
      await producer.disconnect();
    },
  };
}

/** Options of a transactional producer. */
export interface TransactionalOptions {
  transactionalId: string;
  /** How long the broker lets a transaction stay open before aborting it (ms); at most the broker's transaction.max.timeout.ms. */
  transactionTimeoutMs: number;
}

/** Creates a transactional producer. */
export function transactionalProducer(kafka: Kafka, options: TransactionalOptions): TransactionalProducer {
  rememberCoordinators(); // process-wide, from the first transactional producer on (coordinator-cache.ts)
  const { transactionalId, transactionTimeoutMs } = options;
  const producer: Producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: transactionTimeoutMs,
    createPartitioner: Partitioners.DefaultPartitioner,
    // The first send of a transaction begun right after a commit is answered CONCURRENT_TRANSACTIONS
    // until the broker has written the commit's markers: retried after 20 ms, as Kafka's Java
    // client does, not kafkajs's 300 ms (which held a task's next checkpoint up by as much).
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: TRANSACTION_RETRY_MS },
  });
  let txn: Transaction | undefined;
  /** When the open transaction's first record or offset was sent (the broker's clock starts a little later). */
  let openedAt: number | undefined;
  let connected = false;

  const fail = (what: string, err: unknown): ConnectorError => transactionError(what, err, transactionalId, transactionTimeoutMs, openedAt);
  const current = async (): Promise<Transaction> => {
    txn ??= await producer.transaction();
    openedAt ??= Date.now();
    return txn;
  };
  const send = async (topic: string, messages: OutgoingMessage[]): Promise<{ metadata: RecordMetadata[]; count: number }> => {
    try {
      const t = await current();
      return await sendChunks(messages, (chunk) => t.send({ topic, acks: -1, messages: chunk }));
    } catch (err) {
      throw fail(`cannot write ${messages.length} records to '${topic}'`, err);
    }
  };
  return {
    transactionTimeoutMs,
    async connect() {
      try {
        await producer.connect();
        connected = true;
        // kafkajs registers the transactional id with the first transaction, not on connect:
        // begin it now, so connecting is what fences an older producer of the same task.
        txn = await producer.transaction();
      } catch (err) {
        throw fail("cannot register the task's transactional producer", err);
      }
    },
    send: async (topic, messages) => void (await send(topic, messages)),
    sendToPartition: async (topic, partition, messages) => lastOffset(topic, partition, await send(topic, messages)),
    async sendOffsets(group, offsets) {
      if (offsets.length === 0) return;
      try {
        await (await current()).sendOffsets({ consumerGroupId: group, topics: offsetsByTopic(offsets) });
      } catch (err) {
        throw fail(`cannot add the positions of group '${group}' to the transaction`, err);
      }
    },
    async commit() {
      const t = txn;
      if (!t) return;
      try {
        await t.commit();
      } catch (err) {
        throw fail("cannot commit the checkpoint transaction", err);
      } finally {
        txn = undefined;
        openedAt = undefined;
      }
    },
    async abort() {
      const t = txn;
      txn = undefined;
      openedAt = undefined;
      // A producer that was fenced or timed out cannot abort; the broker has (or will).
      if (t?.isActive()) await t.abort().catch(() => undefined);
    },
    async disconnect() {
      if (!connected) return;
      connected = false;
      // A transaction left open would hold read_committed readers of its partitions back until
      // the broker times it out: end it (nothing after the last commit was meant to be kept).
      const t = txn;
      txn = undefined;
      openedAt = undefined;
      if (t?.isActive()) await t.abort().catch(() => undefined);
      await producer.disconnect();
    },
  };
}

/** Classifies a transactional producer's failure (see the module comment). */
export function transactionError(
  what: string,
  err: unknown,
  transactionalId: string,
  timeoutMs: number,
  openedAt: number | undefined,
  now = Date.now(),
): ConnectorError {
  const type = kafkaErrorType(err) ?? "";
  if (type === "INVALID_PRODUCER_EPOCH" || type === "PRODUCER_FENCED" || /fenced/i.test(String(err))) {
    if (openedAt !== undefined && now - openedAt >= timeoutMs) {
      return new ConnectorError(
        `${what}: the broker aborted transaction '${transactionalId}' after it stayed open ${Math.round((now - openedAt) / 1000)} s, past its ${Math.round(timeoutMs / 1000)} s timeout (a checkpoint took too long); the task restarts from its last checkpoint — if it recurs, lower spec.checkpoint.interval or raise spec.checkpoint.timeout`,
        true,
        err,
      );
    }
    return new FencedError(
      `${what}: this task's producer was fenced — another worker with the same ordinal runs the task (a duplicate pod or a newer restart); this worker stops`,
      err,
    );
  }
  if (type === "INVALID_TRANSACTION_TIMEOUT") {
    return new ConnectorError(
      `${what}: the broker refused a transaction timeout of ${timeoutMs} ms (above its transaction.max.timeout.ms): lower spec.checkpoint.interval or spec.checkpoint.timeout, or raise transaction.max.timeout.ms on the brokers`,
      false,
      err,
    );
  }
  // Anything else: a restarted task builds a new producer, so the checkpoint can succeed then.
  return new ConnectorError(`${what}: ${describeKafkaError(err)}`, true, err);
}
