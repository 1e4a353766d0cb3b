/**
 * The keyed window operator, with Flink's WindowOperator semantics: event-time trigger at
 * window.maxTimestamp, immediate re-firing for late records within allowed lateness, state
 * cleanup at maxTimestamp + allowedLateness, late side output for records no window accepts,
 * merging session windows, and count triggers for global windows.
 *
 * State per key: fixed windows as parallel arrays of window ends and accumulators (the end
 * identifies a window of fixed size; a key has only size/slide live windows, and a short linear
 * scan beats hashing epoch-millisecond doubles), sessions as a start-ordered array. Timers are (key, timestamp) pairs; a firing looks
 * the window up by timestamp, so stale timers of merged sessions are harmless no-ops.
 */
import type { AggregateFunction, Key } from "../api/functions.ts";
import { userError } from "../errors.ts";
import { KeyedRuntime } from "../exec/keyed.ts";
import type { Operator, Output } from "../exec/operator.ts";
import type { StateTable } from "../state/table.ts";
import type { Clock } from "../time/clock.ts";
import { MAX_WATERMARK } from "../time/watermarks.ts";
import { GLOBAL_WINDOW, windowStart } from "./assigners.ts";
import { partialAwareAggregate, recordsIn } from "./pre-aggregate.ts";
import { slidingPanes, type PanedWindows, type SlidingPanes } from "./sliding-panes.ts";
import type { TimeWindow, WindowAssigner, WindowFunctionSpec, WindowTrigger } from "./types.ts";

type Acc = unknown;
/**
 * The live fixed windows of one key: ends[i] is the end of the window whose accumulator is
 * accs[i]; sliding aggregations keep panes beside them (sliding-panes.ts).
 */
type FixedWindows = PanedWindows;
/** A session: [start, end, accumulator]. */
type Session = [number, number, Acc];

const collectAll: AggregateFunction<unknown, unknown[], unknown[]> = {
  createAccumulator: () => [],
  add: (v, acc) => {
    acc.push(v);
    return acc;
  },
  getResult: (acc) => acc,
  merge: (a, b) => {
    for (const x of b) a.push(x);
    return a;
  },
};

/** Options of a window operator (the graph node's spec). */
export interface WindowOperatorOptions {
  /** Window assigner. */
  assigner: WindowAssigner;
  /** Trigger. */
  trigger: WindowTrigger;
  /** Allowed lateness (ms). */
  allowedLatenessMs: number;
  /** Side output for late records. */
  lateTag?: string;
  /** The window function. */
  fn: WindowFunctionSpec;
  /** Its input may hold partials folded before the keyBy (pre-aggregate.ts). */
  preAggregated?: boolean;
  /** Counts records dropped as late (no side output configured). */
  onLateDropped?: (n?: number) => void;
}

/** Creates a window operator instance. */
export function windowOperator(options: WindowOperatorOptions): Operator {
  const { assigner, trigger, lateTag, fn } = options;
  const aggregate = fn.kind === "aggregate" ? fn.aggregate : collectAll;
  const agg = options.preAggregated === true ? partialAwareAggregate(aggregate) : aggregate;
  let kr: KeyedRuntime;
  let out: Output;
  let uid = "";
  let fixed: StateTable<FixedWindows>;
  let sessions: StateTable<Session[]>;
  let counts: StateTable<number>;
  let clock: Clock;
  const isSession = assigner.kind === "session";
  const isCount = trigger.kind === "count";
  // Processing-time windows assign by the task's clock and fire on processing-time timers; they
  // are never late, so lateness and the late side output apply to event time only.
  const processingTime = assigner.kind !== "global" && assigner.time === "processing";
  const eventTime = assigner.kind !== "global" && !processingTime;
  const lateness = processingTime ? 0 : options.allowedLatenessMs;
  const size = assigner.kind === "tumbling" || assigner.kind === "sliding" ? assigner.sizeMs : 0;
  const slide = assigner.kind === "sliding" ? assigner.slideMs : size;
  const offset = assigner.kind === "tumbling" || assigner.kind === "sliding" ? assigner.offsetMs : 0;
  const collector = { ts: 0, collect: (v: unknown) => out.emit(v, collector.ts) };
  // Sliding windows that aggregate (at the window's end) keep one accumulator per pane, not per window.
  const panes: SlidingPanes | undefined =
    assigner.kind === "sliding" && fn.kind === "aggregate" && trigger.kind === "eventTime"
      ? slidingPanes({
          sizeMs: size,
          slideMs: slide,
          offsetMs: offset,
          latenessMs: lateness,
          eventTime,
          agg,
          watermark: () => kr.watermark,
          register: (key, ts) => (processingTime ? kr.processingTimers : kr.eventTimers).register(key, ts),
          emit,
        })
      : undefined;

  /** Emits the result of one window (timestamp: the window's max timestamp). */
  function emit(key: Key, start: number, end: number, acc: Acc): void {
    const window: TimeWindow = end === GLOBAL_WINDOW.end ? GLOBAL_WINDOW : { start, end };
    collector.ts = end - 1;
    try {
      if (fn.kind === "process") fn.process(acc as unknown[], { key, window }, collector);
      else {
        const result = agg.getResult(acc);
        out.emit(fn.window ? fn.window(result, { key, window }) : result, collector.ts);
      }
    } catch (err) {
      throw userError(uid, err);
    }
  }

  /** The key's window map, created on first use (one table lookup per record). */
  function windowsOf(key: Key): FixedWindows {
    let windows = fixed.get(key);
    if (windows === undefined) {
      windows = panes ? panes.create() : { ends: [], accs: [] };
      fixed.put(key, windows);
    } else fixed.touch(key);
    return windows;
  }

  /**
   * Adds a record to the fixed window ending at `end`; returns false when the window is late.
   * Timers are registered only when the window's accumulator is created: an existing window
   * already has them (or already fired, and then fires again right here).
   */
  function addToFixed(key: Key, windows: FixedWindows, value: unknown, end: number): boolean {
    const maxTs = end - 1;
    const wm = kr.watermark;
    if (eventTime && maxTs + lateness <= wm) return false;
    const i = windows.ends.indexOf(end);
    const prev = i < 0 ? undefined : windows.accs[i];
    const acc = agg.add(value, i < 0 ? agg.createAccumulator() : prev);
    if (i < 0) {
      windows.ends.push(end);
      windows.accs.push(acc);
    } else windows.accs[i] = acc;
    if (isCount) {
      const n = (counts.get(key) ?? 0) + 1;
      if (n >= (trigger as { count: number }).count) {
        emit(key, end - size, end, acc);
        counts.remove(key);
        removeWindow(windows, end);
      } else counts.put(key, n);
      return true;
    }
    if (processingTime) {
      if (i < 0) kr.processingTimers.register(key, maxTs);
      return true;
    }
    if (maxTs <= wm) emit(key, end - size, end, acc);
    else if (i < 0) kr.eventTimers.register(key, maxTs);
    if (lateness > 0 && i < 0) kr.eventTimers.register(key, maxTs + lateness);
    return true;
  }

  /** Drops the window ending at `end`; true when it existed. */
  function removeWindow(windows: FixedWindows, end: number): boolean {
    const { ends, accs } = windows;
    const i = ends.indexOf(end);
    if (i < 0) return false;
    // Order does not matter (lookups are by end): move the last entry into the hole.
    const last = ends.length - 1;
    ends[i] = ends[last] as number;
    accs[i] = accs[last];
    ends.length = last;
    accs.length = last;
    return true;
  }

  /** Adds a record to its session, merging every session it touches. */
  function addToSession(key: Key, value: unknown, ts: number): boolean {
    const gap = (assigner as { gapMs: number }).gapMs;
    let start = ts;
    let end = ts + gap;
    const list = sessions.get(key) ?? [];
    let first = -1;
    let last = -1;
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as Session;
      // Flink's TimeWindow.intersects: touching windows merge too.
      if (s[0] <= end && s[1] >= start) {
        if (first < 0) first = i;
        last = i;
        if (s[0] < start) start = s[0];
        if (s[1] > end) end = s[1];
      }
    }
    const maxTs = end - 1;
    const wm = kr.watermark;
    if (eventTime && maxTs + lateness <= wm) return false;
    let acc: Acc;
    if (first < 0) acc = agg.createAccumulator();
    else {
      acc = (list[first] as Session)[2];
      for (let i = first + 1; i <= last; i++) acc = agg.merge(acc, (list[i] as Session)[2]);
    }
    acc = agg.add(value, acc);
    const merged: Session = [start, end, acc];
    if (first < 0) {
      let at = 0;
      while (at < list.length && (list[at] as Session)[0] < start) at++;
      list.splice(at, 0, merged);
    } else list.splice(first, last - first + 1, merged);
    sessions.put(key, list);
    if (processingTime) kr.processingTimers.register(key, maxTs);
    else if (maxTs <= wm) emit(key, start, end, acc);
    else kr.eventTimers.register(key, maxTs);
    if (lateness > 0 && eventTime) kr.eventTimers.register(key, maxTs + lateness);
    return true;
  }

  /**
   * A timer of `key` at `t` (event time, or processing time for processing-time windows): fire
   * windows ending at t, clean those expiring at t (processing-time windows expire as they fire).
   */
  function onTimer(key: Key, t: number): void {
    if (isSession) {
      const list = sessions.get(key);
      if (list === undefined) return;
      let changed = false;
      for (let i = 0; i < list.length; i++) {
        const s = list[i] as Session;
        if (s[1] - 1 === t) emit(key, s[0], s[1], s[2]);
        if (s[1] - 1 + lateness === t) {
          list.splice(i--, 1);
          changed = true;
        }
      }
      if (list.length === 0) sessions.remove(key);
      else if (changed) sessions.touch(key);
      return;
    }
    const windows = fixed.get(key);
    if (windows === undefined) return;
    if (panes) {
      if (panes.onTimer(key, windows, t)) {
        if (panes.isEmpty(windows)) fixed.remove(key);
        else fixed.touch(key);
      }
      return;
    }
    const i = windows.ends.indexOf(t + 1);
    if (i >= 0) emit(key, t + 1 - size, t + 1, windows.accs[i]);
    if (removeWindow(windows, t + 1 - lateness)) {
      if (windows.ends.length === 0) fixed.remove(key);
      else fixed.touch(key);
    }
  }

  return {
    open: async (ctx) => {
      out = ctx.output;
      uid = ctx.uid;
      kr = new KeyedRuntime(ctx, (key, ts) => onTimer(key, ts));
      clock = ctx.clock;
      if (isSession) sessions = kr.table("sessions");
      else fixed = kr.table("windows");
      if (isCount) counts = kr.table("count");
    },
    processElement: (_input, value, eventTs, key) => {
      const k = key as Key;
      const ts = processingTime ? clock.now() : eventTs;
      kr.currentKey = k;
      let accepted = false;
      if (isSession) accepted = addToSession(k, value, ts);
      else {
        const windows = windowsOf(k);
        if (panes) accepted = panes.add(k, windows, value, ts);
        else if (assigner.kind === "global") accepted = addToFixed(k, windows, value, GLOBAL_WINDOW.end);
        else {
          // Sliding: every window [s, s + size) with s in (ts - size, lastStart], latest first (as Flink).
          for (let s = windowStart(ts, slide, offset); s > ts - size; s -= slide) {
            if (addToFixed(k, windows, value, s + size)) accepted = true;
          }
        }
        if (panes ? panes.isEmpty(windows) : windows.ends.length === 0) fixed.remove(k);
      }
      if (!accepted && eventTime && ts + lateness <= kr.watermark) {
        if (lateTag !== undefined) out.emitSide(lateTag, value, ts);
        else options.onLateDropped?.(recordsIn(value));
      }
    },
    prefetch: (keys, count, from) => kr.prefetch(keys, count, from),
    prepareWatermark: (wm) => kr.prepareWatermark(wm),
    ...(processingTime
      ? {
          prepareProcessingTime: (now: number) => kr.prepareProcessingTime(now),
          onProcessingTime: () => kr.advanceProcessingTime(),
        }
      : {}),
    snapshotTimers: () => kr.snapshotTimers(),
    restoreTimers: (snap) => kr.restoreTimers(snap),
    onWatermark: (wm) => kr.advanceWatermark(Math.min(wm, MAX_WATERMARK)),
    stateSize: () => kr.stateSize(),
  };
}
