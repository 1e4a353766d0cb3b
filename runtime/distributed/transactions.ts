/**
 * One producer per task. Exactly once: a transactional producer whose id is stable per task,
 * so a restarted or duplicate worker fences the old one; everything a task sends between two
 * checkpoints — outputs, repartitioned records, state changes, its input positions — commits
 * together or not at all. At least once: an idempotent producer; each checkpoint publishes the
 * task's input positions as the job group's offsets once its sends are acknowledged. In both
 * modes the job's consumer group shows how far each input was read (what lag tools read).
 */
import type { KafkaAdmin, KafkaClient, KafkaProducer, OutgoingMessage, TopicOffsets, TransactionalProducer } from "../kafka/index.ts";
import type { TaskTransaction } from "../connectors/types.ts";
import { ConnectorError } from "../errors.ts";
import { formatDuration } from "../spec/duration.ts";
import { KAFKA_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS, transactionTimeouts } from "../spec/transaction-timeout.ts";

/** Delivery guarantee of a distributed job. */
export type Delivery = "exactly-once" | "at-least-once";

/** Input positions to commit with a checkpoint: topic → partition → next offset. */
export type InputOffsets = TopicOffsets;

/** Options of a task producer. */
export interface TaskProducerOptions {
  kafka: KafkaClient;
  delivery: Delivery;
  transactionalId: string;
  /** The job's consumer group (its committed offsets are the tasks' input positions). */
  groupId: string;
  /** Exactly once: the broker's timeout for each transaction (transactionTimeoutFor). */
  transactionTimeoutMs?: number;
}

/** Output a round wrote while the previous checkpoint's transaction committed. */
interface HeldSend {
  topic: string;
  messages: OutgoingMessage[];
}

/** Held sends merged per topic, in order. */
function byTopic(sends: HeldSend[]): Map<string, OutgoingMessage[]> {
  const topics = new Map<string, OutgoingMessage[]>();
  for (const { topic, messages } of sends) {
    let all = topics.get(topic);
    if (!all) topics.set(topic, (all = []));
    for (const m of messages) all.push(m);
  }
  return topics;
}

/** The output of one task, through its own producer. */
export class TaskProducer implements TaskTransaction {
  private readonly transactional: TransactionalProducer | undefined;
  private readonly idempotent: KafkaProducer | undefined;
  private readonly groupId: string;
  /** While a checkpoint commits (exactly once): later rounds' output, unsent, in order (see hold()). */
  private held: HeldSend[] | undefined;
  /** Why sending held output failed: the next send reports it (the task restarts from its checkpoint). */
  private heldFailure: Error | undefined;

  constructor(options: TaskProducerOptions) {
    this.groupId = options.groupId;
    if (options.delivery === "exactly-once") {
      this.transactional = options.kafka.transactionalProducer({
        transactionalId: options.transactionalId,
        transactionTimeoutMs: options.transactionTimeoutMs ?? 60_000,
      });
    } else {
      this.idempotent = options.kafka.producer();
    }
  }

  /** Where the task's records go: its transaction (exactly once) or its idempotent producer. */
  private get out(): TransactionalProducer | KafkaProducer {
    return this.transactional ?? (this.idempotent as KafkaProducer);
  }

  /** Connects; for exactly once this fences any older producer of the task and ends its open transaction. */
  async connect(): Promise<void> {
    await this.out.connect();
  }

  /** Sends messages (in the task's current transaction, for exactly once); held while a checkpoint commits. */
  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.heldFailure !== undefined) throw this.heldFailure;
    if (this.held) {
      this.held.push({ topic, messages });
      return;
    }
    await this.out.send(topic, messages);
  }

  /**
   * Exactly once, from a checkpoint's capture until its transaction committed: output of the
   * rounds that run meanwhile belongs to the next transaction, so send() keeps it here unsent
   * (a send during the commit would join the committing transaction, or be refused by it). The
   * checkpoint's own changelog and commit go ahead. release() sends it.
   */
  hold(): void {
    this.held ??= [];
  }

  /** Sends the held output, in order (one send per topic), opening the next transaction; sends meanwhile queue behind it. */
  async release(): Promise<void> {
    const held = this.held;
    if (!held) return;
    const out = this.out;
    try {
      // All that waited goes out in one send per topic (per-partition order kept): rounds during a
      // commit are many and small, and one produce request each would hold up the next checkpoint.
      for (let batch = held.splice(0); batch.length > 0; batch = held.splice(0)) {
        for (const [topic, messages] of byTopic(batch)) await out.send(topic, messages);
      }
    } catch (err) {
      this.heldFailure = err instanceof Error ? err : new ConnectorError(`cannot send held output: ${String(err)}`, true);
      throw this.heldFailure;
    }
    this.held = undefined;
  }

  /** Sends messages that all go to `partition`; returns the offset of the last one. */
  async sendToPartition(topic: string, partition: number, messages: OutgoingMessage[]): Promise<number> {
    return this.out.sendToPartition(topic, partition, messages);
  }

  /**
   * Completes a checkpoint with the task's input positions: exactly once, they join the
   * transaction, which commits; at least once, every send was acknowledged already, so the
   * positions are committed to the job's group directly.
   */
  async commit(offsets: InputOffsets): Promise<void> {
    if (this.transactional) {
      await this.transactional.sendOffsets(this.groupId, offsets);
      await this.transactional.commit();
    } else {
      await this.idempotent?.commitOffsets(this.groupId, offsets);
    }
  }

  /** Aborts the open transaction, if any (its records are never visible to read_committed readers); held output is dropped. */
  async abort(): Promise<void> {
    this.held = undefined;
    await this.transactional?.abort();
  }

  /** Disconnects (an open transaction is left to time out or to be aborted by the next producer). */
  async disconnect(): Promise<void> {
    await this.out.disconnect();
  }
}

/**
 * The transaction timeout of a job's tasks: derived from its checkpoint interval and timeout
 * (spec/transaction-timeout.ts), capped at the brokers' transaction.max.timeout.ms; a job whose
 * transactions need longer than the brokers allow is refused with what to change.
 */
export async function transactionTimeoutFor(admin: KafkaAdmin, intervalMs: number, checkpointTimeoutMs: number): Promise<number> {
  const { requiredMs, timeoutMs } = transactionTimeouts(intervalMs, checkpointTimeoutMs);
  // Reading broker configs needs DescribeConfigs on the cluster; without it, assume Kafka's default.
  const configured = Number(await admin.brokerConfig("transaction.max.timeout.ms").catch(() => undefined));
  const brokerMax = Number.isFinite(configured) && configured > 0 ? configured : KAFKA_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS;
  if (requiredMs > brokerMax) {
    throw new ConnectorError(
      `spec.checkpoint.interval (${formatDuration(intervalMs)}) plus spec.checkpoint.timeout (${formatDuration(checkpointTimeoutMs)}) keep a task's transaction open up to ${formatDuration(requiredMs)}, longer than the brokers allow (transaction.max.timeout.ms = ${formatDuration(brokerMax)}): lower the interval or the timeout, or raise transaction.max.timeout.ms on the brokers`,
      false,
    );
  }
  return Math.min(timeoutMs, brokerMax);
}
