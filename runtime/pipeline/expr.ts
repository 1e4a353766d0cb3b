/**
 * CEL expressions of a pipeline, compiled once when the pipeline is compiled. Evaluation reuses
 * one variables object per expression (set, evaluate, done), so the hot path allocates nothing
 * for the call itself. `runnel validate` already type-checked every site against the record
 * shapes; here expressions are compiled in the runtime's default scope (records are maps), and
 * the simplest ones get a fast path (`fast-path.ts`) in front of cel-js.
 */
import { compile, type CompiledExpression } from "../cel/compile.ts";
import { defaultScope, type CelType } from "../cel/types.ts";
import { PipelineError } from "./errors.ts";
import { FALLBACK, fastPath } from "./fast-path.ts";

/** Compiles `source` (found at `path`) for variables `vars`; throws a PipelineError naming the path. */
export function celExpression(source: string, path: string, returns: CelType, vars: readonly string[]): CompiledExpression {
  const r = compile(source, defaultScope(returns, vars));
  if (!r.ok) {
    const e = r.errors[0];
    throw new PipelineError(path, `invalid CEL expression ${JSON.stringify(source)}: ${e?.message ?? "does not compile"}`, e?.hint);
  }
  const fast = fastPath(source, vars);
  if (!fast) return r.expression;
  const compiled = r.expression;
  const slow = (v: Readonly<Record<string, unknown>>): unknown => compiled.evaluate(v);
  return {
    ...r.expression,
    evaluate: (v) => {
      const x = fast(v);
      return x === FALLBACK ? slow(v) : x;
    },
    [FAST]: fast,
    [SLOW]: slow,
  } as CompiledExpression;
}

const FAST = Symbol("fast");
const SLOW = Symbol("slow");
type Parts = { [FAST]?: (v: Readonly<Record<string, unknown>>) => unknown; [SLOW]?: (v: Readonly<Record<string, unknown>>) => unknown };

/** An expression over `record` and `key` as a plain function. */
export type RecordFn = (record: unknown, key: unknown) => unknown;

/** Compiles an expression over `record` and `key` into a function. */
export function recordFn(source: string, path: string, returns: CelType = "dyn"): RecordFn {
  const e = celExpression(source, path, returns, ["record", "key"]);
  const vars: { record: unknown; key: unknown } = { record: undefined, key: undefined };
  const fast = (e as Parts)[FAST];
  const slow = (e as Parts)[SLOW];
  if (fast && slow) {
    // One call less on the hot path: the fast closure directly, cel-js when it gives up.
    return (record, key) => {
      vars.record = record;
      vars.key = key;
      const x = fast(vars);
      return x === FALLBACK ? slow(vars) : x;
    };
  }
  return (record, key) => {
    vars.record = record;
    vars.key = key;
    return e.evaluate(vars);
  };
}

/** An expression as one function of its variables: the fast closure first when there is one. */
function direct(e: CompiledExpression): (v: Readonly<Record<string, unknown>>) => unknown {
  const fast = (e as Parts)[FAST];
  const slow = (e as Parts)[SLOW];
  if (!fast || !slow) return (v) => e.evaluate(v);
  return (v) => {
    const x = fast(v);
    return x === FALLBACK ? slow(v) : x;
  };
}

/** Compiles a field → expression map (project, select, emit) once; evaluating builds one object. */
export function fieldsFn(fields: Readonly<Record<string, string>>, path: string, vars: readonly string[]): (scope: Readonly<Record<string, unknown>>) => Record<string, unknown> {
  const names = Object.keys(fields);
  const fns = names.map((name) => direct(celExpression(fields[name] as string, `${path}.${name}`, "dyn", vars)));
  // Every output record starts as a copy of one template, so all of them share one hidden class.
  const template: Record<string, unknown> = Object.fromEntries(names.map((n) => [n, null]));
  const n = names.length;
  const general = unrolled(names, fns, template);
  // Field copies (`auction: record.auction`) read the record directly, without CEL; the other
  // fields run their expressions. A missing field falls back to the general path (CEL's error).
  const sources = names.map((name) => /^record\.([A-Za-z_][A-Za-z0-9_]*)$/.exec((fields[name] as string).trim())?.[1]);
  if (n <= 4 && vars.includes("record") && sources.some((f) => f !== undefined)) {
    type Fn = (v: Readonly<Record<string, unknown>>) => unknown;
    const [s0, s1, s2, s3] = sources;
    const [n0, n1, n2, n3] = names as [string, string, string, string];
    const [f0, f1, f2, f3] = fns as [Fn, Fn, Fn, Fn];
    return (scope) => {
      const r = scope.record as Record<string, unknown> | null;
      if (r === null || typeof r !== "object" || Array.isArray(r) || r instanceof Map) return general(scope);
      const v0 = s0 !== undefined ? r[s0] : f0(scope);
      const v1 = n < 2 ? null : s1 !== undefined ? r[s1] : f1(scope);
      const v2 = n < 3 ? null : s2 !== undefined ? r[s2] : f2(scope);
      const v3 = n < 4 ? null : s3 !== undefined ? r[s3] : f3(scope);
      if (v0 === undefined || v1 === undefined || v2 === undefined || v3 === undefined) return general(scope);
      const out = { ...template };
      out[n0] = v0;
      if (n > 1) out[n1] = v1;
      if (n > 2) out[n2] = v2;
      if (n > 3) out[n3] = v3;
      return out;
    };
  }
  return general;
}

/** The general field builder: every field through its expression. */
function unrolled(names: string[], fns: ((v: Readonly<Record<string, unknown>>) => unknown)[], template: Record<string, unknown>): (scope: Readonly<Record<string, unknown>>) => Record<string, unknown> {
  const n = names.length;
  if (n <= 4) {
    // Unrolled: each store site sees one property name, so it stays monomorphic.
    type Fn = (v: Readonly<Record<string, unknown>>) => unknown;
    const [n0, n1, n2, n3] = names as [string, string, string, string];
    const [f0, f1, f2, f3] = fns as [Fn, Fn, Fn, Fn];
    return (scope) => {
      const out = { ...template };
      out[n0] = f0(scope);
      if (n > 1) out[n1] = f1(scope);
      if (n > 2) out[n2] = f2(scope);
      if (n > 3) out[n3] = f3(scope);
      return out;
    };
  }
  return (scope) => {
    const out = { ...template };
    for (let i = 0; i < n; i++) out[names[i] as string] = (fns[i] as (v: Readonly<Record<string, unknown>>) => unknown)(scope);
    return out;
  };
}

/** A short text for an evaluation error (dead letters carry it). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] ?? err.name : String(err);
}
