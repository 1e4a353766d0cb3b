/**
 * Sliding windows aggregated per pane (ADR 35): a record is added once, to the pane of its
 * timestamp — the greatest common divisor of size and slide — instead of to each of the
 * size/slide windows holding it; a window's result is its panes' accumulators merged when it
 * fires. Flink SQL's hopping windows slice the same way.
 *
 * A key's panes are kept in its fixed-window entry (`paneEnds` ascending, `paneAccs`), beside
 * per-window accumulators (`ends`/`accs`) that state written before panes may still hold: those
 * are merged into the windows they belong to and cleaned up as before, so such a savepoint
 * restores unchanged.
 *
 * Timers: a new pane registers every window of it still to fire — all at once, because a
 * firing's timers run in timestamp order only among those registered before it; a window that
 * fired registers its cleanup (with allowed lateness), which drops only what no later window
 * needs. A record for windows that fired but are not yet cleaned up fires them again at once,
 * as Flink does.
 */
import type { AggregateFunction, Key } from "../api/functions.ts";
import { windowStart } from "./assigners.ts";

/** A key's fixed-window entry: per-window accumulators (state from before panes) and panes. */
export interface PanedWindows {
  /** Ends of windows accumulated per window (restored from state written before panes). */
  ends: number[];
  /** Their accumulators. */
  accs: unknown[];
  /** Ends of the key's panes, ascending. */
  paneEnds?: number[];
  /** The panes' accumulators, in the order of `paneEnds`. */
  paneAccs?: unknown[];
}

/** What the pane logic needs from its window operator. */
export interface SlidingPanesOptions {
  sizeMs: number;
  slideMs: number;
  offsetMs: number;
  /** Allowed lateness (ms; 0 for processing time). */
  latenessMs: number;
  /** Event time: records behind the watermark fire windows again or are late. */
  eventTime: boolean;
  agg: AggregateFunction<unknown, unknown, unknown>;
  /** The current watermark (event time). */
  watermark(): number;
  /** Registers a timer of the window's time domain. */
  register(key: Key, ts: number): void;
  /** Emits one window's result. */
  emit(key: Key, start: number, end: number, acc: unknown): void;
}

/** Sliding windows over panes: `add` a record, `onTimer` fires and cleans up. */
export interface SlidingPanes {
  /** A fresh entry for a key. */
  create(): PanedWindows;
  /** Adds a record at `ts`; false when every window holding it was already cleaned up (late). */
  add(key: Key, w: PanedWindows, value: unknown, ts: number): boolean;
  /** A timer at `t`: fires the window ending at t + 1 and cleans up what expires at t; true when `w` changed. */
  onTimer(key: Key, w: PanedWindows, t: number): boolean;
  /** True when the entry holds nothing. */
  isEmpty(w: PanedWindows): boolean;
}

/** The greatest common divisor: a sliding window's pane is gcd(size, slide). */
export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Creates the pane logic of one sliding-window aggregation. */
export function slidingPanes(o: SlidingPanesOptions): SlidingPanes {
  const { sizeMs: size, slideMs: slide, offsetMs: offset, latenessMs: lateness, eventTime, agg } = o;
  const paneMs = gcd(size, slide);
  /** The end of the first window (ascending) that holds the pane ending at `paneEnd`. */
  const firstWindowEnd = (paneEnd: number): number => {
    const s = windowStart(paneEnd - size, slide, offset);
    return (s < paneEnd - size ? s + slide : s) + size;
  };
  const isWindowEnd = (end: number): boolean => windowStart(end - size, slide, offset) === end - size;
  // The pane of the last record and its first and last window ends: records of a key and of
  // neighbouring keys mostly share a pane, and a double's % costs more than the comparisons.
  let paneStart = Number.NaN;
  let paneEnd = Number.NaN;
  let firstEnd = Number.NaN;
  let lastEnd = Number.NaN;
  const locate = (ts: number): void => {
    if (ts >= paneStart && ts < paneEnd) return;
    paneStart = windowStart(ts, paneMs, offset);
    paneEnd = paneStart + paneMs;
    firstEnd = firstWindowEnd(paneEnd);
    lastEnd = windowStart(paneStart, slide, offset) + size;
  };

  /** Merges the window ending at `end` (its per-window part and its panes); undefined when empty. */
  function windowAcc(w: PanedWindows, end: number): unknown {
    let acc: unknown;
    const i = w.ends.indexOf(end);
    if (i >= 0) acc = agg.merge(agg.createAccumulator(), w.accs[i]);
    const ends = w.paneEnds;
    if (ends === undefined) return acc;
    const accs = w.paneAccs as unknown[];
    for (let p = 0; p < ends.length; p++) {
      const e = ends[p] as number;
      if (e > end) break;
      if (e > end - size) acc = agg.merge(acc === undefined ? agg.createAccumulator() : acc, accs[p]);
    }
    return acc;
  }

  /** Fires the window ending at `end` if it holds anything. */
  function fire(key: Key, w: PanedWindows, end: number): void {
    const acc = windowAcc(w, end);
    if (acc === undefined) return;
    o.emit(key, end - size, end, acc);
    if (lateness > 0) o.register(key, end - 1 + lateness);
  }

  /** Drops what the window ending at `end` was the last to need: its per-window part and panes in no later window. */
  function cleanUp(w: PanedWindows, end: number): boolean {
    let changed = false;
    const i = w.ends.indexOf(end);
    if (i >= 0) {
      w.ends.splice(i, 1);
      w.accs.splice(i, 1);
      changed = true;
    }
    const ends = w.paneEnds;
    if (ends !== undefined) {
      let n = 0;
      while (n < ends.length && (ends[n] as number) <= end + slide - size) n++;
      if (n > 0) {
        ends.splice(0, n);
        (w.paneAccs as unknown[]).splice(0, n);
        changed = true;
      }
    }
    return changed;
  }

  return {
    create: () => ({ ends: [], accs: [], paneEnds: [], paneAccs: [] }),
    isEmpty: (w) => w.ends.length === 0 && (w.paneEnds === undefined || w.paneEnds.length === 0),
    add(key, w, value, ts) {
      locate(ts);
      const wm = eventTime ? o.watermark() : Number.NEGATIVE_INFINITY;
      if (lastEnd - 1 + lateness <= wm) return false;
      const ends = (w.paneEnds ??= []);
      const accs = (w.paneAccs ??= []);
      // Records mostly go to the latest pane: look from the end.
      let p = ends.length - 1;
      while (p >= 0 && (ends[p] as number) > paneEnd) p--;
      const created = p < 0 || ends[p] !== paneEnd;
      if (created) {
        const acc = agg.add(value, agg.createAccumulator());
        if (p === ends.length - 1) {
          ends.push(paneEnd);
          accs.push(acc);
        } else {
          ends.splice(p + 1, 0, paneEnd);
          accs.splice(p + 1, 0, acc);
        }
      } else accs[p] = agg.add(value, accs[p]);
      // The common case: a record for a pane that exists, none of whose windows fired yet.
      if (!created && firstEnd - 1 > wm) return true;
      // Latest first, as Flink assigns: a new pane registers the windows still to fire (an existing
      // pane did); those that fired already fire again with the record.
      for (let end = lastEnd; end >= firstEnd; end -= slide) {
        if (end - 1 > wm) {
          if (created) o.register(key, end - 1);
        } else if (end - 1 + lateness > wm) fire(key, w, end);
        else break;
      }
      return true;
    },
    onTimer(key, w, t) {
      const end = t + 1;
      if (isWindowEnd(end)) fire(key, w, end);
      return isWindowEnd(end - lateness) ? cleanUp(w, end - lateness) : false;
    },
  };
}
