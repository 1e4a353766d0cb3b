/**
 * Type-checks an expression against a scope and compiles it into one closure over a row (an
 * array of column values). SQL's three-valued logic holds: NULL compares to nothing, AND/OR
 * follow the truth tables, WHERE keeps TRUE only. No code is generated from the SQL text: the
 * closures are built from the syntax tree.
 */
import type { Expr } from "./ast.ts";
import { fail, unsupported, type StatementRef } from "./errors.ts";
import { asText, functions, likeRegex, type Compiled } from "./functions.ts";
import {
  BOOLEAN,
  comparable,
  commonType,
  DOUBLE,
  INT,
  isInteger,
  isNumeric,
  NULL_TYPE,
  plainType,
  STRING,
  typeName,
  widerNumeric,
  type SqlType,
  roundScale,
} from "./types.ts";
import { castFn, compareValues, equalValues, textOf, ValueError } from "./values.ts";

export type { Compiled } from "./functions.ts";

/** A column a scope offers: its name, the table alias it belongs to, its type. */
export interface Column {
  name: string;
  qualifier?: string;
  type: SqlType;
}

/** Names an expression may use, and (in aggregating queries) whole expressions already computed. */
export interface Scope {
  /** The row layout: column i is row[i]. */
  columns: Column[];
  /** Takes over an expression that is a group key, an aggregate or a window property (aggregating scopes). */
  intercept?: (e: Expr) => Compiled | undefined;
  /** Why a column cannot be used here (aggregating scopes: it is neither grouped nor aggregated). */
  columnProblem?: (e: Expr & { kind: "column" }) => string | undefined;
}

/** Aggregate function names (valid only where a query aggregates). */
export const AGGREGATES = new Set(["COUNT", "SUM", "AVG", "MIN", "MAX", "COLLECT", "LISTAGG", "ARRAY_AGG", "FIRST_VALUE", "LAST_VALUE"]);

/** Functions that read the clock or time attributes and are handled elsewhere. */
const WINDOW_PROPERTIES = /^(TUMBLE|HOP|SESSION)_(START|END|ROWTIME|PROCTIME)$/;

/** Finds a column by (qualifier and) name; errors name the candidates. */
export function resolveColumn(stmt: StatementRef, scope: Scope, e: Expr & { kind: "column" }): { index: number; column: Column } | undefined {
  const matches: number[] = [];
  scope.columns.forEach((c, i) => {
    if (c.name === e.name && (e.qualifier === undefined || c.qualifier === e.qualifier)) matches.push(i);
  });
  if (matches.length > 1) {
    const where = matches.map((i) => scope.columns[i]?.qualifier ?? "?").join(" and ");
    fail(
      stmt,
      e.pos,
      `column '${e.name}' is ambiguous (it is in ${where})`,
      `qualify it, e.g. ${scope.columns[matches[0] as number]?.qualifier ?? "t"}.${e.name}`,
    );
  }
  const i = matches[0];
  return i === undefined ? undefined : { index: i, column: scope.columns[i] as Column };
}

function unknownColumn(stmt: StatementRef, scope: Scope, e: Expr & { kind: "column" }): never {
  const name = e.qualifier ? `${e.qualifier}.${e.name}` : e.name;
  const near = scope.columns.find((c) => c.name.toLowerCase() === e.name.toLowerCase());
  const available = [...new Set(scope.columns.map((c) => (c.qualifier ? `${c.qualifier}.${c.name}` : c.name)))].join(", ");
  fail(stmt, e.pos, `unknown column '${name}'`, near ? `did you mean '${near.name}'? (names are case-sensitive)` : `available: ${available || "none"}`);
}

function constant(type: SqlType, value: unknown): Compiled {
  return { type, fn: () => value, constant: { value } };
}

/** Folds a compiled expression whose inputs are all constants. */
function fold(c: Compiled, inputs: Compiled[]): Compiled {
  if (inputs.length === 0 || !inputs.every((i) => i.constant)) return c;
  try {
    return constant(c.type, c.fn([]));
  } catch {
    return c;
  }
}

/** Compiles an expression in a scope (throws a SqlError naming the problem and its position). */
export function compileExpr(stmt: StatementRef, scope: Scope, e: Expr): Compiled {
  const hit = scope.intercept?.(e);
  if (hit) return hit;
  const sub = (x: Expr): Compiled => compileExpr(stmt, scope, x);
  switch (e.kind) {
    case "literal":
      return constant(e.type, e.value);
    case "interval":
      return constant({ kind: "INTERVAL" }, e.ms);
    case "column": {
      const problem = scope.columnProblem?.(e);
      if (problem) fail(stmt, e.pos, problem);
      const found = resolveColumn(stmt, scope, e);
      if (!found) {
        // t.f where t is a ROW column, not a table alias.
        if (e.qualifier !== undefined) {
          const row = resolveColumn(stmt, scope, { ...e, kind: "column", name: e.qualifier, qualifier: undefined });
          if (row) return fieldAccess(stmt, { type: row.column.type, fn: (r) => r[row.index] }, e.name, e);
        }
        unknownColumn(stmt, scope, e);
      }
      const i = found.index;
      // A processing-time attribute is the clock when it is read (Flink's PROCTIME()).
      if (found.column.type.kind === "TIMESTAMP" && found.column.type.proctime) return { type: found.column.type, fn: () => Date.now() };
      return { type: found.column.type, fn: (r) => r[i] };
    }
    case "field":
      return fieldAccess(stmt, sub(e.arg), e.name, e);
    case "star":
      return fail(stmt, e.pos, "* is allowed only in the select list or COUNT(*)");
    case "unary": {
      const a = sub(e.arg);
      if (e.op === "NOT") {
        wantBoolean(stmt, a, e.arg, "NOT");
        return fold({ type: BOOLEAN, fn: (r) => ((v) => (v === null ? null : !v))(a.fn(r)) }, [a]);
      }
      if (!isNumeric(a.type) && a.type.kind !== "INTERVAL") fail(stmt, e.pos, `cannot negate ${typeName(a.type)}`);
      return fold({ type: a.type, fn: (r) => ((v) => (v === null ? null : -(v as number)))(a.fn(r)) }, [a]);
    }
    case "binary":
      return binary(stmt, e, sub(e.left), sub(e.right));
    case "is": {
      const a = sub(e.arg);
      const test =
        e.what === "NULL"
          ? (v: unknown) => v === null
          : e.what === "TRUE"
            ? (v: unknown) => v === true
            : e.what === "FALSE"
              ? (v: unknown) => v === false
              : (v: unknown) => v === null;
      if (e.what !== "NULL") wantBoolean(stmt, a, e.arg, `IS ${e.what}`);
      const f = a.fn;
      return fold({ type: BOOLEAN, fn: e.not ? (r) => !test(f(r)) : (r) => test(f(r)) }, [a]);
    }
    case "distinctFrom": {
      const l = sub(e.left);
      const r2 = sub(e.right);
      if (!comparable(l.type, r2.type)) fail(stmt, e.pos, `cannot compare ${typeName(l.type)} with ${typeName(r2.type)}`);
      const same = (r: unknown[]): boolean => {
        const x = l.fn(r);
        const y = r2.fn(r);
        return x === null || y === null ? x === y : equalValues(x, y);
      };
      return { type: BOOLEAN, fn: e.not ? same : (r) => !same(r) };
    }
    case "between": {
      const x = sub(e.arg);
      const lo = sub(e.low);
      const hi = sub(e.high);
      for (const b of [lo, hi]) if (!comparable(x.type, b.type)) fail(stmt, e.pos, `cannot compare ${typeName(x.type)} with ${typeName(b.type)} in BETWEEN`);
      return {
        type: BOOLEAN,
        fn: (r) => {
          const v = x.fn(r);
          const a = lo.fn(r);
          const b = hi.fn(r);
          if (v === null || a === null || b === null) return null;
          const inside = compareValues(v, a) >= 0 && compareValues(v, b) <= 0;
          return e.not ? !inside : inside;
        },
      };
    }
    case "in": {
      const x = sub(e.arg);
      const list = e.list.map(sub);
      for (const [i, c] of list.entries())
        if (!comparable(x.type, c.type)) fail(stmt, (e.list[i] as Expr).pos, `cannot compare ${typeName(x.type)} with ${typeName(c.type)} in IN`);
      if (list.every((c) => c.constant && c.constant.value !== null) && list.every((c) => typeof c.constant?.value !== "object")) {
        const set = new Set(list.map((c) => c.constant?.value));
        const f = x.fn;
        return { type: BOOLEAN, fn: (r) => ((v) => (v === null ? null : set.has(v) !== e.not))(f(r)) };
      }
      return {
        type: BOOLEAN,
        fn: (r) => {
          const v = x.fn(r);
          if (v === null) return null;
          let sawNull = false;
          for (const c of list) {
            const w = c.fn(r);
            if (w === null) sawNull = true;
            else if (equalValues(v, w)) return !e.not;
          }
          return sawNull ? null : e.not;
        },
      };
    }
    case "like": {
      const x = sub(e.arg);
      const p = sub(e.pattern);
      if (x.type.kind !== "STRING" && x.type.kind !== "NULL") fail(stmt, e.arg.pos, `LIKE needs a STRING, got ${typeName(x.type)}`);
      if (p.type.kind !== "STRING" && p.type.kind !== "NULL") fail(stmt, e.pattern.pos, `a LIKE pattern must be a STRING, got ${typeName(p.type)}`);
      if (p.constant && typeof p.constant.value === "string") {
        const re = likeRegex(p.constant.value, e.escape);
        const f = x.fn;
        return { type: BOOLEAN, fn: (r) => ((v) => (v === null ? null : re.test(v as string) !== e.not))(f(r)) };
      }
      return {
        type: BOOLEAN,
        fn: (r) => {
          const v = x.fn(r);
          const pat = p.fn(r);
          return v === null || pat === null ? null : likeRegex(pat as string, e.escape).test(v as string) !== e.not;
        },
      };
    }
    case "case":
      return caseExpr(stmt, e, sub);
    case "cast": {
      const a = sub(e.arg);
      const f = castFn(plainType(a.type), e.type);
      if (!f)
        fail(
          stmt,
          e.pos,
          `cannot CAST ${typeName(a.type)} to ${typeName(e.type)}`,
          a.type.kind === "BIGINT" && e.type.kind === "TIMESTAMP" ? "use TO_TIMESTAMP_LTZ(epoch, 3)" : undefined,
        );
      const g = a.fn;
      return fold({ type: e.type, fn: (r) => ((v) => (v === null ? null : f(v)))(g(r)) }, [a]);
    }
    case "subscript": {
      const a = sub(e.arg);
      const i = sub(e.index);
      if (a.type.kind === "MAP") {
        if (!comparable(a.type.key, i.type)) fail(stmt, e.index.pos, `the key of ${typeName(a.type)} is ${typeName(a.type.key)}, not ${typeName(i.type)}`);
        const [fa, fi] = [a.fn, i.fn];
        return {
          type: a.type.value,
          fn: (r) => {
            const m = fa(r) as Record<string, unknown> | null;
            const k = fi(r);
            if (m === null || k === null) return null;
            const v = m[textOf(k)];
            return v === undefined ? null : v;
          },
        };
      }
      if (a.type.kind === "ARRAY") {
        if (!isInteger(i.type) && i.type.kind !== "NULL") fail(stmt, e.index.pos, `an array index must be an integer, got ${typeName(i.type)}`);
        const [fa, fi] = [a.fn, i.fn];
        return {
          type: a.type.element,
          fn: (r) => {
            const arr = fa(r) as unknown[] | null;
            const k = fi(r) as number | null;
            if (arr === null || k === null) return null;
            // SQL arrays are 1-based; out of range is NULL.
            const v = arr[k - 1];
            return v === undefined ? null : v;
          },
        };
      }
      return fail(stmt, e.pos, `cannot index ${typeName(a.type)} with [...]`, "[...] reads a MAP by key or an ARRAY by position (from 1)");
    }
    case "call":
      return call(stmt, scope, e, sub);
  }
}

function fieldAccess(stmt: StatementRef, a: Compiled, name: string, e: Expr): Compiled {
  if (a.type.kind !== "ROW") fail(stmt, e.pos, `'${name}' is not a field: ${typeName(a.type)} has no fields`);
  const f = a.type.fields.find((x) => x.name === name);
  if (!f) fail(stmt, e.pos, `ROW has no field '${name}'`, `fields: ${a.type.fields.map((x) => x.name).join(", ")}`);
  const g = a.fn;
  return {
    type: f.type,
    fn: (r) => {
      const v = g(r) as Record<string, unknown> | null;
      const x = v === null ? null : v[name];
      return x === undefined ? null : x;
    },
  };
}

function wantBoolean(stmt: StatementRef, c: Compiled, e: Expr, where: string): void {
  if (c.type.kind !== "BOOLEAN" && c.type.kind !== "NULL") fail(stmt, e.pos, `${where} needs a BOOLEAN, got ${typeName(c.type)} (${e.text})`);
}

function caseExpr(stmt: StatementRef, e: Expr & { kind: "case" }, sub: (x: Expr) => Compiled): Compiled {
  const operand = e.operand ? sub(e.operand) : undefined;
  const whens = e.whens.map((w) => ({ when: sub(w.when), then: sub(w.then), src: w }));
  for (const w of whens) {
    if (operand) {
      if (!comparable(operand.type, w.when.type)) fail(stmt, w.src.when.pos, `cannot compare ${typeName(operand.type)} with ${typeName(w.when.type)} in CASE`);
    } else wantBoolean(stmt, w.when, w.src.when, "WHEN");
  }
  const otherwise = e.otherwise ? sub(e.otherwise) : constant(NULL_TYPE, null);
  const type = commonType([...whens.map((w) => w.then.type), otherwise.type]);
  if (!type) fail(stmt, e.pos, `the branches of CASE have no common type: ${[...whens.map((w) => w.then.type), otherwise.type].map(typeName).join(", ")}`);
  const conds = whens.map((w) => w.when.fn);
  const thens = whens.map((w) => coerce(w.then, type));
  const other = coerce(otherwise, type);
  const n = conds.length;
  if (operand) {
    const op = operand.fn;
    return {
      type,
      fn: (r) => {
        const v = op(r);
        if (v !== null) for (let i = 0; i < n; i++) if (equalValues(v, (conds[i] as Compiled["fn"])(r))) return (thens[i] as Compiled["fn"])(r);
        return other(r);
      },
    };
  }
  if (n === 1) {
    const [c0, t0] = [conds[0] as Compiled["fn"], thens[0] as Compiled["fn"]];
    return { type, fn: (r) => (c0(r) === true ? t0(r) : other(r)) };
  }
  return {
    type,
    fn: (r) => {
      for (let i = 0; i < n; i++) if ((conds[i] as Compiled["fn"])(r) === true) return (thens[i] as Compiled["fn"])(r);
      return other(r);
    },
  };
}

/** A value of `from` as `to` (DECIMAL rounding; numbers stay numbers). */
function coerce(c: Compiled, to: SqlType): Compiled["fn"] {
  if (to.kind === "DECIMAL" && c.type.kind !== "DECIMAL" && c.type.kind !== "NULL" && isNumeric(c.type)) {
    const f = c.fn;
    return (r) => ((v) => (v === null ? null : roundScale(v as number, to.scale)))(f(r));
  }
  return c.fn;
}

const compareOps: Record<string, (c: number) => boolean> = {
  "=": (c) => c === 0,
  "<>": (c) => c !== 0,
  "<": (c) => c < 0,
  "<=": (c) => c <= 0,
  ">": (c) => c > 0,
  ">=": (c) => c >= 0,
};

function binary(stmt: StatementRef, e: Expr & { kind: "binary" }, l: Compiled, r: Compiled): Compiled {
  const [lf, rf] = [l.fn, r.fn];
  if (e.op === "AND" || e.op === "OR") {
    wantBoolean(stmt, l, e.left, e.op);
    wantBoolean(stmt, r, e.right, e.op);
    const and = e.op === "AND";
    return fold(
      {
        type: BOOLEAN,
        fn: and
          ? (row) => {
              const a = lf(row);
              if (a === false) return false;
              const b = rf(row);
              if (b === false) return false;
              return a === null || b === null ? null : true;
            }
          : (row) => {
              const a = lf(row);
              if (a === true) return true;
              const b = rf(row);
              if (b === true) return true;
              return a === null || b === null ? null : false;
            },
      },
      [l, r],
    );
  }
  const cmp = compareOps[e.op];
  if (cmp) {
    if (!comparable(l.type, r.type))
      fail(stmt, e.pos, `cannot compare ${typeName(l.type)} with ${typeName(r.type)} (${e.text})`, "CAST one side to the other's type");
    const simple =
      (isNumeric(l.type) || l.type.kind === "STRING" || l.type.kind === "TIMESTAMP") &&
      (isNumeric(r.type) || r.type.kind === "STRING" || r.type.kind === "TIMESTAMP");
    if (simple && e.op === "=")
      return fold(
        {
          type: BOOLEAN,
          fn: (row) => {
            const a = lf(row);
            if (a === null) return null;
            const b = rf(row);
            return b === null ? null : a === b;
          },
        },
        [l, r],
      );
    if (simple)
      return fold(
        {
          type: BOOLEAN,
          fn: (row) => {
            const a = lf(row);
            if (a === null) return null;
            const b = rf(row);
            if (b === null) return null;
            return cmp((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
          },
        },
        [l, r],
      );
    return fold(
      {
        type: BOOLEAN,
        fn: (row) => {
          const a = lf(row);
          const b = rf(row);
          if (a === null || b === null) return null;
          return e.op === "=" ? equalValues(a, b) : e.op === "<>" ? !equalValues(a, b) : cmp(compareValues(a, b));
        },
      },
      [l, r],
    );
  }
  if (e.op === "||") {
    const [a, b] = [asText(l), asText(r)];
    return fold({ type: STRING, fn: (row) => ((x, y) => (x === null || y === null ? null : (x as string) + (y as string)))(a(row), b(row)) }, [l, r]);
  }
  // Timestamp arithmetic with intervals.
  if (l.type.kind === "TIMESTAMP" && r.type.kind === "INTERVAL" && (e.op === "+" || e.op === "-")) {
    const sign = e.op === "+" ? 1 : -1;
    return fold(
      { type: plainType(l.type), fn: (row) => ((x, y) => (x === null || y === null ? null : (x as number) + sign * (y as number)))(lf(row), rf(row)) },
      [l, r],
    );
  }
  if (l.type.kind === "INTERVAL" && r.type.kind === "TIMESTAMP" && e.op === "+") {
    return { type: plainType(r.type), fn: (row) => ((x, y) => (x === null || y === null ? null : (x as number) + (y as number)))(lf(row), rf(row)) };
  }
  if (!isNumeric(l.type) || !isNumeric(r.type)) {
    fail(
      stmt,
      e.pos,
      `cannot apply '${e.op}' to ${typeName(l.type)} and ${typeName(r.type)} (${e.text})`,
      l.type.kind === "STRING" || r.type.kind === "STRING" ? "CAST the text to a number, or use || to join text" : undefined,
    );
  }
  let type = widerNumeric(l.type, r.type);
  if (type.kind === "NULL") type = INT;
  const integer = isInteger(type);
  const dec = type.kind === "DECIMAL" ? type : undefined;
  let out: SqlType = type;
  let op: (a: number, b: number) => number;
  switch (e.op) {
    case "+":
      op = (a, b) => a + b;
      break;
    case "-":
      op = (a, b) => a - b;
      break;
    case "*":
      op = (a, b) => a * b;
      if (dec)
        out = {
          kind: "DECIMAL",
          precision: 38,
          scale: Math.min(38, (l.type.kind === "DECIMAL" ? l.type.scale : 0) + (r.type.kind === "DECIMAL" ? r.type.scale : 0)),
        };
      break;
    case "/":
      op = integer
        ? (a, b) => {
            if (b === 0) throw new ValueError(`division by zero (${e.text})`);
            return Math.trunc(a / b);
          }
        : (a, b) => a / b;
      if (dec) out = { kind: "DECIMAL", precision: 38, scale: Math.max(6, dec.scale) };
      break;
    case "%":
      op = (a, b) => {
        if (b === 0) throw new ValueError(`division by zero (${e.text})`);
        return a % b;
      };
      break;
    default:
      return unsupported(stmt, e.pos, `the operator ${e.op}`);
  }
  const round =
    out.kind === "DECIMAL"
      ? (
          (s) => (v: number) =>
            roundScale(v, s)
        )(out.scale)
      : undefined;
  const f = round ? (a: number, b: number) => round(op(a, b)) : op;
  return fold(
    {
      type: out,
      fn: (row) => {
        const a = lf(row);
        if (a === null) return null;
        const b = rf(row);
        return b === null ? null : f(a as number, b as number);
      },
    },
    [l, r],
  );
}

function call(stmt: StatementRef, scope: Scope, e: Expr & { kind: "call" }, sub: (x: Expr) => Compiled): Compiled {
  if (AGGREGATES.has(e.name)) {
    return fail(
      stmt,
      e.pos,
      `the aggregate ${e.name} is not allowed here`,
      "aggregates belong in the select list or HAVING of a query with GROUP BY (WHERE runs before grouping)",
    );
  }
  if (WINDOW_PROPERTIES.test(e.name)) return fail(stmt, e.pos, `${e.name} needs a matching ${e.name.split("_")[0]}(...) in GROUP BY`);
  if (e.name === "PROCTIME") {
    return fail(stmt, e.pos, "PROCTIME() declares a processing-time attribute and belongs in CREATE TABLE (proc AS PROCTIME())");
  }
  if (e.name === "NOW" || e.name === "CURRENT_TIMESTAMP" || e.name === "LOCALTIMESTAMP" || e.name === "CURRENT_DATE") {
    // The clock: processing time, as in Flink's streaming mode (not deterministic).
    const date = e.name === "CURRENT_DATE";
    return {
      type: date ? { kind: "DATE" } : { kind: "TIMESTAMP", ltz: e.name === "CURRENT_TIMESTAMP" || e.name === "NOW" },
      fn: date ? () => Math.floor(Date.now() / 86_400_000) : () => Date.now(),
    };
  }
  const impl = functions[e.name === "SUBSTR" ? "SUBSTRING" : e.name];
  if (!impl) {
    return unsupported(stmt, e.pos, `the function ${e.name}`, "see docs/sql.md for the functions Runnel runs");
  }
  if (e.distinct) fail(stmt, e.pos, `DISTINCT applies to aggregate functions, not ${e.name}`);
  const args = e.args.map(sub);
  const c = impl({ args, call: e, stmt });
  return fold(c, args);
}

/** Compiles a condition (WHERE, HAVING, ON): must be BOOLEAN; only TRUE passes. */
export function compileCondition(stmt: StatementRef, scope: Scope, e: Expr, where: string): (row: unknown[]) => boolean {
  const c = compileExpr(stmt, scope, e);
  if (c.type.kind !== "BOOLEAN" && c.type.kind !== "NULL") fail(stmt, e.pos, `${where} must be a BOOLEAN condition, got ${typeName(c.type)} (${e.text})`);
  const f = c.fn;
  return (r) => f(r) === true;
}

/** Whether an expression contains an aggregate call (outside OVER). */
export function hasAggregate(e: Expr): boolean {
  let found = false;
  walk(e, (x) => {
    if (x.kind === "call" && AGGREGATES.has(x.name)) found = true;
  });
  return found;
}

/** Visits an expression and its sub-expressions. */
export function walk(e: Expr, visit: (x: Expr) => void): void {
  visit(e);
  switch (e.kind) {
    case "unary":
    case "is":
    case "cast":
    case "field":
      walk(e.arg, visit);
      break;
    case "binary":
    case "distinctFrom":
      walk(e.left, visit);
      walk(e.right, visit);
      break;
    case "between":
      walk(e.arg, visit);
      walk(e.low, visit);
      walk(e.high, visit);
      break;
    case "in":
      walk(e.arg, visit);
      e.list.forEach((x) => walk(x, visit));
      break;
    case "like":
      walk(e.arg, visit);
      walk(e.pattern, visit);
      break;
    case "case":
      if (e.operand) walk(e.operand, visit);
      e.whens.forEach((w) => {
        walk(w.when, visit);
        walk(w.then, visit);
      });
      if (e.otherwise) walk(e.otherwise, visit);
      break;
    case "subscript":
      walk(e.arg, visit);
      walk(e.index, visit);
      break;
    case "call":
      e.args.forEach((x) => walk(x, visit));
      break;
    default:
      break;
  }
}

/** A normalised key of an expression's text, for matching GROUP BY keys and aggregate calls. */
export function exprKey(e: Expr): string {
  return e.text.replace(/\s+/g, "").toUpperCase();
}

export { DOUBLE };
