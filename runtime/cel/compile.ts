/**
 * Compiling a CEL expression of a manifest: parse and type-check it once against its site's scope,
 * then hand back an evaluator that never parses again. Errors carry the position in the expression
 * so `runnel validate` can put a caret under it.
 */
import { EvaluationError, type ParseError, type TypeError as CelTypeError } from "@marcbachmann/cel-js";
import { closest } from "../spec/paths.ts";
import { checkingEnvironment, evaluationEnvironment } from "./environment.ts";
import { assignable, conversionHint, displayType, portableType, type Scope } from "./types.ts";

/** One problem with an expression, located in it. */
export interface CelDiagnostic {
  /** syntax: does not parse; type: does not type-check; result: the wrong result type for the site. */
  kind: "syntax" | "type" | "result";
  message: string;
  expression: string;
  /** Character offsets of the offending part (end exclusive). */
  start: number;
  end: number;
  /** 1-based line and column of `start`. */
  line: number;
  column: number;
  hint?: string;
}

/** A compiled expression: evaluate it as often as needed; it is never parsed again. */
export interface CompiledExpression {
  source: string;
  /** The type the checker inferred (`bool`, `map<string, dyn>`, `dyn`, …). */
  type: string;
  /** Evaluates over the variables (plain JS values; CEL ints are bigint); throws cel-js's EvaluationError. */
  evaluate(vars: Readonly<Record<string, unknown>>): unknown;
}

/** The outcome of compiling: the expression, or why not. */
export type CompileResult = { ok: true; expression: CompiledExpression } | { ok: false; errors: CelDiagnostic[] };

/** The outcome of checking only: the inferred type, or why not. */
export type CheckResult = { ok: true; type: string } | { ok: false; errors: CelDiagnostic[] };

/** Type-checks `expression` in `scope` (including its result type) without building an evaluator. */
export function check(expression: string, scope: Scope): CheckResult {
  const result = checkingEnvironment(scope).check(expression);
  if (!result.valid || result.type === undefined) {
    const error = result.error;
    return {
      ok: false,
      errors: [error ? fromCelError(error, expression, scope) : diagnostic("type", "does not type-check", expression, 0, expression.length)],
    };
  }
  if (!assignable(result.type, scope.returns)) {
    const d = diagnostic("result", `must return ${scope.returns} but returns ${displayType(result.type)}`, expression, 0, expression.length);
    const hint = conversionHint(result.type, scope.returns, expression);
    return { ok: false, errors: [hint ? { ...d, hint } : d] };
  }
  return { ok: true, type: result.type };
}

/** Parses and type-checks once, then returns an evaluator over the scope's variables. */
export function compile(expression: string, scope: Scope): CompileResult {
  const checked = check(expression, scope);
  if (!checked.ok) return checked;
  // Evaluation uses dyn variables: the checker has proved the types, and plain objects stay unwrapped.
  const fn = evaluationEnvironment(Object.keys(scope.vars)).parse(expression);
  const evaluate = (vars: Readonly<Record<string, unknown>>): unknown => fn(vars) as unknown;
  if (scope.returns !== "bool" || portableType(checked.type) !== "dyn") return { ok: true, expression: { source: expression, type: checked.type, evaluate } };
  // A dyn condition is only known to be a bool at run time; anything else must not pass as truthy.
  const guarded = (vars: Readonly<Record<string, unknown>>): unknown => {
    const v = evaluate(vars);
    if (typeof v !== "boolean") throw new EvaluationError(`condition ${JSON.stringify(expression)} returned ${v === null ? "null" : typeof v}, not a bool`);
    return v;
  };
  return { ok: true, expression: { source: expression, type: checked.type, evaluate: guarded } };
}

/** The line of the expression holding the problem and a caret line under it, for terminals. */
export function excerpt(d: CelDiagnostic): string[] {
  const lines = d.expression.split("\n");
  const text = lines[d.line - 1] ?? "";
  const width = Math.max(1, Math.min(d.end - d.start, text.length - (d.column - 1)));
  return [text, `${" ".repeat(d.column - 1)}${"^".repeat(width)}`];
}

function diagnostic(kind: CelDiagnostic["kind"], message: string, expression: string, start: number, end: number): CelDiagnostic {
  const before = expression.slice(0, start);
  const line = before.split("\n").length;
  const column = start - (before.lastIndexOf("\n") + 1) + 1;
  return { kind, message, expression, start, end: Math.max(end, start + 1), line, column };
}

/** Turns a cel-js ParseError/TypeError into a diagnostic with a friendlier message and a hint. */
function fromCelError(error: ParseError | CelTypeError, expression: string, scope: Scope): CelDiagnostic {
  const summary = (error.summary || error.message.split("\n")[0] || "invalid expression").replace(/\s+$/, "");
  const start = Math.min(error.range?.start ?? 0, expression.length);
  const end = error.range?.end ?? start + 1;
  const kind = error.name === "ParseError" ? "syntax" : "type";
  const d = diagnostic(kind, summary, expression, start, end);
  const unknownVar = /^Unknown variable: (\S+)/.exec(summary);
  if (unknownVar) {
    const known = Object.keys(scope.vars);
    const guess = closest(unknownVar[1] ?? "", known);
    return {
      ...d,
      message: `unknown variable ${unknownVar[1]}`,
      hint: guess ? `did you mean ${guess}? (variables here: ${known.join(", ")})` : `variables here: ${known.join(", ")}`,
    };
  }
  const noKey = /^No such key: (\S+)/.exec(summary);
  if (noKey) {
    const fields = [...new Set((scope.types ?? []).flatMap((t) => Object.keys(t.fields)))];
    const guess = closest(noKey[1] ?? "", fields);
    return guess ? { ...d, message: `no field ${noKey[1]}`, hint: `did you mean ${guess}?` } : { ...d, message: `no field ${noKey[1]}` };
  }
  if (kind === "syntax") return { ...d, message: `syntax error: ${summary.charAt(0).toLowerCase()}${summary.slice(1)}` };
  return d;
}
