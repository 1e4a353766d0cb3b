/**
 * OVER (PARTITION BY key ORDER BY event time RANGE BETWEEN r PRECEDING AND CURRENT ROW), as
 * Flink SQL's RowTimeRangeBoundedPrecedingFunction: rows wait until the watermark passes their
 * timestamp, then each is emitted with the aggregate of its key's rows in [ts - r, ts] (rows
 * with equal timestamps are peers and share one result). Rows late on arrival are dropped.
 * A cleanup timer one range after each row frees the rows of keys that went quiet.
 */
import type { AggregateFunction, Key } from "../api/functions.ts";
import { userError } from "../errors.ts";
import { KeyedRuntime } from "../exec/keyed.ts";
import type { Operator, Output } from "../exec/operator.ts";
import type { StateTable } from "../state/table.ts";

/** Options of an OVER aggregation (the graph node's spec). */
export interface OverOperatorOptions {
  /** Range preceding the current row (ms). */
  rangeMs: number;
  /** Aggregate over the range. */
  aggregate: AggregateFunction<unknown, unknown, unknown>;
  /** Output row from the input row and the aggregate. */
  select: (value: unknown, result: unknown) => unknown;
  /** Counts dropped late rows. */
  onLateDropped?: () => void;
}

/** Creates an OVER aggregation operator instance. */
export function overOperator(options: OverOperatorOptions): Operator {
  const { rangeMs, aggregate: agg, select } = options;
  let kr: KeyedRuntime;
  let out: Output;
  let uid = "";
  let pending: StateTable<Map<number, unknown[]>>;
  let retained: StateTable<[number, unknown][]>;

  /** Drops retained rows older than the range of `t`. */
  function trim(kept: [number, unknown][], t: number): void {
    let drop = 0;
    while (drop < kept.length && (kept[drop] as [number, unknown])[0] < t - rangeMs) drop++;
    if (drop > 0) kept.splice(0, drop);
  }

  function onTimer(key: Key, t: number): void {
    const byTs = pending.get(key);
    const rows = byTs?.get(t);
    if (byTs === undefined || rows === undefined) {
      // A cleanup timer: once a key is quiet for the whole range, its retained rows go.
      const kept = retained.get(key);
      if (kept === undefined) return;
      trim(kept, t);
      if (kept.length === 0) retained.remove(key);
      else retained.touch(key);
      return;
    }
    byTs.delete(t);
    if (byTs.size === 0) pending.remove(key);
    else pending.touch(key);
    const kept = retained.get(key) ?? [];
    trim(kept, t);
    for (const r of rows) kept.push([t, r]);
    retained.put(key, kept);
    kr.eventTimers.register(key, t + rangeMs + 1);
    try {
      let acc = agg.createAccumulator();
      for (const [, v] of kept) acc = agg.add(v, acc);
      const result = agg.getResult(acc);
      for (const r of rows) out.emit(select(r, result), t);
    } catch (err) {
      throw userError(uid, err);
    }
  }

  return {
    open: async (ctx) => {
      out = ctx.output;
      uid = ctx.uid;
      kr = new KeyedRuntime(ctx, (key, ts) => onTimer(key, ts));
      pending = kr.table("pending");
      retained = kr.table("retained");
    },
    processElement: (_input, value, ts, key) => {
      const k = key as Key;
      kr.currentKey = k;
      if (ts <= kr.watermark) {
        options.onLateDropped?.();
        return;
      }
      let byTs = pending.get(k);
      if (byTs === undefined) {
        byTs = new Map();
        pending.put(k, byTs);
      } else pending.touch(k);
      const rows = byTs.get(ts);
      if (rows === undefined) byTs.set(ts, [value]);
      else rows.push(value);
      kr.eventTimers.register(k, ts);
    },
    prefetch: (keys, count, from) => kr.prefetch(keys, count, from),
    prepareWatermark: (wm) => kr.prepareWatermark(wm),
    snapshotTimers: () => kr.snapshotTimers(),
    restoreTimers: (snap) => kr.restoreTimers(snap),
    onWatermark: (wm) => kr.advanceWatermark(wm),
    stateSize: () => kr.stateSize(),
  };
}
