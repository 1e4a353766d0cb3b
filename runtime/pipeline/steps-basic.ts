/**
 * Record-at-a-time steps: filter, clean, map, project, explode, keyBy, route, union, score.
 * Each is a stage of a process function (`stages.ts`), so it can send records to the dead-letter
 * and named side outputs; its CEL expressions were compiled once; a rebuilt record carries its
 * input's key.
 */
import type { DataStream } from "../api/job.ts";
import { OutputTag } from "../api/output-tag.ts";
import type { Step } from "../spec/generated/types.ts";
import { counter, deadLetterSender, type CompileContext, type Handle } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { fieldsFn, recordFn } from "./expr.ts";
import { processStep, type Body, type Stage } from "./stages.ts";
import { internalized } from "./readers.ts";
import { carryKey, KEY, toNumber, type Rec } from "./values.ts";
import { RecordError } from "../errors.ts";

function lastStage(s: Stage | undefined): Stage | undefined {
  let cur = s;
  while (cur?.next) cur = cur.next;
  return cur;
}

/** carryKey for keyed inputs; the identity otherwise (nothing to carry). */
export function carrier(input: Handle): <T>(out: T, from: unknown) => T {
  return input.keyed ? carryKey : (out) => out;
}

/** Registers a step's main output and named side outputs. */
export function publish(
  ctx: CompileContext,
  step: Step,
  stream: DataStream<unknown>,
  keyed: boolean,
  sides: Record<string, OutputTag<unknown>> = {},
  lineage: Pick<Handle, "partitionedBy" | "colocated"> = {},
): void {
  // The last stage of the node now ends this step's main output: a sole reader may fuse after it.
  const stage = lastStage(ctx.stages.get(stream));
  ctx.handles.set(step.id, { stream, keyed, ...(stage ? { stage } : {}), ...lineage });
  for (const [name, tag] of Object.entries(sides)) ctx.handles.set(`${step.id}.${name}`, { stream: stream.getSideOutput(tag), keyed });
}

/** filter: keeps records whose condition is true; rejected ones are dropped, dead-lettered or side-output. */
export function compileFilter(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const f = step.filter as NonNullable<Step["filter"]>;
  const cond = recordFn(f.condition, `${path}.filter.condition`, "bool");
  const reason = f.reason ?? "rejected";
  const onReject = f.onReject ?? "drop";
  const rejected = new OutputTag<unknown>(`${step.id}.rejected`);
  const drop = counter(ctx.metrics.dropped, `${step.id}/${reason}`);
  const dead = deadLetterSender(ctx, step.id, reason);
  // One body per rejection mode: a dropping filter (the usual one) decides nothing else per record.
  const body: Body =
    onReject === "drop"
      ? (r, k, _c, out) => {
          if (cond(r, k) === true) out.collect(r);
          else drop();
        }
      : (r, k, c, out) => {
          if (cond(r, k) === true) out.collect(r);
          else if (onReject === "dead-letter") dead(c, r);
          else c.output(rejected, r);
        };
  const stream = processStep(ctx, step, input, body);
  publish(ctx, step, stream, input.keyed, onReject === "side-output" ? { rejected } : {}, lineageOf(input));
}

/** clean: the first failing rule names the reason; invalid records are counted and routed. */
export function compileClean(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const c = step.clean as NonNullable<Step["clean"]>;
  const rules = c.rules.map((r, i) => ({
    drop: counter(ctx.metrics.dropped, `${step.id}/${r.name}`),
    dead: deadLetterSender(ctx, step.id, r.name),
    test: recordFn(r.condition, `${path}.clean.rules[${i}].condition`, "bool"),
  }));
  const onInvalid = c.onInvalid ?? "dead-letter";
  const invalid = new OutputTag<unknown>(`${step.id}.invalid`);
  const stream = processStep(ctx, step, input, (r, k, fc, out) => {
    for (const rule of rules) {
      let ok: boolean;
      try {
        ok = rule.test(r, k) === true;
      } catch {
        // A rule that cannot even be evaluated (a missing field) is a failed check, not a crash.
        ok = false;
      }
      if (ok) continue;
      if (onInvalid === "dead-letter") rule.dead(fc, r);
      else {
        rule.drop();
        if (onInvalid === "side-output") fc.output(invalid, r);
      }
      return;
    }
    out.collect(r);
  });
  publish(ctx, step, stream, input.keyed, onInvalid === "side-output" ? { invalid } : {}, lineageOf(input));
}

/** map: the expression's map becomes the record. */
export function compileMap(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const e = recordFn((step.map as NonNullable<Step["map"]>).expression, `${path}.map.expression`, "map");
  const carry = carrier(input);
  const stream = processStep(ctx, step, input, (r, k, _c, out) => out.collect(carry(e(r, k), r)));
  publish(ctx, step, stream, input.keyed, {}, keyedLineage(input));
}

/** project: builds the record field by field (keep: on top of a copy of the input). */
export function compileProject(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const p = step.project as NonNullable<Step["project"]>;
  const build = fieldsFn(p.fields, `${path}.project.fields`, ["record", "key"]);
  const keep = p.keep === true;
  const drop = p.drop ?? [];
  const carry = carrier(input);
  const stream = processStep(ctx, step, input, (r, k, _c, out) => {
    // A fresh scope per record: storing each (young) record into one long-lived scope object
    // costs a write barrier per record, more than this short-lived allocation.
    const fields = build({ record: r, key: k });
    let rec: Rec = fields;
    if (keep) {
      rec = { ...(r as Rec), ...fields };
      for (const d of drop) delete rec[d];
    }
    out.collect(carry(rec, r));
  });
  publish(ctx, step, stream, input.keyed, {}, keyedLineage(input));
}

/** explode: one record per list element (under `as`, with the parent's fields unless keepParent is false). */
export function compileExplode(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const x = step.explode as NonNullable<Step["explode"]>;
  const list = recordFn(x.expression, `${path}.explode.expression`, "list");
  const as = x.as === undefined ? undefined : internalized(x.as);
  const keepParent = x.keepParent !== false;
  const carry = carrier(input);
  const stream = processStep(ctx, step, input, (r, k, _c, out) => {
    const items = list(r, k) as unknown[];
    if (!Array.isArray(items)) throw new RecordError(`explode: ${JSON.stringify(x.expression)} is not a list`);
    for (const item of items) {
      const rec = as === undefined ? item : keepParent ? { ...(r as Rec), [as]: item } : { [as]: item };
      out.collect(carry(rec, r));
    }
  });
  publish(ctx, step, stream, input.keyed, {}, keyedLineage(input));
}

/**
 * keyBy: evaluates the key and puts it on the record. The record is updated in place when this
 * step is its stream's only reader, copied otherwise (another branch may key it differently).
 */
export function compileKeyBy(ctx: CompileContext, step: Step, path: string, input: Handle, shared: boolean): void {
  const key = recordFn((step.keyBy as NonNullable<Step["keyBy"]>).key, `${path}.keyBy.key`, "dyn");
  // A local copy of the import: V8 checks an imported binding for initialisation on every read.
  const keySymbol: typeof KEY = KEY;
  const stream = processStep(ctx, step, input, (r, k, _c, out) => {
    const rec = shared ? { ...(r as Rec) } : (r as Rec);
    rec[keySymbol] = key(r, k);
    out.collect(rec);
  });
  // Keyed by exactly the field its topic is keyed by: the records are in their key's task already.
  const source = (step.keyBy as NonNullable<Step["keyBy"]>).key.trim();
  const colocated = input.partitionedBy !== undefined && source === `record.${input.partitionedBy}`;
  publish(ctx, step, stream, true, {}, colocated ? { partitionedBy: input.partitionedBy as string, colocated: true } : {});
}

/** What a step that passes records on unchanged keeps of its input's partitioning. */
function lineageOf(input: Handle): Pick<Handle, "partitionedBy" | "colocated"> {
  return { ...(input.partitionedBy === undefined ? {} : { partitionedBy: input.partitionedBy }), ...(input.colocated ? { colocated: true } : {}) };
}

/**
 * What a step that rebuilds records but carries their key keeps: records stay in the task they
 * are in, so a stream already partitioned by its key stays so (a downstream keyed step needs no
 * repartition topic), while the fields it was partitioned by may be gone.
 */
export function keyedLineage(input: Handle): Pick<Handle, "colocated"> {
  return input.keyed && input.colocated ? { colocated: true } : {};
}

/** route: named side outputs by condition (first match or all); the rest to main or dropped. */
export function compileRoute(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const rt = step.route as NonNullable<Step["route"]>;
  const routes = rt.routes.map((r, i) => ({
    tag: new OutputTag<unknown>(`${step.id}.${r.name}`),
    name: r.name,
    test: recordFn(r.condition, `${path}.route.routes[${i}].condition`, "bool"),
  }));
  const all = rt.match === "all";
  const toMain = (rt.otherwise ?? "main") === "main";
  const unrouted = counter(ctx.metrics.dropped, `${step.id}/unrouted`);
  const stream = processStep(ctx, step, input, (r, k, c, out) => {
    let matched = false;
    for (const route of routes) {
      if (route.test(r, k) !== true) continue;
      c.output(route.tag, r);
      matched = true;
      if (!all) break;
    }
    if (!matched) {
      if (toMain) out.collect(r);
      else unrouted();
    }
  });
  publish(ctx, step, stream, input.keyed, Object.fromEntries(routes.map((r) => [r.name, r.tag])), lineageOf(input));
}

/** union: merges the inputs; keyed only when every input is. */
export function compileUnion(ctx: CompileContext, step: Step, path: string, inputs: Handle[]): void {
  const [first, ...rest] = inputs;
  if (!first) throw new PipelineError(`${path}.inputs`, "union needs inputs");
  const stream = first.stream.union(...rest.map((h) => h.stream)).name(step.id);
  // Merging streams that are each in their keys' tasks keeps every record where it is.
  const colocated = inputs.every((h) => h.keyed && h.colocated === true);
  ctx.handles.set(step.id, { stream, keyed: inputs.every((h) => h.keyed), ...(colocated ? { colocated: true } : {}) });
}

/** score: linear or logistic model over weighted features; adds the score and the decision. */
export function compileScore(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const s = step.score as NonNullable<Step["score"]>;
  const features = s.features.map((f, i) => ({ weight: f.weight, value: recordFn(f.expression, `${path}.score.features[${i}].expression`, "double") }));
  const intercept = s.intercept ?? 0;
  const logistic = (s.model ?? "logistic") === "logistic";
  const as = internalized(s.as ?? "score");
  const th = s.threshold;
  const carry = carrier(input);
  const stream = processStep(ctx, step, input, (r, k, _c, out) => {
    let z = intercept;
    for (const f of features) z += f.weight * toNumber(f.value(r, k));
    const score = logistic ? 1 / (1 + Math.exp(-z)) : z;
    const rec: Rec = { ...(r as Rec), [as]: score };
    if (th) rec[th.field ?? "decision"] = score >= th.value ? th.above : th.below;
    out.collect(carry(rec, r));
  });
  publish(ctx, step, stream, input.keyed, {}, keyedLineage(input));
}
