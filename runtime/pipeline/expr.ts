/**
 * CEL expressions of a pipeline, compiled once per process (cached by source and variables).
 * `runnel validate` already type-checked every site against the record shapes; here expressions
 * are compiled in the runtime's default scope (records are maps), and the simplest ones get a
 * fast path (`fast-path.ts`) in front of cel-js. Field maps (project, select, emit) build their
 * records through `projection.ts`.
 */
import { compile, type CompiledExpression } from "../cel/compile.ts";
import { defaultScope, type CelType } from "../cel/types.ts";
import { PipelineError } from "./errors.ts";
import { FALLBACK as FALLBACK_SYMBOL, fastPath } from "./fast-path.ts";
import { projection } from "./projection.ts";
import { readable } from "./readers.ts";

/** A module-local alias: V8 checks an imported binding for initialisation on every read (several per record here); a local constant is free. */
const FALLBACK: typeof FALLBACK_SYMBOL = FALLBACK_SYMBOL;

/**
 * Compiled expressions, record functions and field builders by what they compile (not by where):
 * a pipeline compiled again in the same process (a restart, the benchmark's repeated runs, two
 * steps with one condition) gets the same closures, so V8 keeps the code it optimized for them
 * instead of deoptimizing for a second set of closures of the same literals. They are pure.
 */
const expressions = new Map<string, CompiledExpression>();
const recordFns = new Map<string, RecordFn>();
const builders = new Map<string, (scope: Readonly<Record<string, unknown>>) => Record<string, unknown>>();

/** Compiles `source` (found at `path`) for variables `vars`; throws a PipelineError naming the path. */
export function celExpression(source: string, path: string, returns: CelType, vars: readonly string[]): CompiledExpression {
  const id = JSON.stringify([source, returns, vars]);
  const known = expressions.get(id);
  if (known) return known;
  const compiled = compileExpression(source, path, returns, vars);
  expressions.set(id, compiled);
  return compiled;
}

function compileExpression(source: string, path: string, returns: CelType, vars: readonly string[]): CompiledExpression {
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
  const id = JSON.stringify([source, returns]);
  let f = recordFns.get(id);
  if (!f) {
    f = recordFunction(celExpression(source, path, returns, ["record", "key"]));
    recordFns.set(id, f);
  }
  return f;
}

function recordFunction(e: CompiledExpression): RecordFn {
  const fast = (e as Parts)[FAST];
  const slow = (e as Parts)[SLOW];
  // A fresh variables object per call: storing each (young) record into one long-lived object
  // costs a write barrier per record, more than this short-lived allocation.
  if (fast && slow) {
    // One call less on the hot path: the fast closure directly, cel-js when it gives up.
    return (record, key) => {
      const v = { record, key };
      const x = fast(v);
      return x === FALLBACK ? slow(v) : x;
    };
  }
  return (record, key) => e.evaluate({ record, key });
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
export function fieldsFn(
  fields: Readonly<Record<string, string>>,
  path: string,
  vars: readonly string[],
): (scope: Readonly<Record<string, unknown>>) => Record<string, unknown> {
  const id = JSON.stringify([Object.entries(fields), vars]);
  let build = builders.get(id);
  if (!build) {
    build = fieldsBuilder(fields, path, vars);
    builders.set(id, build);
  }
  return build;
}

function fieldsBuilder(
  fields: Readonly<Record<string, string>>,
  path: string,
  vars: readonly string[],
): (scope: Readonly<Record<string, unknown>>) => Record<string, unknown> {
  const names = Object.keys(fields);
  const compiled = names.map((name) => celExpression(fields[name] as string, `${path}.${name}`, "dyn", vars));
  // The general path (more than four fields, and whatever the fast builder hands over) starts
  // every output record as a copy of one template, so all of them share one hidden class.
  const template: Record<string, unknown> = Object.fromEntries(names.map((n) => [n, null]));
  const n = names.length;
  const general = unrolled(names, compiled.map(direct), template);
  // The fast builder starts from `{}`, where assigning `__proto__` would set the prototype.
  if (n > 4 || names.includes("__proto__")) return general;
  // Field copies (`auction: record.auction`) read the record directly, without CEL; the other
  // fields run their fast closures (cel-js without one). A missing field or a FALLBACK falls back
  // to the general path, so the result or error is cel-js's.
  const sources = names.map((name) => {
    const field = vars.includes("record") ? /^record\.([A-Za-z_][A-Za-z0-9_]*)$/.exec((fields[name] as string).trim())?.[1] : undefined;
    return field !== undefined && readable(field) ? field : undefined;
  });
  const gets = compiled.map((e) => (e as Parts)[FAST] ?? ((v: Readonly<Record<string, unknown>>) => e.evaluate(v)));
  return projection(names, sources, gets, general);
}

/** The general field builder: every field through its expression. */
function unrolled(
  names: string[],
  fns: ((v: Readonly<Record<string, unknown>>) => unknown)[],
  template: Record<string, unknown>,
): (scope: Readonly<Record<string, unknown>>) => Record<string, unknown> {
  const n = names.length;
  if (n <= 4) {
    // Unrolled: no loop over names per record.
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
  return err instanceof Error ? (err.message.split("\n")[0] ?? err.name) : String(err);
}
