/** Stateless operators: map, filter, flatMap, union, non-keyed process, sink. */
import type { Collector, Context, Factory, Key, ProcessFunction, RuntimeContext } from "../../api/functions.ts";
import type { OutputTag } from "../../api/output-tag.ts";
import type { Sink, SinkWriter } from "../../connectors/types.ts";
import { JobDefinitionError, userError } from "../../errors.ts";
import { LatencyRecorder } from "../../observe/histogram.ts";
import type { Clock } from "../../time/clock.ts";
import { MIN_WATERMARK } from "../../time/watermarks.ts";
import type { Operator, OperatorContext, Output } from "../operator.ts";

/** A collector that stamps records with the timestamp of the record being handled. */
export class TimestampedCollector implements Collector<unknown> {
  /** Timestamp given to collected records. */
  ts = 0;
  private readonly out: Output;
  constructor(out: Output) {
    this.out = out;
  }
  /** Emits one record. */
  collect(value: unknown): void {
    this.out.emit(value, this.ts);
  }
}

/** A map operator. */
export function mapOperator(fn: (v: unknown) => unknown): Operator {
  let out: Output;
  let uid = "";
  return {
    open: async (ctx) => {
      out = ctx.output;
      uid = ctx.uid;
    },
    processElement: (_i, value, ts) => {
      let result: unknown;
      try {
        result = fn(value);
      } catch (err) {
        throw userError(uid, err);
      }
      out.emit(result, ts);
    },
  };
}

/** A filter operator. */
export function filterOperator(fn: (v: unknown) => boolean): Operator {
  let out: Output;
  let uid = "";
  return {
    open: async (ctx) => {
      out = ctx.output;
      uid = ctx.uid;
    },
    processElement: (_i, value, ts) => {
      let keep: boolean;
      try {
        keep = fn(value);
      } catch (err) {
        throw userError(uid, err);
      }
      if (keep) out.emit(value, ts);
    },
  };
}

/** A flatMap operator. */
export function flatMapOperator(fn: (v: unknown, out: Collector<unknown>) => void): Operator {
  let collector: TimestampedCollector;
  let uid = "";
  return {
    open: async (ctx) => {
      collector = new TimestampedCollector(ctx.output);
      uid = ctx.uid;
    },
    processElement: (_i, value, ts) => {
      collector.ts = ts;
      try {
        fn(value, collector);
      } catch (err) {
        throw userError(uid, err);
      }
    },
  };
}

/** Forwards every input unchanged (watermarks are combined by the engine). */
export function unionOperator(): Operator {
  let out: Output;
  return {
    open: async (ctx) => {
      out = ctx.output;
    },
    processElement: (_i, value, ts) => out.emit(value, ts),
  };
}

/** A RuntimeContext for operators that have no keyed state. */
export function statelessRuntimeContext(ctx: OperatorContext): RuntimeContext {
  const refuse = (): never => {
    throw new JobDefinitionError(`operator '${ctx.uid}': keyed state needs a keyed stream (use keyBy first)`);
  };
  return {
    taskIndex: ctx.taskIndex,
    parallelism: ctx.parallelism,
    uid: ctx.uid,
    valueState: refuse,
    listState: refuse,
    mapState: refuse,
    aggregatingState: refuse,
  };
}

/** A non-keyed process function (side outputs, no state). */
export function processOperator(factory: Factory<ProcessFunction<unknown, unknown>>): Operator {
  let fn: ProcessFunction<unknown, unknown>;
  let collector: TimestampedCollector;
  let watermark = MIN_WATERMARK;
  let out: Output;
  let uid = "";
  const context: Context = {
    timestamp: () => collector.ts,
    output: <X>(tag: OutputTag<X>, value: X) => out.emitSide(tag.id, value, collector.ts),
    currentWatermark: () => watermark,
  };
  return {
    open: async (ctx) => {
      out = ctx.output;
      uid = ctx.uid;
      collector = new TimestampedCollector(ctx.output);
      fn = factory(statelessRuntimeContext(ctx));
    },
    processElement: (_i, value, ts) => {
      collector.ts = ts;
      try {
        fn.processElement(value, context, collector);
      } catch (err) {
        throw userError(uid, err);
      }
    },
    onWatermark: (wm) => {
      watermark = wm;
    },
  };
}

/** Counts of records a sink instance received. */
export interface SinkCounter {
  /** Records written. */
  records: number;
}

/** Hands records to a sink writer, flushing once per round; `latency` is processing time after the flush minus event time, per record. */
export function sinkOperator(sink: Sink<unknown>, counter: SinkCounter): Operator & { writer(): SinkWriter<unknown>; readonly latency: LatencyRecorder } {
  let w: SinkWriter<unknown>;
  let clock: Clock;
  const latency = new LatencyRecorder(() => clock.now());
  return {
    latency,
    open: async (ctx) => {
      clock = ctx.clock;
      w = await sink.open({
        operatorUid: ctx.uid,
        taskIndex: ctx.taskIndex,
        parallelism: ctx.parallelism,
        ...(ctx.restoredCheckpoint === undefined ? {} : { restoredCheckpoint: ctx.restoredCheckpoint }),
        ...(ctx.services?.transaction ? { transaction: ctx.services.transaction } : {}),
      });
    },
    onWatermarkStatus: (wm, idle) => w.onWatermarkStatus?.(wm, idle),
    processElement: (_i: number, value: unknown, ts: number, _k: Key | undefined) => {
      counter.records++;
      latency.record(ts);
      w.write(value, ts);
    },
    endRound: async () => {
      await w.flush();
      latency.flush(clock.now());
    },
    prepareCommit: async (id) => (w.prepareCommit ? w.prepareCommit(id) : undefined),
    commit: async (id, prepared) => {
      if (w.commit) await w.commit(id, prepared);
    },
    close: () => w.close(),
    abort: async () => {
      await w.abort?.();
    },
    writer: () => w,
  };
}
