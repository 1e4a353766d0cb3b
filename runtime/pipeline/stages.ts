/**
 * Record-at-a-time steps as stages of process nodes. A step becomes its own process node, except
 * when it is the only reader of the main output of another record-at-a-time step: then it is
 * fused into that step's node as the next stage (the record is handed over by a direct call, not
 * through the engine). Fused steps are stateless, so no state is keyed by the uid they give up;
 * their side outputs and dead letters still leave the shared node under their own names.
 */
import type { Collector, Context, ProcessFunction } from "../api/functions.ts";
import type { DataStream } from "../api/job.ts";
import type { Step } from "../spec/generated/types.ts";
import { onErrorPolicy, stepUid, type CompileContext, type Handle } from "./context.ts";
import { parseRef } from "../spec/pipeline-graph.ts";
import { keyOf } from "./values.ts";

/** What a step does with one record: emit to `out` (the next stage or the node's output). */
export type Body = (record: unknown, key: unknown, ctx: Context, out: Collector<unknown>) => void;

/** One step inside a process node. */
export interface Stage {
  process(record: unknown, c: Context, out: Collector<unknown>): void;
  next: Stage | undefined;
}

function stageOf(ctx: CompileContext, step: Step, input: Handle, body: Body): Stage {
  const onError = onErrorPolicy(ctx, step);
  // Records of a stream that is not keyed carry no key: skip the lookup.
  const keyed = input.keyed;
  // One forwarding collector per stage, re-pointed per call: no allocation per record.
  const forward = {
    c: undefined as unknown as Context,
    out: undefined as unknown as Collector<unknown>,
    collect(v: unknown): void {
      const next = stage.next;
      if (next) next.process(v, forward.c, forward.out);
      else forward.out.collect(v);
    },
  };
  const stage: Stage = {
    next: undefined,
    process(record, c, out) {
      forward.c = c;
      forward.out = out;
      try {
        body(record, keyed ? keyOf(record) : null, c, forward);
      } catch (err) {
        onError(err, record, c);
      }
    },
  };
  return stage;
}

/** Adds a step as a process node, or as the next stage of its input's node when it is that stream's only reader. */
export function processStep(ctx: CompileContext, step: Step, input: Handle, body: Body): DataStream<unknown> {
  const stage = stageOf(ctx, step, input, body);
  const ref = step.input ?? "";
  if (input.stage && input.stage.next === undefined && parseRef(ref).output === undefined && ctx.readers.get(ref) === 1) {
    input.stage.next = stage;
    return input.stream;
  }
  const fn: ProcessFunction<unknown, unknown> = { processElement: (record, c, out) => stage.process(record, c, out) };
  const stream = input.stream.process<unknown>(() => fn, { uid: stepUid(step), name: step.id });
  ctx.deadLetterProducers.push(stream);
  ctx.stages.set(stream, stage);
  return stream;
}
