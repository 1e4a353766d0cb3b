/**
 * The keyed broadcast process operator (Flink's KeyedBroadcastProcessFunction): input 0 is
 * keyed, input 1 is broadcast to every task. Broadcast state is a set of named maps per task;
 * since every task sees the same broadcast records in the same order, the copies stay equal,
 * and a checkpoint stores one copy that restore hands to every task.
 */
import type { BroadcastContext, Factory, Key, KeyedBroadcastContext, KeyedBroadcastProcessFunction } from "../../api/functions.ts";
import type { OutputTag } from "../../api/output-tag.ts";
import { userError } from "../../errors.ts";
import { KeyedRuntime } from "../keyed.ts";
import type { Operator, Output } from "../operator.ts";
import { TimestampedCollector } from "./basic.ts";

type Fn = KeyedBroadcastProcessFunction<Key, unknown, unknown, unknown>;

/** Creates a keyed broadcast process operator instance. */
export function broadcastProcessOperator(factory: Factory<Fn>): Operator {
  let kr: KeyedRuntime;
  let fn: Fn;
  let collector: TimestampedCollector;
  let out: Output;
  let uid = "";
  let domain: "event" | "processing" = "event";
  let states = new Map<string, Map<string, unknown>>();
  const stateOf = (name: string): Map<string, unknown> => {
    let m = states.get(name);
    if (m === undefined) {
      m = new Map();
      states.set(name, m);
    }
    return m;
  };
  const keyedCtx: KeyedBroadcastContext<Key> = {
    timestamp: () => collector.ts,
    output: <X>(tag: OutputTag<X>, value: X) => out.emitSide(tag.id, value, collector.ts),
    currentWatermark: () => kr.watermark,
    key: () => kr.currentKey,
    timerService: () => kr.timerService,
    timeDomain: () => domain,
    broadcastState: <V>(name: string) => stateOf(name) as ReadonlyMap<string, V>,
  };
  const broadcastCtx: BroadcastContext = {
    timestamp: () => collector.ts,
    output: <X>(tag: OutputTag<X>, value: X) => out.emitSide(tag.id, value, collector.ts),
    currentWatermark: () => kr.watermark,
    broadcastState: <V>(name: string) => stateOf(name) as Map<string, V>,
  };
  const onTimer = (_key: Key, ts: number, d: "event" | "processing"): void => {
    domain = d;
    collector.ts = ts;
    try {
      fn.onTimer?.(ts, keyedCtx, collector);
    } catch (err) {
      throw userError(uid, err);
    }
  };
  return {
    open: async (ctx) => {
      out = ctx.output;
      uid = ctx.uid;
      collector = new TimestampedCollector(ctx.output);
      kr = new KeyedRuntime(ctx, onTimer);
      fn = factory(kr.runtimeContext());
    },
    processElement: (input, value, ts, key) => {
      collector.ts = ts;
      try {
        if (input === 0) {
          kr.currentKey = key as Key;
          fn.processElement(value, keyedCtx, collector);
        } else fn.processBroadcastElement(value, broadcastCtx, collector);
      } catch (err) {
        throw userError(uid, err);
      }
    },
    prefetch: (keys, count, from) => kr.prefetch(keys, count, from),
    prepareWatermark: (wm) => kr.prepareWatermark(wm),
    onWatermark: (wm) => kr.advanceWatermark(wm),
    prepareProcessingTime: (now) => kr.prepareProcessingTime(now),
    onProcessingTime: () => kr.advanceProcessingTime(),
    stateSize: () => kr.stateSize(),
    snapshotTimers: () => kr.snapshotTimers(),
    restoreTimers: (snap) => kr.restoreTimers(snap),
    snapshotOperatorState: () => states,
    restoreOperatorState: (snap) => {
      states = new Map([...(snap as Map<string, Map<string, unknown>>)].map(([k, m]) => [k, new Map(m)]));
    },
  };
}
