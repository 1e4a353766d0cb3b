/**
 * Repartition topics: how a keyBy moves records to the task that owns their key without a
 * network shuffle of our own. Each upstream task writes a record to partition taskOfKey(key)
 * with the key as the Kafka key (the routing survives serialisation) and, after its records,
 * watermark markers to every partition. The reader of partition p keeps the latest marker of
 * every upstream task and reports their minimum — Flink's per-channel watermark combining, with
 * the topic as the channel. A read stops at a marker that moves the watermark, so records are
 * seen against exactly the watermark they were written under, however fetches split.
 */
import { decodeRecord, encodeRecord } from "../exec/record-codec.ts";
import type { Key } from "../api/functions.ts";
import { createKafkaSource, type KafkaMessageIn } from "../connectors/kafka/source.ts";
import type { KafkaConnection } from "../kafka/index.ts";
import type { OutgoingMessage, ReadResult, Sink, SinkWriter, Source, SourceReader } from "../connectors/types.ts";
import { ConnectorError, RecordError } from "../errors.ts";
import { taskOfKey } from "../exec/hash.ts";
import { MAX_WATERMARK, MIN_WATERMARK } from "../time/watermarks.ts";

const H_WATERMARK = "runnel.wm";
const H_FROM = "runnel.from";
const H_IDLE = "runnel.idle";
const H_KEY_TYPE = "runnel.kt";
const H_DRAINED = "runnel.drained";

/** A task's side of a repartition topic that a savepoint drain talks to. */
export interface RepartitionWriter {
  /** Queues a marker to every partition saying this task sends nothing more before savepoint `id` (sent with the next flush). */
  drained(id: string): void;
}

/** The reading side of one task, as a savepoint drain sees it. */
export interface DrainProgress {
  /** Number of upstream tasks that declared themselves drained for savepoint `id` (and all their records before it were read). */
  drainedUpstreams(id: string): number;
  /** The upstream tasks whose drained marker for savepoint `id` has not been read yet. */
  undrainedUpstreams(id: string): number[];
  /** Number of upstream tasks. */
  readonly upstreamTasks: number;
}

/** Options of the writing side. */
export interface RepartitionSinkOptions {
  topic: string;
  /** Tasks (= partitions of the topic). */
  parallelism: number;
  /** The keyBy's key. */
  key: (value: unknown) => Key;
  /** Least time between two watermark markers of one task (ms); markers also go out on idleness changes. */
  markerIntervalMs?: number;
}

/** The writing side: one writer per upstream task, sending through the task's transaction. */
export function repartitionSink(options: RepartitionSinkOptions): Sink<unknown> & { writers: Map<number, RepartitionWriter> } {
  const interval = options.markerIntervalMs ?? 100;
  const writers = new Map<number, RepartitionWriter>();
  return {
    writers,
    name: `repartition:${options.topic}`,
    async open(ctx): Promise<SinkWriter<unknown>> {
      const txn = ctx.transaction;
      if (!txn) throw new ConnectorError(`repartition topic '${options.topic}' needs the task's Kafka producer (distributed mode)`, false);
      let buffer: OutgoingMessage[] = [];
      let pending: { wm: number; idle: boolean } | undefined;
      let sent = { wm: MIN_WATERMARK, idle: false };
      let sentAt = 0;
      writers.set(ctx.taskIndex, {
        drained(id) {
          const headers = { [H_DRAINED]: id, [H_FROM]: String(ctx.taskIndex) };
          for (let p = 0; p < options.parallelism; p++) buffer.push({ key: null, value: null, partition: p, headers });
        },
      });
      const writer: SinkWriter<unknown> = {
        write(value, ts) {
          const key = options.key(value);
          const headers: Record<string, string> = typeof key === "number" ? { [H_KEY_TYPE]: "n" } : {};
          buffer.push({ key: String(key), value: encodeRecord(value), partition: taskOfKey(key, options.parallelism), timestamp: String(ts), headers });
        },
        onWatermarkStatus(wm, idle) {
          pending = { wm, idle };
        },
        async flush() {
          const now = Date.now();
          if (pending && (pending.wm !== sent.wm || pending.idle !== sent.idle) && (pending.idle !== sent.idle || now - sentAt >= interval)) {
            const headers = { [H_WATERMARK]: String(pending.wm), [H_FROM]: String(ctx.taskIndex), [H_IDLE]: pending.idle ? "1" : "0" };
            for (let p = 0; p < options.parallelism; p++) buffer.push({ key: null, value: null, partition: p, headers });
            sent = pending;
            sentAt = now;
          }
          if (buffer.length === 0) return;
          const messages = buffer;
          buffer = [];
          await txn.send(options.topic, messages);
        },
        // What a checkpoint flushed is all that commits: close runs after the last one, and a send
        // now (a watermark marker whose interval ran out meanwhile) would open a transaction that
        // nothing commits, holding read_committed readers of the topic until it times out.
        async close() {
          buffer = [];
          pending = undefined;
        },
        async abort() {
          buffer = [];
        },
      };
      return writer;
    },
  };
}

/** One fetched message of a repartition topic. */
type Item =
  | { offset: number; marker: false; value: unknown; key: Key; ts: number }
  | { offset: number; marker: true; from: number; wm: number; idle: boolean; drained?: undefined }
  | { offset: number; marker: true; from: number; drained: string };

/** Where a repartition reader is: the next offset and every upstream task's last watermark. */
export interface RepartitionPosition {
  next: number;
  watermarks: number[];
  idle: boolean[];
}

function decode(m: KafkaMessageIn): Item {
  const h = (name: string): string | undefined => {
    const v = m.headers[name];
    return v === undefined ? undefined : String(Array.isArray(v) ? v[0] : v);
  };
  const drained = h(H_DRAINED);
  if (drained !== undefined) return { offset: m.offset, marker: true, from: Number(h(H_FROM)), drained };
  const wm = h(H_WATERMARK);
  if (wm !== undefined) return { offset: m.offset, marker: true, from: Number(h(H_FROM)), wm: Number(wm), idle: h(H_IDLE) === "1" };
  if (m.value === null || m.key === null) throw new RecordError("a repartition record without key or value");
  const text = m.key.toString("utf8");
  return { offset: m.offset, marker: false, value: decodeRecord(m.value), key: h(H_KEY_TYPE) === "n" ? Number(text) : text, ts: m.timestamp };
}

/** The reading side: partition p feeds task p, with the upstream tasks' watermarks. */
export async function repartitionSource(options: {
  connection: KafkaConnection;
  topic: string;
  readerGroup: string;
  upstreamTasks: number;
}): Promise<Source<unknown> & { readers: Map<number, DrainProgress> }> {
  const inner = await createKafkaSource<Item>({ connection: options.connection, topic: options.topic, readerGroup: options.readerGroup, deserialize: decode });
  const readers = new Map<number, DrainProgress>();
  return {
    name: `repartition:${options.topic}`,
    partitions: inner.partitions,
    readers,
    async open(partition, position) {
      const pos = position as RepartitionPosition | undefined;
      const reader = new RepartitionReader(await inner.open(partition, pos?.next), options.upstreamTasks, pos);
      readers.set(partition, reader);
      return reader;
    },
  };
}

/** Turns a partition's items into records, keys, timestamps and a combined upstream watermark. */
class RepartitionReader implements SourceReader<unknown>, DrainProgress {
  readonly upstreamTasks: number;
  private readonly drained = new Map<string, Set<number>>();
  private readonly inner: SourceReader<Item>;
  private readonly wms: number[];
  private readonly idles: boolean[];
  private queue: Item[] = [];
  private head = 0;

  constructor(inner: SourceReader<Item>, upstream: number, pos: RepartitionPosition | undefined) {
    this.inner = inner;
    this.upstreamTasks = upstream;
    this.wms = pos?.watermarks.slice() ?? new Array<number>(upstream).fill(MIN_WATERMARK);
    this.idles = pos?.idle.slice() ?? new Array<boolean>(upstream).fill(false);
  }

  async read(max: number): Promise<ReadResult<unknown>> {
    if (this.head >= this.queue.length) {
      const r = await this.inner.read(max);
      this.queue = r.records;
      this.head = 0;
    }
    const records: unknown[] = [];
    const keys: Key[] = [];
    const timestamps: number[] = [];
    while (this.head < this.queue.length && records.length < max) {
      const item = this.queue[this.head] as Item;
      if (item.marker && item.drained !== undefined) {
        const set = this.drained.get(item.drained) ?? new Set<number>();
        set.add(item.from);
        this.drained.set(item.drained, set);
        this.head++;
        continue;
      }
      if (item.marker) {
        const before = this.watermark();
        this.wms[item.from] = item.wm;
        this.idles[item.from] = item.idle;
        this.head++;
        const after = this.watermark();
        // Records after this marker must meet the new watermark: end the batch here.
        if (after.watermark !== before.watermark || after.idle !== before.idle) break;
        continue;
      }
      records.push(item.value);
      keys.push(item.key);
      timestamps.push(item.ts);
      this.head++;
    }
    // Every upstream task finished (bounded input): this partition ends once its queue is read.
    return { records, keys, timestamps, done: this.head >= this.queue.length && this.wms.every((w) => w >= MAX_WATERMARK) };
  }

  drainedUpstreams(id: string): number {
    return this.drained.get(id)?.size ?? 0;
  }

  undrainedUpstreams(id: string): number[] {
    const seen = this.drained.get(id);
    return Array.from({ length: this.upstreamTasks }, (_, t) => t).filter((t) => !seen?.has(t));
  }

  position(): RepartitionPosition {
    const next = this.head < this.queue.length ? (this.queue[this.head] as Item).offset : (this.inner.position() as number);
    return { next, watermarks: this.wms.slice(), idle: this.idles.slice() };
  }

  watermark(): { watermark: number; idle: boolean } {
    let wm = Number.POSITIVE_INFINITY;
    let allIdle = true;
    for (let i = 0; i < this.wms.length; i++) {
      if (this.idles[i]) continue;
      allIdle = false;
      wm = Math.min(wm, this.wms[i] as number);
    }
    return allIdle ? { watermark: MIN_WATERMARK, idle: true } : { watermark: wm, idle: false };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
