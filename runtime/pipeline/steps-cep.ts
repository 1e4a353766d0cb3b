/**
 * The cep step onto the CEP library (`runtime/cep`): `patternFromSpec` (the CEP library's own
 * reading of the step) builds the Flink-style Pattern and compiles its CEL conditions once;
 * matches are shaped by `select` (CEL over `key` and `match`, a list of records per stage name)
 * or default to {key, match}.
 */
import type { Collector } from "../api/functions.ts";
import { OutputTag } from "../api/output-tag.ts";
import { CEP, patternFromSpec, PatternDefinitionError, type Pattern, type TimedOutMatch } from "../cep/index.ts";
import type { Step } from "../spec/generated/types.ts";
import { stepUid, type CompileContext, type Handle } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { fieldsFn } from "./expr.ts";
import { keyedInput } from "./steps-window.ts";
import { KEY, type Rec } from "./values.ts";

/** The match as CEL sees it: stage name → records, every stage present. */
function matchObject(stages: readonly string[], m: Map<string, unknown[]>): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const s of stages) out[s] = m.get(s) ?? [];
  return out;
}

/** cep: one output record per match of the pattern per key, in event time. */
export function compileCep(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const c = step.cep as NonNullable<Step["cep"]>;
  const stages = c.stages.map((s) => s.name);
  let pattern: Pattern<unknown>;
  try {
    pattern = patternFromSpec<unknown>(c);
  } catch (err) {
    if (err instanceof PatternDefinitionError) throw new PipelineError(`${path}.cep`, err.message);
    throw err;
  }
  const select = c.select ? fieldsFn(c.select, `${path}.cep.select`, ["key", "match"]) : undefined;
  const timedOut = new OutputTag<TimedOutMatch<unknown>>(`${step.id}.timedOut.raw`);
  const uid = stepUid(step);
  const stream = CEP.pattern(keyedInput(input, step, path), pattern, { uid, name: step.id, ...(c.timedOut === true ? { timedOut } : {}) }).process<unknown>(
    (m: Map<string, unknown[]>, pctx, out: Collector<unknown>) => {
      const match = matchObject(stages, m);
      const first = stages.map((s) => match[s]?.[0]).find((r) => r !== undefined) as Rec | undefined;
      // Records read back from persistent state have lost the carried key: use the partition key then.
      const key = first?.[KEY] ?? pctx.key();
      const rec: Rec = select ? select({ key, match }) : { key, match };
      rec[KEY] = key;
      out.collect(rec);
    },
  );
  // Matches are emitted in their key's task: a downstream keyed step on the same key stays there.
  ctx.handles.set(step.id, { stream, keyed: true, colocated: true });
  if (c.timedOut === true) {
    const shaped = stream.getSideOutput(timedOut).map<unknown>(
      (t) => {
        const match = matchObject(stages, t.match);
        const first = stages.map((s) => match[s]?.[0]).find((r) => r !== undefined) as Rec | undefined;
        const key = first?.[KEY] ?? t.key;
        const rec: Rec = { key, match, timeoutTimestamp: BigInt(t.timeoutTimestamp) };
        rec[KEY] = key;
        return rec;
      },
      { uid: `${uid}.timedOut`, name: `${step.id}.timedOut` },
    );
    ctx.handles.set(`${step.id}.timedOut`, { stream: shaped, keyed: true, colocated: true });
  }
}
