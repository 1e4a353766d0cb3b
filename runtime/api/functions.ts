/**
 * The shapes of user functions the typed API accepts. All of them are synchronous: state is
 * prefetched per micro-batch, so user code never awaits per record.
 */
import type { OutputTag } from "./output-tag.ts";

/** A key a stream is partitioned and its state is scoped by. */
export type Key = string | number;

/** Receives the outputs of a function; the timestamp defaults to the input record's. */
export interface Collector<T> {
  /** Emits one record downstream. */
  collect(value: T): void;
}

/** Reads a record's event timestamp (epoch milliseconds). */
export type TimestampAssigner<T> = (value: T) => number;

/** How a source derives event time and watermarks. */
export interface WatermarkStrategy<T> {
  /** Event time of a record; absent means "no event time" (watermarks never advance). */
  timestamp?: TimestampAssigner<T>;
  /** Bounded out-of-orderness in ms: watermark = maxTimestamp - bound - 1 (Flink semantics). */
  maxOutOfOrdernessMs?: number;
  /** A partition with no record for this long (processing time) stops holding watermarks back. */
  idleTimeoutMs?: number;
}

/** Time-to-live of a state entry, in processing time (Flink's StateTtlConfig). */
export interface StateTtl {
  /** Entries expire this long after their last write (or read, with `updateOnRead`). */
  ttlMs: number;
  /** Reads refresh the expiry too (Flink's OnReadAndWrite). */
  updateOnRead?: boolean;
}

/** Options of a keyed state handle. */
export interface StateOptions {
  /** Name unique within the operator; it is part of the state's identity in checkpoints. */
  name: string;
  /** Optional expiry. */
  ttl?: StateTtl;
}

/** One value per key. */
export interface ValueState<T> {
  /** The current key's value, or undefined. */
  value(): T | undefined;
  /** Replaces the current key's value. */
  update(value: T): void;
  /** Removes the current key's value. */
  clear(): void;
}

/** An append-mostly list per key. */
export interface ListState<T> {
  /** The current key's list (empty when unset); do not mutate it. */
  get(): readonly T[];
  /** Appends one element. */
  add(value: T): void;
  /** Replaces the whole list. */
  update(values: T[]): void;
  /** Removes the list. */
  clear(): void;
}

/** A map per key. */
export interface MapState<K, V> {
  /** The value under `key` for the current key. */
  get(key: K): V | undefined;
  /** Sets one entry. */
  put(key: K, value: V): void;
  /** Removes one entry. */
  remove(key: K): void;
  /** True when the entry exists. */
  has(key: K): boolean;
  /** All entries (do not mutate the map while iterating). */
  entries(): IterableIterator<[K, V]>;
  /** Number of entries. */
  size(): number;
  /** Removes every entry for the current key. */
  clear(): void;
}

/** An incremental aggregation per key (Flink's AggregatingState / ReducingState). */
export interface AggregatingState<IN, OUT> {
  /** Folds one input into the current key's accumulator. */
  add(value: IN): void;
  /** The aggregate so far, or undefined when nothing was added. */
  get(): OUT | undefined;
  /** Drops the accumulator. */
  clear(): void;
}

/** Incremental aggregation: accumulators must be structured-clone serialisable (checkpoints). */
export interface AggregateFunction<IN, ACC, OUT> {
  /** A fresh accumulator. */
  createAccumulator(): ACC;
  /** Folds a value in; may mutate `acc` and return it. */
  add(value: IN, acc: ACC): ACC;
  /** The result for an accumulator (must not mutate it: windows may fire again). */
  getResult(acc: ACC): OUT;
  /** Combines two accumulators (sessions merging, a sliding window's panes); may mutate and return `a`, must not change `b`. */
  merge(a: ACC, b: ACC): ACC;
  /** What the accumulator holds, so state records its schema and a changed job can migrate it (optional). */
  layout?: AccumulatorLayout;
  /**
   * True when merging an accumulator of some records into one of earlier records gives exactly
   * what adding those records one by one would (counts, extremes, sets, lists; not floating-point
   * sums, whose rounding depends on the order). Only then may a window's records be folded before
   * its keyBy (ADR 40); absent: never.
   */
  mergesExactly?: boolean;
}

/** One value an accumulator aggregates: its output name and what computes it (function and arguments). */
export interface AccumulatorField {
  name: string;
  kind: string;
}

/** The layout of an aggregate's accumulator (recorded with its state; see runtime/state/schema.ts). */
export interface AccumulatorLayout {
  /** The aggregated values, in accumulator order. */
  fields: AccumulatorField[];
  /** A converter of accumulators written with `from`, or what changed when they cannot be converted. */
  migrateFrom(from: readonly AccumulatorField[]): ((acc: unknown, key: Key) => unknown) | string;
}

/** Registers and deletes timers for the current key. */
export interface TimerService {
  /** Current watermark of the operator. */
  currentWatermark(): number;
  /** Current processing time (the injectable clock). */
  currentProcessingTime(): number;
  /** Calls onTimer when the watermark reaches `ts`; duplicates for the same key and time collapse. */
  registerEventTimeTimer(ts: number): void;
  /** Calls onTimer when processing time reaches `ts`. */
  registerProcessingTimeTimer(ts: number): void;
  /** Deletes an event-time timer of the current key. */
  deleteEventTimeTimer(ts: number): void;
  /** Deletes a processing-time timer of the current key. */
  deleteProcessingTimeTimer(ts: number): void;
}

/** What a function sees about the record it handles. */
export interface Context {
  /** Event timestamp of the current record (or the timer's time in onTimer). */
  timestamp(): number;
  /** Emits to a side output. */
  output<X>(tag: OutputTag<X>, value: X): void;
  /** Current watermark of the operator. */
  currentWatermark(): number;
}

/** Context of keyed functions. */
export interface KeyedContext<K extends Key> extends Context {
  /** The current key. */
  key(): K;
  /** Timers of the current key. */
  timerService(): TimerService;
}

/** Context of onTimer. */
export interface OnTimerContext<K extends Key> extends KeyedContext<K> {
  /** Which clock fired the timer. */
  timeDomain(): "event" | "processing";
}

/** Creates keyed state handles; called once per task when the operator opens. */
export interface RuntimeContext {
  /** Index of the task (partition) this instance runs. */
  readonly taskIndex: number;
  /** Number of tasks. */
  readonly parallelism: number;
  /** Operator uid. */
  readonly uid: string;
  /** A value state. */
  valueState<T>(options: StateOptions): ValueState<T>;
  /** A list state. */
  listState<T>(options: StateOptions): ListState<T>;
  /** A map state. */
  mapState<K, V>(options: StateOptions): MapState<K, V>;
  /** An aggregating state. */
  aggregatingState<IN, ACC, OUT>(options: StateOptions & { aggregate: AggregateFunction<IN, ACC, OUT> }): AggregatingState<IN, OUT>;
}

/** A process function over a non-keyed stream (no state, no timers). */
export interface ProcessFunction<I, O> {
  /** Handles one record. */
  processElement(value: I, ctx: Context, out: Collector<O>): void;
}

/** A keyed process function with state and timers. */
export interface KeyedProcessFunction<K extends Key, I, O> {
  /** Handles one record of the current key. */
  processElement(value: I, ctx: KeyedContext<K>, out: Collector<O>): void;
  /** Handles a timer of the current key. */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
  /**
   * Loads what the coming batch of records needs from outside the job (an asynchronous lookup),
   * once per micro-batch before processElement runs for each of its `count` first values.
   */
  prepareBatch?(values: readonly I[], count: number): Promise<void>;
  /** Releases what the function opened (connections); called when the job ends or fails. */
  close?(): Promise<void>;
}

/** A two-input function (connect); keyed when both inputs are keyed. */
export interface CoProcessFunction<K extends Key, I1, I2, O> {
  /** Handles a record of the first input. */
  processElement1(value: I1, ctx: KeyedContext<K>, out: Collector<O>): void;
  /** Handles a record of the second input. */
  processElement2(value: I2, ctx: KeyedContext<K>, out: Collector<O>): void;
  /** Handles a timer (keyed only). */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/** Context of a keyed record in a broadcast-connected function: broadcast state is read-only. */
export interface KeyedBroadcastContext<K extends Key> extends OnTimerContext<K> {
  /** The broadcast state `name` (the same on every task), read-only. */
  broadcastState<V>(name: string): ReadonlyMap<string, V>;
}

/** Context of a broadcast record: broadcast state is writable, there is no current key. */
export interface BroadcastContext extends Context {
  /** The broadcast state `name`; every task applies the same updates, so copies stay equal. */
  broadcastState<V>(name: string): Map<string, V>;
}

/**
 * A keyed stream connected with a broadcast stream (rules, configuration): keyed records see
 * the broadcast state read-only; broadcast records update it on every task.
 */
export interface KeyedBroadcastProcessFunction<K extends Key, I, B, O> {
  /** Handles a keyed record. */
  processElement(value: I, ctx: KeyedBroadcastContext<K>, out: Collector<O>): void;
  /** Handles a broadcast record (delivered to every task). */
  processBroadcastElement(value: B, ctx: BroadcastContext, out: Collector<O>): void;
  /** Handles a timer of the current key. */
  onTimer?(timestamp: number, ctx: KeyedBroadcastContext<K>, out: Collector<O>): void;
}

/** Builds a function instance per task; state handles are created here, once. */
export type Factory<F> = (rt: RuntimeContext) => F;
