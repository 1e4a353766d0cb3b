/**
 * One producer per task. Exactly once: a transactional producer whose id is stable per task,
 * so a restarted or duplicate worker fences the old one; everything a task sends between two
 * checkpoints — outputs, repartitioned records, state changes, its input positions — commits
 * together or not at all. At least once: an idempotent producer, offsets committed after sends.
 */
import { Partitioners, type Kafka, type Producer, type RecordMetadata, type Transaction } from "kafkajs";
import type { OutgoingMessage, TaskTransaction } from "../connectors/types.ts";
import { ConnectorError, FencedError } from "../errors.ts";

/** Delivery guarantee of a distributed job. */
export type Delivery = "exactly-once" | "at-least-once";

/** Input positions to commit with a checkpoint: topic → partition → next offset. */
export type InputOffsets = { topic: string; partition: number; offset: number }[];

/** Messages above this count go out in several produce requests. */
const CHUNK = 5000;

/** The output of one task, through its own producer. */
export class TaskProducer implements TaskTransaction {
  private readonly producer: Producer;
  private readonly delivery: Delivery;
  private readonly groupId: string;
  private txn: Transaction | undefined;
  private connected = false;

  constructor(options: { kafka: Kafka; delivery: Delivery; transactionalId: string; groupId: string }) {
    this.delivery = options.delivery;
    this.groupId = options.groupId;
    this.producer =
      options.delivery === "exactly-once"
        ? options.kafka.producer({
            transactionalId: options.transactionalId,
            idempotent: true,
            maxInFlightRequests: 1,
            transactionTimeout: 60_000,
            createPartitioner: Partitioners.DefaultPartitioner,
          })
        : options.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  }

  /** Connects; for exactly once this fences any older producer of the task and completes its open transaction. */
  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /** Sends messages in the task's current transaction; returns the broker's metadata per batch. */
  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    await this.sendWithMetadata(topic, messages);
  }

  /** Sends messages that all go to `partition`; returns the offset of the last one. */
  async sendToPartition(topic: string, partition: number, messages: OutgoingMessage[]): Promise<number> {
    const last = await this.sendWithMetadata(topic, messages);
    const meta = last.metadata.find((m) => m.partition === partition);
    if (meta?.baseOffset === undefined) throw new ConnectorError(`the broker returned no offset for '${topic}' partition ${partition}`, true);
    return Number(meta.baseOffset) + last.count - 1;
  }

  private async sendWithMetadata(topic: string, messages: OutgoingMessage[]): Promise<{ metadata: RecordMetadata[]; count: number }> {
    let last: { metadata: RecordMetadata[]; count: number } = { metadata: [], count: 0 };
    for (let i = 0; i < messages.length; i += CHUNK) {
      const chunk = messages.slice(i, i + CHUNK);
      try {
        const metadata =
          this.delivery === "exactly-once"
            ? await (await this.transaction()).send({ topic, acks: -1, messages: chunk })
            : await this.producer.send({ topic, acks: -1, messages: chunk });
        last = { metadata, count: chunk.length };
      } catch (err) {
        throw producerError(`cannot write ${chunk.length} records to '${topic}'`, err);
      }
    }
    return last;
  }

  /** Commits the current transaction with the task's input positions (at least once: commits the positions). */
  async commit(offsets: InputOffsets): Promise<void> {
    const topics = groupOffsets(offsets);
    try {
      if (this.delivery === "exactly-once") {
        const txn = await this.transaction();
        if (topics.length > 0) await txn.sendOffsets({ consumerGroupId: this.groupId, topics });
        this.txn = undefined;
        await txn.commit();
      }
    } catch (err) {
      throw producerError("cannot commit the checkpoint transaction", err);
    }
  }

  /** Aborts the open transaction, if any (its records are never visible to read_committed readers). */
  async abort(): Promise<void> {
    const txn = this.txn;
    this.txn = undefined;
    if (txn?.isActive()) await txn.abort();
  }

  /** Disconnects (an open transaction is left to time out or to be aborted by the next producer). */
  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }

  private async transaction(): Promise<Transaction> {
    this.txn ??= await this.producer.transaction();
    return this.txn;
  }
}

/** kafkajs's offsets shape: per topic, partitions with string offsets. */
function groupOffsets(offsets: InputOffsets): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    const list = byTopic.get(o.topic) ?? [];
    list.push({ partition: o.partition, offset: String(o.offset) });
    byTopic.set(o.topic, list);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

/** A fenced producer (another worker took over the task) is final; anything else may be retried by a restart. */
function producerError(what: string, err: unknown): ConnectorError {
  const name = (err as { name?: string; type?: string }).type ?? (err as { name?: string }).name ?? "";
  const fenced = /FENCED|INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/i.test(`${name} ${String(err)}`);
  if (fenced)
    return new FencedError(
      `${what}: this task's producer was fenced — another worker with the same ordinal runs the task (a duplicate pod or a newer restart); this worker stops`,
      err,
    );
  return new ConnectorError(`${what}: ${String(err)}`, true, err);
}
