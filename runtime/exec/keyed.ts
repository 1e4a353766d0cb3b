/**
 * Shared machinery of keyed operators: state tables at the current key, event- and
 * processing-time timers, and the prefetch-then-fire protocol around watermarks.
 */
import type { AggregateFunction, Key, RuntimeContext, StateOptions, StateTtl, TimerService } from "../api/functions.ts";
import { aggregatingHandle, listHandle, mapHandle, valueHandle, type KeyScope } from "../state/handles.ts";
import type { StateTable } from "../state/table.ts";
import { TimerQueue } from "../state/timers.ts";
import { MIN_WATERMARK } from "../time/watermarks.ts";
import type { TimerSnapshot } from "../checkpoint/format.ts";
import type { OperatorContext } from "./operator.ts";

/** Called when a timer fires, with the current key already set. */
export type TimerCallback = (key: Key, ts: number, domain: "event" | "processing") => void;

/** State, timers and key scope of one keyed operator instance. */
export class KeyedRuntime implements KeyScope {
  /** The key being handled. */
  currentKey: Key = "";
  /** The operator's current event time. */
  watermark = MIN_WATERMARK;
  /** Event-time timers. */
  readonly eventTimers = new TimerQueue();
  /** Processing-time timers. */
  readonly processingTimers = new TimerQueue();
  /** Timer service bound to the current key. */
  readonly timerService: TimerService;
  private readonly ctx: OperatorContext;
  private readonly tables: StateTable<unknown>[] = [];
  private readonly dueTs: number[] = [];
  private readonly dueKeys = new Set<Key>();
  private readonly dueKeyList: Key[] = [];
  /** The due timers' keys are more than the cache should load at once: the firing goes in slices. */
  private sliced = false;
  private readonly fireEvent: (key: Key, ts: number) => void;
  private readonly fireProcessing: (key: Key, ts: number) => void;

  constructor(ctx: OperatorContext, onTimer: TimerCallback) {
    this.ctx = ctx;
    ctx.backend.registerTimers({ uid: ctx.uid, snapshot: () => this.snapshotTimers(), restore: (t) => this.restoreTimers(t) });
    this.fireEvent = (key, ts) => {
      this.currentKey = key;
      onTimer(key, ts, "event");
    };
    this.fireProcessing = (key, ts) => {
      this.currentKey = key;
      onTimer(key, ts, "processing");
    };
    this.timerService = {
      currentWatermark: () => this.watermark,
      currentProcessingTime: () => ctx.clock.now(),
      registerEventTimeTimer: (ts) => this.eventTimers.register(this.currentKey, ts),
      registerProcessingTimeTimer: (ts) => this.processingTimers.register(this.currentKey, ts),
      deleteEventTimeTimer: (ts) => this.eventTimers.delete(this.currentKey, ts),
      deleteProcessingTimeTimer: (ts) => this.processingTimers.delete(this.currentKey, ts),
    };
  }

  /** Declares a state table of this operator. */
  table<T>(name: string, ttl?: StateTtl): StateTable<T> {
    const t = this.ctx.backend.table<T>({ uid: this.ctx.uid, name, ...(ttl ? { ttl } : {}) });
    this.tables.push(t);
    return t;
  }

  /** A RuntimeContext handing out state handles scoped to the current key. */
  runtimeContext(): RuntimeContext {
    const opts = (o: StateOptions): [string, StateTtl | undefined] => [o.name, o.ttl];
    return {
      taskIndex: this.ctx.taskIndex,
      parallelism: this.ctx.parallelism,
      uid: this.ctx.uid,
      valueState: <T>(o: StateOptions) => valueHandle<T>(this.table<T>(...opts(o)), this),
      listState: <T>(o: StateOptions) => listHandle<T>(this.table<T[]>(...opts(o)), this),
      mapState: <K, V>(o: StateOptions) => mapHandle<K, V>(this.table<Map<K, V>>(...opts(o)), this),
      aggregatingState: <IN, ACC, OUT>(o: StateOptions & { aggregate: AggregateFunction<IN, ACC, OUT> }) =>
        aggregatingHandle<IN, ACC, OUT>(this.table<ACC>(...opts(o)), this, o.aggregate),
    };
  }

  /** Loads this operator's state for keys[from, from + count) (one getMany for the whole batch). */
  prefetch(keys: readonly Key[], count = keys.length, from = 0): Promise<void> {
    return this.ctx.backend.prefetch(this.tables, keys, count, from);
  }

  /** Collects the event-time timers due at `wm` and loads their keys' state. */
  prepareWatermark(wm: number): Promise<void> {
    this.dueTs.length = 0;
    this.dueKeys.clear();
    this.eventTimers.collectDue(wm, this.dueTs, this.keySink());
    return this.prefetchDue();
  }

  /** Where due timers' keys are collected: nowhere for heap state (nothing to prefetch). */
  private keySink(): Set<Key> | undefined {
    return this.ctx.backend.store.persistent ? this.dueKeys : undefined;
  }

  private prefetchDue(): Promise<void> {
    if (this.dueKeys.size === 0 || !this.ctx.backend.store.persistent) return Promise.resolve();
    if (this.dueKeys.size > this.ctx.backend.sliceKeys) {
      // Loaded slice by slice as they fire (a window end shared by every key of a large key space).
      this.sliced = true;
      this.dueKeys.clear();
      return Promise.resolve();
    }
    this.dueKeyList.length = 0;
    for (const k of this.dueKeys) this.dueKeyList.push(k);
    return this.prefetch(this.dueKeyList);
  }

  /**
   * Sets the watermark and fires every event-time timer up to it, in timestamp order. Returns a
   * promise when the due keys did not fit in one load: then their state is loaded, and the cache
   * evicted, a slice of keys at a time, so memory stays within the cache's bound.
   */
  advanceWatermark(wm: number): Promise<void> | undefined {
    if (this.sliced) {
      this.sliced = false;
      this.watermark = wm;
      return this.fireInSlices(this.eventTimers, this.fireEvent, wm);
    }
    this.watermark = wm;
    for (const ts of this.dueTs) this.eventTimers.fire(ts, this.fireEvent);
    this.dueTs.length = 0;
    // Timers registered while firing (for already-loaded keys) that are already due.
    for (let ts = this.eventTimers.peek(); ts !== undefined && ts <= wm; ts = this.eventTimers.peek()) {
      this.eventTimers.collectDue(ts, this.dueTs, undefined);
      for (const t of this.dueTs) this.eventTimers.fire(t, this.fireEvent);
      this.dueTs.length = 0;
    }
    return undefined;
  }

  /**
   * Fires the collected timestamps of `queue` a slice of keys at a time, evicting before each
   * slice's load; with `until` (event time), then the timers firing registered that are due too.
   */
  private async fireInSlices(queue: TimerQueue, fire: (key: Key, ts: number) => void, until: number | undefined): Promise<void> {
    const backend = this.ctx.backend;
    const load = async (keys: Key[]): Promise<void> => {
      await backend.maybeEvict();
      await this.prefetch(keys);
    };
    const due = [...this.dueTs];
    this.dueTs.length = 0;
    while (due.length > 0) {
      for (const ts of due) await queue.fireInSlices(ts, backend.sliceKeys, load, fire);
      due.length = 0;
      if (until !== undefined) queue.collectDue(until, due, undefined);
    }
  }

  /** Collects the processing-time timers due at `now` and loads their keys' state. */
  prepareProcessingTime(now: number): Promise<void> {
    this.dueTs.length = 0;
    this.dueKeys.clear();
    this.processingTimers.collectDue(now, this.dueTs, this.keySink());
    return this.prefetchDue();
  }

  /** Fires the processing-time timers collected by prepareProcessingTime (a promise when they fire in slices). */
  advanceProcessingTime(): Promise<void> | undefined {
    if (this.sliced) {
      this.sliced = false;
      return this.fireInSlices(this.processingTimers, this.fireProcessing, undefined);
    }
    for (const ts of this.dueTs) this.processingTimers.fire(ts, this.fireProcessing);
    this.dueTs.length = 0;
    return undefined;
  }

  /** All timers, for a checkpoint. */
  snapshotTimers(): TimerSnapshot {
    const flat = (q: TimerQueue): [number, Key][] => q.snapshot().flatMap(([ts, keys]) => keys.map((k): [number, Key] => [ts, k]));
    return { event: flat(this.eventTimers), processing: flat(this.processingTimers) };
  }

  /** Re-registers timers of a checkpoint. */
  restoreTimers(s: TimerSnapshot): void {
    for (const [ts, k] of s.event) this.eventTimers.register(k, ts);
    for (const [ts, k] of s.processing) this.processingTimers.register(k, ts);
  }

  /** Keyed entries in memory plus timers. */
  stateSize(): number {
    let n = this.eventTimers.size + this.processingTimers.size;
    for (const t of this.tables) n += t.size;
    return n;
  }
}
