/**
 * Conditions of pattern stages: TypeScript functions or CEL strings, both turned into one
 * function shape `(event, ctx) => boolean` when the pattern is defined, so CEL is parsed and
 * type-checked exactly once. Compositions (and/or, used by the plan compiler) are closures
 * built at compile time; evaluating them allocates nothing.
 */
import { compile } from "../cel/compile.ts";
import type { Key } from "../api/functions.ts";
import { PatternDefinitionError } from "./errors.ts";

/** What an iterative condition can ask about the partial match it would extend. */
export interface PatternContext<T> {
  /** Events the partial match accepted so far for `stage`, in order (empty when none). */
  eventsFor(stage: string): readonly T[];
  /** Event time of the event being evaluated. */
  timestamp(): number;
  /** Key of the event. */
  key(): Key;
}

/** A stage condition; `ctx` makes it iterative (Flink's IterativeCondition). */
export type Condition<T> = (event: T, ctx: PatternContext<T>) => boolean;

/** A condition as a function, or as a CEL expression over `record`, `key` and `match`. */
export type ConditionLike<T> = Condition<T> | string;

/** Accepts everything (a stage without `where`). */
export const alwaysTrue = (): boolean => true;

/**
 * Compiles a CEL condition once. `record` is the event, `key` its key and `match` a map of
 * stage name to the events matched so far — built only when the expression mentions `match`,
 * since materialising the partial match is the expensive part of an iterative condition.
 */
export function celCondition<T>(expression: string, stages: readonly string[]): Condition<T> {
  const result = compile(expression, {
    returns: "bool",
    vars: { record: "dyn", key: "dyn", match: "map<string, list<dyn>>" },
  });
  if (!result.ok) {
    const first = result.errors[0];
    throw new PatternDefinitionError(`CEL condition ${JSON.stringify(expression)}: ${first?.message ?? "invalid"}${first?.hint ? ` (${first.hint})` : ""}`);
  }
  const expr = result.expression;
  const usesMatch = /\bmatch\b/.test(expression);
  // One variables object per condition, mutated per call: no allocation per evaluation.
  const vars: { record: unknown; key: unknown; match: Record<string, readonly unknown[]> } = { record: undefined, key: undefined, match: {} };
  const empty: Record<string, readonly unknown[]> = Object.fromEntries(stages.map((s) => [s, []]));
  return (event, ctx) => {
    vars.record = event;
    vars.key = ctx.key();
    if (usesMatch) {
      const m: Record<string, readonly unknown[]> = {};
      for (const s of stages) m[s] = ctx.eventsFor(s);
      vars.match = m;
    } else vars.match = empty;
    return expr.evaluate(vars) === true;
  };
}

/** Both conditions. */
export function and<T>(a: Condition<T>, b: Condition<T>): Condition<T> {
  if (a === alwaysTrue) return b;
  if (b === alwaysTrue) return a;
  return (e, ctx) => a(e, ctx) && b(e, ctx);
}

/** Either condition. */
export function or<T>(a: Condition<T>, b: Condition<T>): Condition<T> {
  return (e, ctx) => a(e, ctx) || b(e, ctx);
}

/** The negation. */
export function not<T>(a: Condition<T>): Condition<T> {
  return (e, ctx) => !a(e, ctx);
}
