/**
 * A Kafka topic as a Runnel source: partition p is read by task p, from a position Runnel owns
 * (the next offset, kept in checkpoints), never from offsets committed by a consumer group.
 * One kafkajs consumer per source feeds every partition opened in this process; the engine pulls
 * micro-batches with read(), and a partition whose buffer is full is paused (backpressure).
 */
import type { Admin, Consumer, IHeaders, Kafka } from "kafkajs";
import { ConnectorError, RecordError } from "../../errors.ts";
import type { ReadResult, Source, SourceReader } from "../types.ts";
import { createKafkaClient, type KafkaConnection } from "./client.ts";
import type { DeadLetterQueue } from "./dead-letter.ts";
import { CommittedFilter, rawMessages, type RawMessage } from "./read-committed.ts";
import { staticAssigner } from "./static-assigner.ts";

/** A message as the deserializer sees it. */
export interface KafkaMessageIn {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  /** The record's Kafka timestamp (ms). */
  timestamp: number;
}

/** What happens to a message the deserializer rejects. */
export type PoisonHandler = (message: KafkaMessageIn, error: unknown) => void;

/** Options of a Kafka source. */
export interface KafkaSourceOptions<T> {
  connection: KafkaConnection;
  topic: string;
  /** Consumer group of this reader (one per worker): used for static assignment only. */
  readerGroup: string;
  /** Where a partition without a restored position starts (default earliest). */
  startFrom?: "earliest" | "latest";
  /** Message → record (default: the value parsed as JSON). Throwing marks the message poison. */
  deserialize?: (message: KafkaMessageIn) => T;
  /** Where poison messages go (with the reason and their coordinates in headers). */
  deadLetters?: DeadLetterQueue;
  /** Also told of every poison message (e.g. to count it). Without this or deadLetters, a poison message fails the job with its coordinates. */
  onPoison?: PoisonHandler;
  /** Records buffered per partition before its fetching pauses (default 20,000). */
  maxBuffered?: number;
  /** Longest a fetch waits for new records (default 100 ms; kafkajs's own default is 5 s). */
  maxWaitMs?: number;
}

/** Parses the value as JSON (the default deserializer). */
export function jsonValue<T>(message: KafkaMessageIn): T {
  if (message.value === null) throw new RecordError("the message has no value (a tombstone)");
  return JSON.parse(message.value.toString("utf8")) as T;
}

interface PartitionBuffer<T> {
  values: T[];
  /** Offset of values[i]. */
  offsets: number[];
  /** Index of the first unread record. */
  head: number;
  /** Next offset the task will read (its position in checkpoints). */
  next: number;
  /** Read-committed filtering of the partition's fetches; its `through` is the offset below which everything was buffered, rejected or skipped. */
  committed: CommittedFilter;
  paused: boolean;
  closed: boolean;
}

/** Creates a Kafka source; reads the topic's partition count (the number of tasks it feeds). */
export async function createKafkaSource<T>(options: KafkaSourceOptions<T>): Promise<Source<T>> {
  const kafka = createKafkaClient({ clientId: `runnel-${options.readerGroup}`, ...options.connection });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [options.topic] });
    const partitions = meta.topics[0]?.partitions.length ?? 0;
    if (partitions === 0) throw new ConnectorError(`Kafka topic '${options.topic}' has no partitions`, false);
    const feed = new TopicFeed(kafka, options);
    return { name: `kafka:${options.topic}`, partitions, open: (partition, position) => feed.open(partition, position) };
  } catch (err) {
    throw err instanceof ConnectorError ? err : new ConnectorError(`cannot read Kafka topic '${options.topic}': ${String(err)}`, true, err);
  } finally {
    await admin.disconnect();
  }
}

/** The one consumer of a source in this process and the buffers of its partitions. */
class TopicFeed<T> {
  private readonly buffers = new Map<number, PartitionBuffer<T>>();
  private readonly kafka: Kafka;
  private readonly options: KafkaSourceOptions<T>;
  private readonly maxBuffered: number;
  private readonly deserialize: (message: KafkaMessageIn) => T;
  private consumer: Consumer | undefined;
  private starting: Promise<void> | undefined;
  private failure: ConnectorError | undefined;

  constructor(kafka: Kafka, options: KafkaSourceOptions<T>) {
    this.kafka = kafka;
    this.options = options;
    this.maxBuffered = options.maxBuffered ?? 20_000;
    this.deserialize = options.deserialize ?? jsonValue;
  }

  /** Registers a partition at its position (the next offset), resolving "earliest"/"latest" now. */
  async open(partition: number, position?: unknown): Promise<SourceReader<T>> {
    if (this.starting) throw new ConnectorError(`kafka:${this.options.topic}: partition ${partition} opened after reading started`, false);
    const next = typeof position === "number" ? position : await this.startOffset(partition);
    const committed = new CommittedFilter();
    committed.startAt(next);
    const buf: PartitionBuffer<T> = { values: [], offsets: [], head: 0, next, committed, paused: false, closed: false };
    this.buffers.set(partition, buf);
    return {
      read: (max) => this.read(partition, buf, max),
      position: () => buf.next,
      close: () => this.close(buf),
    };
  }

  private async startOffset(partition: number): Promise<number> {
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.options.topic);
      const p = offsets.find((o) => o.partition === partition);
      if (!p) throw new ConnectorError(`kafka:${this.options.topic} has no partition ${partition}`, false);
      return Number(this.options.startFrom === "latest" ? p.high : p.low);
    } finally {
      await admin.disconnect();
    }
  }

  private async read(partition: number, buf: PartitionBuffer<T>, max: number): Promise<ReadResult<T>> {
    this.starting ??= this.start();
    await this.starting;
    if (this.failure !== undefined) throw this.failure;
    // Dead letters are written before the position moves past them (at least once). Every
    // rejected message below `seenBefore` had its dead letter queued before this drain began.
    const seenBefore = buf.committed.through;
    await this.options.deadLetters?.drain();
    const n = Math.min(max, buf.values.length - buf.head);
    if (n === 0) {
      // Only rejected messages arrived since the last read: move past them too.
      if (buf.values.length === 0) buf.next = Math.max(buf.next, seenBefore);
      return { records: [], done: false };
    }
    const records = buf.values.slice(buf.head, buf.head + n);
    buf.next = (buf.offsets[buf.head + n - 1] as number) + 1;
    buf.head += n;
    if (buf.head === buf.values.length) {
      buf.values.length = 0;
      buf.offsets.length = 0;
      buf.head = 0;
      buf.next = Math.max(buf.next, seenBefore); // rejected messages after the last record
    }
    if (buf.paused && buf.values.length - buf.head < this.maxBuffered / 2) {
      buf.paused = false;
      this.consumer?.resume([{ topic: this.options.topic, partitions: [partition] }]);
    }
    return { records, done: false };
  }

  /** Starts the consumer with the opened partitions and seeks each to its position. */
  private async start(): Promise<void> {
    const { topic } = this.options;
    const partitions = [...this.buffers.keys()].sort((a, b) => a - b);
    const consumer = this.kafka.consumer({
      groupId: this.options.readerGroup,
      partitionAssigners: [staticAssigner(topic, () => partitions)],
      readUncommitted: false,
      // kafkajs waits this long in a fetch with nothing new, and also before fetching again once
      // every partition is paused for backpressure, and on disconnect: 5 s by default stalls a
      // job that just drained its buffers and makes every restart and shutdown seconds slower.
      maxWaitTimeInMs: this.options.maxWaitMs ?? 100,
    });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => {
      const off = consumer.on(consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const buf = this.buffers.get(batch.partition);
        if (buf && !buf.closed) this.accept(batch.partition, buf.committed.accept(rawMessages(batch)));
      },
    });
    await joined;
    for (const [partition, buf] of this.buffers) consumer.seek({ topic, partition, offset: String(buf.next) });
  }

  /** Buffers committed messages (the filter already dropped what lies before the position or was fetched twice). */
  private accept(partition: number, messages: RawMessage[]): void {
    const buf = this.buffers.get(partition);
    if (!buf || buf.closed) return;
    for (const m of messages) {
      const offset = Number(m.offset);
      const message: KafkaMessageIn = {
        topic: this.options.topic,
        partition,
        offset,
        key: m.key,
        value: m.value,
        headers: m.headers ?? {},
        timestamp: Number(m.timestamp),
      };
      try {
        buf.values.push(this.deserialize(message));
        buf.offsets.push(offset);
      } catch (err) {
        const { deadLetters, onPoison } = this.options;
        if (!deadLetters && !onPoison) {
          this.failure = new ConnectorError(
            `kafka:${this.options.topic} partition ${partition} offset ${offset}: cannot deserialize: ${err instanceof Error ? err.message : String(err)}`,
            false,
            err,
          );
          return;
        }
        deadLetters?.add(message, err, `source:${this.options.topic}`);
        onPoison?.(message, err);
      }
    }
    if (!buf.paused && buf.values.length - buf.head >= this.maxBuffered) {
      buf.paused = true;
      this.consumer?.pause([{ topic: this.options.topic, partitions: [partition] }]);
    }
  }

  private async close(buf: PartitionBuffer<T>): Promise<void> {
    buf.closed = true;
    if ([...this.buffers.values()].every((b) => b.closed) && this.consumer) {
      const consumer = this.consumer;
      this.consumer = undefined;
      await consumer.disconnect();
    }
  }
}
