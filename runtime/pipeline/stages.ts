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
  body: Body;
  /** Whether records carry a key to read (records of a stream that is not keyed carry none). */
  keyed: boolean;
  onError: (err: unknown, record: unknown, c: Context | undefined) => void;
  next: Stage | undefined;
}

/**
 * The stage chain from `stage` on as one function of a record, for one task's context and
 * output. Each stage's body gets the next stage itself as its collector, so a record passes
 * from step to step with one call per step and nothing re-pointed per record.
 */
function link(stage: Stage, c: Context, out: Collector<unknown>): (record: unknown) => void {
  const { body, keyed, onError } = stage;
  const downstream: Collector<unknown> = stage.next ? { collect: link(stage.next, c, out) } : out;
  if (!keyed) {
    return (record) => {
      try {
        body(record, null, c, downstream);
      } catch (err) {
        onError(err, record, c);
      }
    };
  }
  return (record) => {
    try {
      body(record, keyOf(record), c, downstream);
    } catch (err) {
      onError(err, record, c);
    }
  };
}

/** The process function of a node whose first stage is `first` (the chain is linked on the first record, when fusing is over). */
function nodeFunction(first: Stage): ProcessFunction<unknown, unknown> {
  const { body, keyed, onError } = first;
  let downstream: Collector<unknown> | undefined;
  let linkedC: Context | undefined;
  let linkedOut: Collector<unknown> | undefined;
  return {
    processElement(record, c, out) {
      // The operator passes the same context and collector every time; relink should it not.
      if (downstream === undefined || c !== linkedC || out !== linkedOut) {
        linkedC = c;
        linkedOut = out;
        downstream = first.next ? { collect: link(first.next, c, out) } : out;
      }
      // The first stage runs right here: one call less per record.
      try {
        body(record, keyed ? keyOf(record) : null, c, downstream);
      } catch (err) {
        onError(err, record, c);
      }
    },
  };
}

/** Adds a step as a process node, or as the next stage of its input's node when it is that stream's only reader. */
export function processStep(ctx: CompileContext, step: Step, input: Handle, body: Body): DataStream<unknown> {
  const stage: Stage = { body, keyed: input.keyed, onError: onErrorPolicy(ctx, step), next: undefined };
  const ref = step.input ?? "";
  if (input.stage && input.stage.next === undefined && parseRef(ref).output === undefined && ctx.readers.get(ref) === 1) {
    input.stage.next = stage;
    return input.stream;
  }
  // One function per task: each links the chain to its own context and output.
  const stream = input.stream.process<unknown>(() => nodeFunction(stage), { uid: stepUid(step), name: step.id });
  ctx.deadLetterProducers.push(stream);
  ctx.stages.set(stream, stage);
  return stream;
}
