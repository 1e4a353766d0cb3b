/**
 * A Kafka topic as a Runnel source: partition p is read by task p, from a position Runnel owns
 * (the next offset, kept in checkpoints), never from offsets committed by a consumer group.
 * One partition consumer of the Kafka adapter per source feeds every partition opened in this
 * process (it seeks back to these positions after any restart of its own); the engine pulls
 * micro-batches with read(), and a partition whose buffer is full is paused (backpressure).
 */
import { ConnectorError, RecordError } from "../../errors.ts";
import { createKafkaClient, type KafkaClient, type KafkaConnection, type KafkaRecord, type PartitionConsumer } from "../../kafka/index.ts";
import type { ReadResult, Source, SourceReader } from "../types.ts";
import type { DeadLetterQueue } from "./dead-letter.ts";

/** A message as the deserializer sees it. */
export type KafkaMessageIn = KafkaRecord;

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
  /** Hand each record's Kafka timestamp over as its event time (a source without its own event-time field). */
  recordTimestamps?: boolean;
}

/** Parses the value as JSON (the default deserializer). */
export function jsonValue<T>(message: KafkaMessageIn): T {
  if (message.value === null) throw new RecordError("the message has no value (a tombstone)");
  return JSON.parse(message.value.toString("utf8")) as T;
}

/** Read records a partition buffer keeps at least before it drops them (see `read`). */
const COMPACT_AFTER = 4096;

interface PartitionBuffer<T> {
  values: T[];
  /** Offset of values[i]. */
  offsets: number[];
  /** Kafka timestamp of values[i] (only with `recordTimestamps`). */
  timestamps: number[];
  /** Index of the first unread record. */
  head: number;
  /** Next offset the task will read (its position in checkpoints). */
  next: number;
  paused: boolean;
  closed: boolean;
}

/** A Kafka source, and its consumer once reading started (its repair counters; fault injection in tests). */
export interface KafkaSource<T> extends Source<T> {
  readonly consumer: PartitionConsumer | undefined;
}

/** Creates a Kafka source; reads the topic's partition count (the number of tasks it feeds). */
export async function createKafkaSource<T>(options: KafkaSourceOptions<T>): Promise<KafkaSource<T>> {
  const kafka = createKafkaClient({ clientId: `runnel-${options.readerGroup}`, ...options.connection });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // A topic created a moment ago (a repartition topic on a job's first start) is retried until known.
    const partitions = (await admin.partitionCounts([options.topic])).get(options.topic) ?? 0;
    if (partitions === 0) throw new ConnectorError(`Kafka topic '${options.topic}' has no partitions`, false);
    const feed = new TopicFeed(kafka, options);
    return {
      name: `kafka:${options.topic}`,
      partitions,
      open: (partition, position) => feed.open(partition, position),
      get consumer() {
        return feed.partitionConsumer;
      },
    };
  } finally {
    await admin.disconnect();
  }
}

/** The one consumer of a source in this process and the buffers of its partitions. */
class TopicFeed<T> {
  private readonly buffers = new Map<number, PartitionBuffer<T>>();
  private readonly kafka: KafkaClient;
  private readonly options: KafkaSourceOptions<T>;
  private readonly maxBuffered: number;
  private readonly deserialize: (message: KafkaMessageIn) => T;
  private consumer: PartitionConsumer | undefined;
  private starting: Promise<void> | undefined;
  private failure: ConnectorError | undefined;

  constructor(kafka: KafkaClient, options: KafkaSourceOptions<T>) {
    this.kafka = kafka;
    this.options = options;
    this.maxBuffered = options.maxBuffered ?? 20_000;
    this.deserialize = options.deserialize ?? jsonValue;
  }

  /** Registers a partition at its position (the next offset), resolving "earliest"/"latest" now. */
  async open(partition: number, position?: unknown): Promise<SourceReader<T>> {
    if (this.starting) throw new ConnectorError(`kafka:${this.options.topic}: partition ${partition} opened after reading started`, false);
    const next = typeof position === "number" ? position : await this.startOffset(partition);
    const buf: PartitionBuffer<T> = { values: [], offsets: [], timestamps: [], head: 0, next, paused: false, closed: false };
    this.buffers.set(partition, buf);
    return {
      read: (max) => this.read(partition, buf, max),
      position: () => buf.next,
      close: () => this.close(buf),
    };
  }

  /** The partition consumer, once reading started. */
  get partitionConsumer(): PartitionConsumer | undefined {
    return this.consumer;
  }

  private async startOffset(partition: number): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const p = (await admin.offsets(this.options.topic)).find((o) => o.partition === partition);
      if (!p) throw new ConnectorError(`kafka:${this.options.topic} has no partition ${partition}`, false);
      return this.options.startFrom === "latest" ? p.high : p.low;
    } finally {
      await admin.disconnect();
    }
  }

  private async read(partition: number, buf: PartitionBuffer<T>, max: number): Promise<ReadResult<T>> {
    this.starting ??= this.start();
    await this.starting;
    if (this.failure !== undefined) throw this.failure;
    const consumer = this.consumer as PartitionConsumer;
    // Dead letters are written before the position moves past them (at least once). Every
    // rejected message below `seenBefore` had its dead letter queued before this drain began.
    const seenBefore = consumer.through(partition);
    await this.options.deadLetters?.drain();
    const n = Math.min(max, buf.values.length - buf.head);
    if (n === 0) {
      // Only rejected messages (or markers) arrived since the last read: move past them too.
      if (buf.values.length === 0) buf.next = Math.max(buf.next, seenBefore);
      return { records: [], done: false };
    }
    const records = buf.values.slice(buf.head, buf.head + n);
    const timestamps = this.options.recordTimestamps === true ? buf.timestamps.slice(buf.head, buf.head + n) : undefined;
    buf.next = (buf.offsets[buf.head + n - 1] as number) + 1;
    buf.head += n;
    if (buf.head === buf.values.length) {
      buf.values.length = 0;
      buf.offsets.length = 0;
      buf.timestamps.length = 0;
      buf.head = 0;
      buf.next = Math.max(buf.next, seenBefore); // rejected messages after the last record
    } else if (buf.head >= COMPACT_AFTER && buf.head * 2 >= buf.values.length) {
      // A partition that never runs dry (fetches arrive while it is read) would otherwise keep
      // every record it read since it last did: drop the read ones once they are half the buffer.
      buf.values.splice(0, buf.head);
      buf.offsets.splice(0, buf.head);
      if (buf.timestamps.length > 0) buf.timestamps.splice(0, buf.head);
      buf.head = 0;
    }
    if (buf.paused && buf.values.length - buf.head < this.maxBuffered / 2) {
      buf.paused = false;
      consumer.resume(partition);
    }
    return { records, ...(timestamps ? { timestamps } : {}), done: false };
  }

  /** Starts the consumer on the opened partitions at their positions. */
  private async start(): Promise<void> {
    const consumer = this.kafka.partitionConsumer({
      topic: this.options.topic,
      group: this.options.readerGroup,
      ...(this.options.maxWaitMs === undefined ? {} : { maxWaitMs: this.options.maxWaitMs }),
      onRecords: (partition, records) => this.accept(partition, records),
      onFailure: (err) => void (this.failure ??= err),
    });
    this.consumer = consumer;
    await consumer.start(new Map([...this.buffers].map(([p, b]) => [p, b.next])));
  }

  /** Buffers committed messages (the consumer delivers each offset at most once, none below the position). */
  private accept(partition: number, messages: KafkaMessageIn[]): void {
    const buf = this.buffers.get(partition);
    if (!buf || buf.closed) return;
    for (const message of messages) {
      try {
        buf.values.push(this.deserialize(message));
        buf.offsets.push(message.offset);
        if (this.options.recordTimestamps === true) buf.timestamps.push(message.timestamp);
      } catch (err) {
        const { deadLetters, onPoison } = this.options;
        if (!deadLetters && !onPoison) {
          this.failure = new ConnectorError(
            `kafka:${this.options.topic} partition ${partition} offset ${message.offset}: cannot deserialize: ${err instanceof Error ? err.message : String(err)}`,
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
      this.consumer?.pause(partition);
    }
  }

  private async close(buf: PartitionBuffer<T>): Promise<void> {
    buf.closed = true;
    if ([...this.buffers.values()].every((b) => b.closed) && this.consumer) {
      const consumer = this.consumer;
      this.consumer = undefined;
      await consumer.stop();
    }
  }
}
