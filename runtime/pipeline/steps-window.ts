/**
 * Window and over steps onto the typed API: `keyBy(key on the record).window(assigner)
 * .aggregate(...)` and `keyBy(...).over(...)`. The key the steps partition by is the one an
 * upstream keyBy step put on the record.
 */
import type { KeyedProcessFunction } from "../api/functions.ts";
import type { KeyedStream } from "../api/job.ts";
import { OutputTag } from "../api/output-tag.ts";
import { globalWindow, session, sliding, tumbling } from "../window/assigners.ts";
import { accumulatorStateLayout } from "../window/state-layout.ts";
import type { WindowAssigner } from "../window/types.ts";
import { parseDuration } from "../spec/duration.ts";
import type { Key } from "../api/functions.ts";
import type { Step } from "../spec/generated/types.ts";
import { aggregateFunction, type AggAcc, type AggResult } from "./aggregations.ts";
import { onErrorPolicy, stepUid, type CompileContext, type Handle } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { fieldsFn } from "./expr.ts";
import { carryKey, KEY, toKey, type Rec } from "./values.ts";

/** The input as a keyed stream (partitioned by the key on the record); an error when it is not keyed. */
export function keyedInput(input: Handle, step: Step, path: string): KeyedStream<Key, unknown> {
  if (!input.keyed) throw new PipelineError(`${path}.input`, `step ${JSON.stringify(step.id)} needs a keyed input`, "put a keyBy step before it");
  // Local copies of the imports: V8 checks an imported binding for initialisation on every read.
  const key: typeof KEY = KEY;
  const normalise = toKey;
  return input.stream.keyBy((r) => normalise((r as Rec)[key]), { colocated: input.colocated === true });
}

function assignerOf(w: NonNullable<Step["window"]>): WindowAssigner {
  const ms = (d: string | undefined): number => parseDuration(d ?? "0s");
  switch (w.type) {
    case "tumbling":
      return tumbling({ sizeMs: ms(w.size), offsetMs: ms(w.offset) });
    case "sliding":
      return sliding({ sizeMs: ms(w.size), slideMs: ms(w.slide), offsetMs: ms(w.offset) });
    case "session":
      return session({ gapMs: ms(w.gap) });
    case "global":
      return globalWindow();
  }
}

/** A number → CEL int conversion that remembers its last result (window bounds repeat across keys). */
function cachedInt(): (n: number) => bigint {
  let last = Number.NaN;
  let big = 0n;
  return (n) => {
    if (n !== last) {
      last = n;
      big = BigInt(n);
    }
    return big;
  };
}

/** window: keyed event-time windows with aggregations; the default output or `select`. */
export function compileWindow(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const w = step.window as NonNullable<Step["window"]>;
  const onError = onErrorPolicy(ctx, step);
  const agg = aggregateFunction(w.aggregations, `${path}.window.aggregations`, (err, r) => onError(err, r, undefined));
  let windowed = keyedInput(input, step, path)
    .window(assignerOf(w))
    .allowedLateness(parseDuration(w.allowedLateness ?? "0s"));
  if (w.trigger) windowed = windowed.trigger({ kind: "count", count: w.trigger.count });
  const late = new OutputTag<unknown>(`${step.id}.late`);
  if (w.lateOutput === true) windowed = windowed.sideOutputLateData(late);
  const select = w.select ? fieldsFn(w.select, `${path}.window.select`, ["record", "key", "window"]) : undefined;
  // Window bounds as CEL ints, converted once per window rather than once per key: every key's
  // result of one window carries the same (immutable) bigints.
  const start = cachedInt();
  const end = cachedInt();
  const stream = windowed.aggregate<AggAcc, AggResult, unknown>(
    agg,
    (res, info) => {
      const s = start(info.window.start);
      const e = end(info.window.end);
      const key = res.key === undefined ? info.key : res.key;
      const record: Rec = { key, windowStart: s, windowEnd: e, ...res.values };
      const out: Rec = select ? select({ record, key, window: { start: s, end: e } }) : record;
      out[KEY] = key;
      return out;
    },
    { uid: stepUid(step), name: step.id },
  );
  // Results (and late records) leave in their key's task: a downstream keyed step on the same key stays there.
  ctx.handles.set(step.id, { stream, keyed: true, colocated: true });
  if (w.lateOutput === true) ctx.handles.set(`${step.id}.late`, { stream: stream.getSideOutput(late), keyed: true, colocated: true });
}

/** over: each record with aggregates over its key's preceding range (or everything seen, without range). */
export function compileOver(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const o = step.over as NonNullable<Step["over"]>;
  const onError = onErrorPolicy(ctx, step);
  const agg = aggregateFunction(o.aggregations, `${path}.over.aggregations`, (err, r) => onError(err, r, undefined));
  const select = o.select ? fieldsFn(o.select, `${path}.over.select`, ["record", "key"]) : undefined;
  const shape = (record: unknown, res: AggResult): unknown => {
    const row: Rec = { ...(record as Rec), ...res.values };
    return carryKey(select ? select({ record: row, key: (record as Rec)[KEY] ?? null }) : row, record);
  };
  const keyed = keyedInput(input, step, path);
  const options = { uid: stepUid(step), name: step.id };
  if (o.range !== undefined) {
    const stream = keyed.over<AggResult, unknown>({ ...options, rangeMs: parseDuration(o.range), aggregate: agg, select: shape });
    ctx.handles.set(step.id, { stream, keyed: true, colocated: true });
    return;
  }
  // Unbounded: a running aggregate per key in keyed state, emitted with every record as it arrives.
  const stream = keyed.process<unknown>(
    (rt): KeyedProcessFunction<Key, unknown, unknown> => {
      const acc = rt.valueState<AggAcc>({ name: "over" });
      return {
        processElement(record, _c, out) {
          const a = agg.add(record, acc.value() ?? agg.createAccumulator());
          acc.update(a);
          out.collect(shape(record, agg.getResult(a)));
        },
      };
    },
    { ...options, state: accumulatorStateLayout("over", agg.layout) },
  );
  ctx.handles.set(step.id, { stream, keyed: true, colocated: true });
}
