/** Keyed process and co-process operators: user functions with keyed state and timers. */
import type { CoProcessFunction, Factory, Key, KeyedProcessFunction, OnTimerContext } from "../../api/functions.ts";
import type { OutputTag } from "../../api/output-tag.ts";
import { UserFunctionError, userError } from "../../errors.ts";
import { KeyedRuntime } from "../keyed.ts";
import type { Operator, Output } from "../operator.ts";
import { statelessRuntimeContext, TimestampedCollector } from "./basic.ts";

type AnyCo = CoProcessFunction<Key, unknown, unknown, unknown>;

/**
 * Runs a keyed process function (one input) or a co-process function (two inputs, keyed or
 * not). One context object per instance, mutated per record: no allocation per record.
 */
export function keyedProcessOperator(
  options: { kind: "single"; factory: Factory<KeyedProcessFunction<Key, unknown, unknown>> } | { kind: "co"; keyed: boolean; factory: Factory<AnyCo> },
): Operator {
  let keyed: KeyedRuntime | undefined;
  let single: KeyedProcessFunction<Key, unknown, unknown> | undefined;
  let co: AnyCo | undefined;
  let collector: TimestampedCollector;
  let out: Output;
  let uid = "";
  let domain: "event" | "processing" = "event";
  let nonKeyedWatermark = Number.NEGATIVE_INFINITY;

  const ctx: OnTimerContext<Key> = {
    timestamp: () => collector.ts,
    output: <X>(tag: OutputTag<X>, value: X) => out.emitSide(tag.id, value, collector.ts),
    currentWatermark: () => (keyed ? keyed.watermark : nonKeyedWatermark),
    key: () => (keyed ? keyed.currentKey : ""),
    timerService: () => {
      if (!keyed) throw new UserFunctionError(uid, new Error("timers need keyed streams (keyBy both inputs)"));
      return keyed.timerService;
    },
    timeDomain: () => domain,
  };

  const onTimer = (_key: Key, ts: number, d: "event" | "processing"): void => {
    domain = d;
    collector.ts = ts;
    const f = single ?? co;
    try {
      f?.onTimer?.(ts, ctx, collector);
    } catch (err) {
      throw userError(uid, err);
    }
  };

  const op: Operator = {
    open: async (octx) => {
      out = octx.output;
      uid = octx.uid;
      collector = new TimestampedCollector(octx.output);
      const isKeyed = options.kind === "single" || options.keyed;
      if (isKeyed) keyed = new KeyedRuntime(octx, onTimer);
      const rt = keyed ? keyed.runtimeContext() : statelessRuntimeContext(octx);
      if (options.kind === "single") {
        const f = options.factory(rt);
        single = f;
        // Only functions that look things up get the per-batch call (the engine skips operators without it).
        if (f.prepareBatch !== undefined) op.prepareBatch = (_input, values, count) => (f as Required<typeof f>).prepareBatch(values, count);
        if (f.close !== undefined) {
          op.close = () => (f as Required<typeof f>).close();
          op.abort = () => (f as Required<typeof f>).close();
        }
      } else co = options.factory(rt);
    },
    processElement: (input, value, ts, key) => {
      if (keyed) keyed.currentKey = key as Key;
      collector.ts = ts;
      try {
        if (single) single.processElement(value, ctx, collector);
        else if (input === 0) (co as AnyCo).processElement1(value, ctx, collector);
        else (co as AnyCo).processElement2(value, ctx, collector);
      } catch (err) {
        throw userError(uid, err);
      }
    },
    onWatermark: (wm) => {
      if (keyed) return keyed.advanceWatermark(wm);
      nonKeyedWatermark = wm;
      return undefined;
    },
  };
  if (options.kind === "single" || options.keyed) {
    op.prefetch = (keys, count, from) => (keyed as KeyedRuntime).prefetch(keys, count, from);
    op.prepareWatermark = (wm) => (keyed as KeyedRuntime).prepareWatermark(wm);
    op.prepareProcessingTime = (now) => (keyed as KeyedRuntime).prepareProcessingTime(now);
    op.onProcessingTime = () => (keyed as KeyedRuntime).advanceProcessingTime();
    op.stateSize = () => (keyed as KeyedRuntime).stateSize();
    op.snapshotTimers = () => (keyed as KeyedRuntime).snapshotTimers();
    op.restoreTimers = (snap) => (keyed as KeyedRuntime).restoreTimers(snap);
  }
  return op;
}
