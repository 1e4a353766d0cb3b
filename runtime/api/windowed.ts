/** Windowed streams: `keyBy(...).window(assigner)` then lateness, trigger and a window function. */
import type { AggregateFunction, Key } from "./functions.ts";
import type { OutputTag } from "./output-tag.ts";
import type { KeyedStream, OperatorOptions } from "./job.ts";
import { DataStream } from "./job.ts";
import type { NodeSpec } from "../graph/graph.ts";
import type { WindowAssigner, WindowFunctionSpec, WindowInfo, WindowProcessFunction, WindowTrigger } from "../window/types.ts";
import { JobDefinitionError } from "../errors.ts";

/** A keyed stream cut into windows, waiting for its window function. */
export class WindowedStream<K extends Key, T> {
  private readonly keyed: KeyedStream<K, T>;
  private readonly assigner: WindowAssigner;
  private windowTrigger: WindowTrigger;
  private lateness = 0;
  private lateTag: string | undefined;

  constructor(keyed: KeyedStream<K, T>, assigner: WindowAssigner) {
    this.keyed = keyed;
    this.assigner = assigner;
    this.windowTrigger = { kind: "eventTime" };
  }

  /** Keeps window state this long past the window end; late records re-fire the window. */
  allowedLateness(ms: number): this {
    if (!(ms >= 0)) throw new JobDefinitionError(`allowed lateness must be >= 0, got ${ms}`);
    this.lateness = ms;
    return this;
  }

  /** Sends records too late for every window they belong to to this side output. */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.lateTag = tag.id;
    return this;
  }

  /** Replaces the default event-time trigger. */
  trigger(trigger: WindowTrigger): this {
    this.windowTrigger = trigger;
    return this;
  }

  /** Incremental aggregation, optionally shaped with key and window. */
  aggregate<ACC, R, O = R>(
    aggregate: AggregateFunction<T, ACC, R>,
    window?: (result: R, info: WindowInfo<K>) => O,
    options: OperatorOptions = {},
  ): DataStream<O> {
    return this.finish(
      {
        kind: "aggregate",
        aggregate: aggregate,
        ...(window ? { window: window as (r: unknown, i: WindowInfo<Key>) => unknown } : {}),
      },
      options,
    );
  }

  /** Pairwise reduction (the accumulator is the latest reduced value). */
  reduce<O = T>(fn: (a: T, b: T) => T, window?: (result: T, info: WindowInfo<K>) => O, options: OperatorOptions = {}): DataStream<O> {
    return this.aggregate<{ v: T | undefined; has: boolean }, T, O>(reducing(fn), window, options);
  }

  /** Full-window function over every record of the window. */
  process<O>(fn: WindowProcessFunction<K, T, O>, options: OperatorOptions = {}): DataStream<O> {
    return this.finish({ kind: "process", process: fn as unknown as WindowProcessFunction<Key, unknown, unknown> }, options);
  }

  private finish<O>(fn: WindowFunctionSpec, options: OperatorOptions): DataStream<O> {
    if (this.assigner.kind === "global" && this.windowTrigger.kind === "eventTime") {
      throw new JobDefinitionError("a global window never ends: give it a count trigger (countWindow or trigger())");
    }
    const spec: NodeSpec = {
      kind: "window",
      assigner: this.assigner,
      trigger: this.windowTrigger,
      allowedLatenessMs: this.lateness,
      ...(this.lateTag === undefined ? {} : { lateTag: this.lateTag }),
      fn,
    };
    const builder = this.keyed.stream.builder;
    return new DataStream<O>(builder, builder.addNode(spec, options, [this.keyed.asInput()]));
  }
}

/** Wraps a reduce function as an aggregate function. */
function reducing<T>(fn: (a: T, b: T) => T): AggregateFunction<T, { v: T | undefined; has: boolean }, T> {
  return {
    createAccumulator: () => ({ v: undefined, has: false }),
    add(value, acc) {
      acc.v = acc.has ? fn(acc.v as T, value) : value;
      acc.has = true;
      return acc;
    },
    getResult: (acc) => acc.v as T,
    merge(a, b) {
      if (!b.has) return a;
      if (!a.has) return b;
      a.v = fn(a.v as T, b.v as T);
      return a;
    },
  };
}
