/**
 * The in-process stand-in for a repartition topic: records of a hash (or broadcast) edge are
 * buffered per target task during a round and handed over as one batch, with the watermark
 * of every upstream task alongside (the channel statuses of the downstream combiner).
 */
import type { Key } from "../api/functions.ts";
import type { Partitioning } from "../graph/graph.ts";
import { MIN_WATERMARK } from "../time/watermarks.ts";
import { taskOfKey } from "./hash.ts";

/**
 * Records buffered for one target task, as parallel arrays (no object per record). The arrays
 * keep their capacity between rounds (`size` is the fill level) so steady state allocates nothing.
 */
export interface ExchangeBuffer {
  /** Number of buffered records. */
  size: number;
  /** Values. */
  values: unknown[];
  /** Event timestamps. */
  timestamps: number[];
  /** Keys (hash edges). */
  keys: (Key | undefined)[];
  /** Records appended since the exchange was created (never reset; metrics read it). */
  received: number;
}

/** One hash or broadcast edge across all tasks. */
export class Exchange {
  /** Input index of the downstream operator. */
  readonly input: number;
  /** Node ids of the upstream and the downstream operator. */
  readonly from: number;
  readonly to: number;
  /** Hash or broadcast. */
  readonly partitioning: Partitioning;
  /** Per target task. */
  readonly buffers: ExchangeBuffer[];
  /** Latest watermark per upstream task. */
  readonly upstreamWatermark: Float64Array;
  /** Idleness per upstream task. */
  readonly upstreamIdle: Uint8Array;
  private readonly key: ((value: unknown) => Key) | undefined;
  private readonly parallelism: number;
  /** Buffers a broadcast record goes to: those of the tasks this process runs. */
  private readonly broadcastTo: ExchangeBuffer[];

  constructor(options: {
    input: number;
    from: number;
    to: number;
    parallelism: number;
    partitioning: Partitioning;
    key?: (value: unknown) => Key;
    targets?: readonly number[];
  }) {
    this.input = options.input;
    this.from = options.from;
    this.to = options.to;
    this.parallelism = options.parallelism;
    this.partitioning = options.partitioning;
    this.key = options.key;
    this.buffers = Array.from({ length: options.parallelism }, () => ({ size: 0, values: [], timestamps: [], keys: [], received: 0 }));
    this.upstreamWatermark = new Float64Array(options.parallelism).fill(MIN_WATERMARK);
    this.upstreamIdle = new Uint8Array(options.parallelism);
    this.broadcastTo = options.targets ? options.targets.map((t) => this.buffers[t] as ExchangeBuffer) : this.buffers;
  }

  /** Routes one record. */
  push(value: unknown, ts: number): void {
    if (this.partitioning === "broadcast") {
      for (const b of this.broadcastTo) append(b, value, ts, undefined);
      return;
    }
    const key = (this.key as (value: unknown) => Key)(value);
    append(this.buffers[taskOfKey(key, this.parallelism)] as ExchangeBuffer, value, ts, key);
  }

  /** Routes one record whose key is already known (broadcast edges ignore it). */
  pushKeyed(value: unknown, ts: number, key: Key): void {
    if (this.partitioning === "broadcast") this.push(value, ts);
    else append(this.buffers[taskOfKey(key, this.parallelism)] as ExchangeBuffer, value, ts, key);
  }

  /** Records the watermark status of an upstream task. */
  setWatermark(fromTask: number, wm: number, idle: boolean): void {
    this.upstreamWatermark[fromTask] = wm;
    this.upstreamIdle[fromTask] = idle ? 1 : 0;
  }
}

/** Appends one record to a buffer (also records that arrive from another thread's engine). */
export function append(b: ExchangeBuffer, value: unknown, ts: number, key: Key | undefined): void {
  const i = b.size++;
  b.received++;
  if (i < b.values.length) {
    b.values[i] = value;
    b.timestamps[i] = ts;
    b.keys[i] = key;
  } else {
    b.values.push(value);
    b.timestamps.push(ts);
    b.keys.push(key);
  }
}
