/**
 * Shared machinery of keyed operators: state tables at the current key, event- and
 * processing-time timers, and the prefetch-then-fire protocol around watermarks.
 */
import type { AggregateFunction, Key, RuntimeContext, StateOptions, StateTtl, TimerService } from "../api/functions.ts";
import { aggregatingHandle, listHandle, mapHandle, valueHandle, type KeyScope } from "../state/handles.ts";
import type { StateTable } from "../state/table.ts";
import type { TimerQueue } from "../state/timers.ts";
import { TieredTimers } from "../state/tiered-timers.ts";
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
  readonly eventTimers: TieredTimers;
  /** Processing-time timers. */
  readonly processingTimers: TieredTimers;
  /** The processing time whose due timers were collected last (those may be firing: they stay in memory). */
  private processingNow = MIN_WATERMARK;
  /** Timer service bound to the current key. */
  readonly timerService: TimerService;
  private readonly ctx: OperatorContext;
  private readonly tables: StateTable<unknown>[] = [];
  private readonly dueTs: number[] = [];
  /** Where a timestamp a firing registered is popped to before it fires (see fireRegisteredBefore). */
  private readonly earlierTs: number[] = [];
  private readonly dueKeys = new Set<Key>();
  private readonly dueKeyList: Key[] = [];
  /** The due timers' keys are more than the cache should load at once: the firing goes in slices. */
  private sliced = false;
  private readonly fireEvent: (key: Key, ts: number) => void;
  private readonly fireProcessing: (key: Key, ts: number) => void;

  constructor(ctx: OperatorContext, onTimer: TimerCallback) {
    this.ctx = ctx;
    this.eventTimers = new TieredTimers({ backend: ctx.backend, uid: ctx.uid, domain: "event" });
    this.processingTimers = new TieredTimers({ backend: ctx.backend, uid: ctx.uid, domain: "processing" });
    ctx.backend.registerTimers({
      uid: ctx.uid,
      snapshot: () => this.snapshotTimers(),
      restore: (t) => this.restoreTimers(t),
      spill: () => {
        this.eventTimers.spillOver(this.watermark);
        this.processingTimers.spillOver(this.processingNow);
      },
    });
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

  /** Collects the event-time timers due at `wm` and loads their keys' state (first taking stored timers back when memory runs low). */
  prepareWatermark(wm: number): Promise<void> {
    return this.prepareDue(this.eventTimers, wm);
  }

  private prepareDue(timers: TieredTimers, until: number): Promise<void> {
    const refill = timers.refill();
    return refill === undefined ? this.collectDue(timers, until) : refill.then(() => this.collectDue(timers, until));
  }

  private collectDue(timers: TieredTimers, until: number): Promise<void> {
    this.dueTs.length = 0;
    this.dueKeys.clear();
    timers.memory.collectDue(until, this.dueTs, this.keySink());
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
   * promise when the due keys did not fit in one load, or when due timers are in the store: then
   * their state is loaded, and the cache evicted, a slice of keys at a time, so memory stays
   * within the cache's bound.
   */
  advanceWatermark(wm: number): Promise<void> | undefined {
    this.watermark = wm;
    const memory = this.eventTimers.memory;
    if (this.sliced) {
      this.sliced = false;
      return this.fireInSlices(this.eventTimers, this.fireEvent, wm, true);
    }
    for (const ts of this.dueTs) {
      this.fireRegisteredBefore(ts);
      memory.fire(ts, this.fireEvent);
    }
    this.dueTs.length = 0;
    // Timers registered while firing (for already-loaded keys) that are already due.
    this.fireRegisteredBefore(wm + 1);
    return this.eventTimers.storedDue(wm) ? this.fireInSlices(this.eventTimers, this.fireEvent, wm, true) : undefined;
  }

  /**
   * Fires the event-time timers in memory before `ts` that callbacks registered after the due
   * ones were collected, so timers fire in timestamp order as in Flink (a firing in slices orders
   * its memory timers the same way; stored timers registered by a firing fire after it).
   */
  private fireRegisteredBefore(ts: number): void {
    const memory = this.eventTimers.memory;
    for (let t = memory.peek(); t !== undefined && t < ts; t = memory.peek()) {
      this.popEarliest(memory, t);
      memory.fire(t, this.fireEvent);
    }
  }

  /** Takes `t`, the earliest timestamp of `memory`, off its heap (its timers stay until fired). */
  private popEarliest(memory: TimerQueue, t: number): void {
    memory.collectDue(t, this.earlierTs, undefined);
    this.earlierTs.length = 0;
  }

  /**
   * Fires the collected timestamps of the memory tier a slice of keys at a time, evicting before
   * each slice's load, then the stored timers due at `until`; with `again` (event time), then
   * whatever the firing registered that is due too.
   */
  private async fireInSlices(timers: TieredTimers, fire: (key: Key, ts: number) => void, until: number, again: boolean): Promise<void> {
    const backend = this.ctx.backend;
    const load = async (keys: Key[]): Promise<void> => {
      await backend.maybeEvict();
      await this.prefetch(keys);
    };
    const due = [...this.dueTs];
    this.dueTs.length = 0;
    for (;;) {
      for (let i = 0; i < due.length; i++) {
        // A timer an earlier callback registered before this timestamp fires first (timestamp order).
        const next = timers.memory.peek();
        if (next !== undefined && next < (due[i] as number)) {
          this.popEarliest(timers.memory, next);
          due.splice(i, 0, next);
        }
        await timers.memory.fireInSlices(due[i] as number, backend.sliceKeys, load, fire);
      }
      due.length = 0;
      if (timers.storedDue(until)) await timers.fireStored(until, backend.sliceKeys, load, fire);
      if (!again) return;
      timers.memory.collectDue(until, due, undefined);
      if (due.length === 0 && !timers.storedDue(until)) return;
    }
  }

  /** Collects the processing-time timers due at `now` and loads their keys' state. */
  prepareProcessingTime(now: number): Promise<void> {
    this.processingNow = now;
    return this.prepareDue(this.processingTimers, now);
  }

  /** Fires the processing-time timers collected by prepareProcessingTime (a promise when they fire in slices or from the store). */
  advanceProcessingTime(): Promise<void> | undefined {
    if (this.sliced) {
      this.sliced = false;
      return this.fireInSlices(this.processingTimers, this.fireProcessing, this.processingNow, false);
    }
    for (const ts of this.dueTs) this.processingTimers.memory.fire(ts, this.fireProcessing);
    this.dueTs.length = 0;
    const stored = this.processingTimers.storedDue(this.processingNow);
    return stored ? this.fireInSlices(this.processingTimers, this.fireProcessing, this.processingNow, false) : undefined;
  }

  /** The timers in memory and where the stored ones begin, for a checkpoint (stored timers are keyed entries). */
  snapshotTimers(): TimerSnapshot {
    const flat = (t: TieredTimers): [number, Key][] => t.memory.snapshot().flatMap(([ts, keys]) => keys.map((k): [number, Key] => [ts, k]));
    const snap: TimerSnapshot = { event: flat(this.eventTimers), processing: flat(this.processingTimers) };
    const event = this.eventTimers.snapshotHorizon();
    const processing = this.processingTimers.snapshotHorizon();
    if (event !== undefined || processing !== undefined) {
      snap.horizon = { ...(event === undefined ? {} : { event }), ...(processing === undefined ? {} : { processing }) };
    }
    return snap;
  }

  /** Re-registers timers of a checkpoint (the stored ones come with the keyed entries). */
  restoreTimers(s: TimerSnapshot): void {
    this.eventTimers.restoreHorizon(s.horizon?.event);
    this.processingTimers.restoreHorizon(s.horizon?.processing);
    for (const [ts, k] of s.event) this.eventTimers.restore(k, ts);
    for (const [ts, k] of s.processing) this.processingTimers.restore(k, ts);
  }

  /** Keyed entries in memory plus timers. */
  stateSize(): number {
    let n = this.eventTimers.size + this.processingTimers.size;
    for (const t of this.tables) n += t.size;
    return n;
  }
}
