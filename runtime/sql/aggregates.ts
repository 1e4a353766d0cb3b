/**
 * SQL aggregate functions over rows: COUNT (with *, DISTINCT), SUM, AVG, MIN, MAX, COLLECT,
 * LISTAGG, ARRAY_AGG, FIRST_VALUE, LAST_VALUE. They skip NULL inputs and give NULL over no
 * values (COUNT gives 0), as SQL does. DECIMAL sums are exact (summed as scaled integers). All
 * of a query's aggregates share one accumulator array, so a window or group keeps one state
 * value; accumulators are plain data and merge (session windows).
 */
import type { AggregateFunction } from "../api/functions.ts";
import type { Expr } from "./ast.ts";
import { fail, type StatementRef } from "./errors.ts";
import type { Compiled } from "./functions.ts";
import { BIGINT, DOUBLE, isInteger, isNumeric, roundScale, STRING, typeName, type SqlType } from "./types.ts";
import { compareValues } from "./values.ts";

/** One aggregate call: accumulator operations over the values of its argument. */
interface AggImpl {
  type: SqlType;
  create(): unknown;
  add(acc: unknown, v: unknown): unknown;
  merge(a: unknown, b: unknown): unknown;
  result(acc: unknown): unknown;
  /** Merging gives what adding one by one would (AggregateFunction.mergesExactly): not for floating-point sums. */
  exact?: boolean;
}

type CallExpr = Extract<Expr, { kind: "call" }>;

function sumImpl(t: SqlType): AggImpl {
  if (t.kind === "DECIMAL") {
    const f = 10 ** t.scale;
    return {
      type: { kind: "DECIMAL", precision: 38, scale: t.scale },
      create: () => null,
      add: (a, v) => ((a as number | null) ?? 0) + Math.round((v as number) * f),
      merge: (a, b) => (a === null ? b : b === null ? a : (a as number) + (b as number)),
      result: (a) => (a === null ? null : (a as number) / f),
      // Scaled integers: exact in any order.
      exact: true,
    };
  }
  return {
    type: isInteger(t) ? t : DOUBLE,
    exact: isInteger(t),
    create: () => null,
    add: (a, v) => ((a as number | null) ?? 0) + (v as number),
    merge: (a, b) => (a === null ? b : b === null ? a : (a as number) + (b as number)),
    result: (a) => a,
  };
}

function avgImpl(t: SqlType): AggImpl {
  const integer = isInteger(t);
  const dec = t.kind === "DECIMAL" ? t : undefined;
  const scale = dec ? Math.max(6, dec.scale) : 0;
  return {
    type: dec ? { kind: "DECIMAL", precision: 38, scale } : integer ? t : DOUBLE,
    exact: integer,
    create: () => [0, 0],
    add: (a, v) => {
      const acc = a as [number, number];
      acc[0] += v as number;
      acc[1]++;
      return acc;
    },
    merge: (a, b) => {
      const x = a as [number, number];
      const y = b as [number, number];
      x[0] += y[0];
      x[1] += y[1];
      return x;
    },
    result: (a) => {
      const [s, n] = a as [number, number];
      if (n === 0) return null;
      // AVG of an integer type is that integer type in Flink (the quotient truncated).
      return integer ? Math.trunc(s / n) : dec ? roundScale(s / n, scale) : s / n;
    },
  };
}

function extremeImpl(t: SqlType, sign: 1 | -1): AggImpl {
  const better = (x: unknown, y: unknown): boolean => compareValues(x, y) * sign > 0;
  return {
    type: t,
    exact: true,
    create: () => null,
    add: (a, v) => (a === null || better(v, a) ? v : a),
    merge: (a, b) => (a === null ? b : b === null ? a : better(b, a) ? b : a),
    result: (a) => a,
  };
}

const listImpl = (type: SqlType, finish: (values: unknown[]) => unknown): AggImpl => ({
  type,
  exact: true,
  create: () => [],
  add: (a, v) => {
    (a as unknown[]).push(v);
    return a;
  },
  merge: (a, b) => {
    for (const x of b as unknown[]) (a as unknown[]).push(x);
    return a;
  },
  result: (a) => ((a as unknown[]).length === 0 ? null : finish(a as unknown[])),
});

/** A distinct-value key (primitives as themselves, the rest as JSON). */
function distinctKey(v: unknown): unknown {
  return v !== null && typeof v === "object" ? JSON.stringify(v) : v;
}

/** Wraps an aggregate so it sees each distinct value once (the values are kept until the result). */
function distinct(inner: AggImpl): AggImpl {
  return {
    type: inner.type,
    // The distinct values keep the order they first came in, merged or not; the inner aggregate runs over them at the end.
    exact: true,
    create: () => new Map<unknown, unknown>(),
    add: (a, v) => {
      (a as Map<unknown, unknown>).set(distinctKey(v), v);
      return a;
    },
    merge: (a, b) => {
      for (const [k, v] of b as Map<unknown, unknown>) (a as Map<unknown, unknown>).set(k, v);
      return a;
    },
    result: (a) => {
      let acc = inner.create();
      for (const v of (a as Map<unknown, unknown>).values()) acc = inner.add(acc, v);
      return inner.result(acc);
    },
  };
}

/** Builds the aggregate for a call with its compiled argument(s). */
function aggImpl(stmt: StatementRef, e: CallExpr, args: Compiled[]): AggImpl {
  const t = args[0]?.type;
  const need = (ok: boolean, what: string): void => {
    if (!ok) fail(stmt, e.pos, `${e.name} takes ${what}, got ${t ? typeName(t) : "no argument"}`);
  };
  switch (e.name) {
    case "COUNT": {
      const count: AggImpl = {
        type: BIGINT,
        exact: true,
        create: () => 0,
        add: (a) => (a as number) + 1,
        merge: (a, b) => (a as number) + (b as number),
        result: (a) => a,
      };
      if (!e.distinct) return count;
      // COUNT(DISTINCT x) keeps the distinct values alone (a Set), not values by key.
      return {
        type: BIGINT,
        exact: true,
        create: () => new Set<unknown>(),
        add: (a, v) => (a as Set<unknown>).add(distinctKey(v)),
        merge: (a, b) => {
          for (const x of b as Set<unknown>) (a as Set<unknown>).add(x);
          return a;
        },
        result: (a) => (a as Set<unknown>).size,
      };
    }
    case "SUM":
      need(t !== undefined && isNumeric(t), "a numeric argument");
      return e.distinct ? distinct(sumImpl(t as SqlType)) : sumImpl(t as SqlType);
    case "AVG":
      need(t !== undefined && isNumeric(t), "a numeric argument");
      return e.distinct ? distinct(avgImpl(t as SqlType)) : avgImpl(t as SqlType);
    case "MIN":
    case "MAX":
      need(t !== undefined && t.kind !== "MAP" && t.kind !== "ROW" && t.kind !== "MULTISET", "a comparable argument");
      return extremeImpl(t as SqlType, e.name === "MAX" ? 1 : -1);
    case "COLLECT": {
      need(t !== undefined, "an argument");
      const impl: AggImpl = {
        type: { kind: "MULTISET", element: t as SqlType },
        exact: true,
        create: () => ({}),
        add: (a, v) => {
          const k = String(distinctKey(v));
          (a as Record<string, number>)[k] = ((a as Record<string, number>)[k] ?? 0) + 1;
          return a;
        },
        merge: (a, b) => {
          for (const [k, n] of Object.entries(b as Record<string, number>)) (a as Record<string, number>)[k] = ((a as Record<string, number>)[k] ?? 0) + n;
          return a;
        },
        result: (a) => ({ ...(a as Record<string, number>) }),
      };
      // DISTINCT marks a value 1 when added, but its merge adds the counts: not exact.
      return e.distinct ? { ...impl, add: (a, v) => (((a as Record<string, number>)[String(distinctKey(v))] = 1), a), exact: false } : impl;
    }
    case "LISTAGG": {
      need(t !== undefined && (t.kind === "STRING" || t.kind === "NULL"), "a STRING argument");
      const sepArg = args[1];
      if (sepArg && !(sepArg.constant && typeof sepArg.constant.value === "string")) fail(stmt, e.pos, "the separator of LISTAGG must be a constant string");
      const sep = (sepArg?.constant?.value as string | undefined) ?? ",";
      const impl = listImpl(STRING, (vs) => vs.join(sep));
      return e.distinct ? distinct(impl) : impl;
    }
    case "ARRAY_AGG": {
      need(t !== undefined, "an argument");
      const impl = listImpl({ kind: "ARRAY", element: t as SqlType }, (vs) => vs.slice());
      return e.distinct ? distinct(impl) : impl;
    }
    case "FIRST_VALUE":
    case "LAST_VALUE": {
      need(t !== undefined, "an argument");
      const first = e.name === "FIRST_VALUE";
      return {
        type: t as SqlType,
        exact: true,
        create: () => [false, null],
        add: (a, v) => {
          const acc = a as [boolean, unknown];
          if (!first || !acc[0]) {
            acc[0] = true;
            acc[1] = v;
          }
          return acc;
        },
        merge: (a, b) => {
          const [x, y] = [a as [boolean, unknown], b as [boolean, unknown]];
          if (!y[0]) return x;
          if (!x[0]) return y;
          return first ? x : y;
        },
        result: (a) => (a as [boolean, unknown])[1],
      };
    }
    default:
      return fail(stmt, e.pos, `unknown aggregate ${e.name}`);
  }
}

/** An aggregate call compiled: its result type and accumulator operations. */
export type Aggregate = AggImpl;

/** Checks an aggregate call and its argument types; returns its implementation. */
export function aggregateOf(stmt: StatementRef, call: CallExpr, args: Compiled[]): Aggregate {
  if (call.name !== "COUNT" && call.star) fail(stmt, call.pos, `${call.name}(*) is not valid; only COUNT(*) is`);
  if (call.name === "COUNT" && !call.star && args.length !== 1) fail(stmt, call.pos, "COUNT takes one argument or *");
  if (call.name === "LISTAGG" ? args.length < 1 || args.length > 2 : call.name !== "COUNT" && args.length !== 1)
    fail(stmt, call.pos, `${call.name} takes one argument`);
  return aggImpl(stmt, call, args);
}

/**
 * Several aggregates over the same records as one AggregateFunction with an array accumulator.
 * `argAt[i]` is where aggregate i's argument sits in the record (-1: none, as for COUNT(*)).
 */
export function combineAggregates(aggs: Aggregate[], argAt: number[]): AggregateFunction<unknown[], unknown[], unknown[]> {
  const n = aggs.length;
  const [only] = aggs;
  const mergesExactly = aggs.every((a) => a.exact === true);
  // One aggregate (the common COUNT(*) per key and window): no loop, one call site.
  if (n === 1 && only) {
    const at = argAt[0] as number;
    return {
      mergesExactly,
      createAccumulator: () => [only.create()],
      add: (rec, acc) => {
        if (at < 0) acc[0] = only.add(acc[0], null);
        else if (rec[at] !== null) acc[0] = only.add(acc[0], rec[at]);
        return acc;
      },
      getResult: (acc) => [only.result(acc[0])],
      merge(a, b) {
        a[0] = only.merge(a[0], b[0]);
        return a;
      },
    };
  }
  return {
    mergesExactly,
    createAccumulator: () => {
      const acc = new Array<unknown>(n);
      for (let i = 0; i < n; i++) acc[i] = (aggs[i] as AggImpl).create();
      return acc;
    },
    add(rec, acc) {
      for (let i = 0; i < n; i++) {
        const at = argAt[i] as number;
        if (at < 0) {
          acc[i] = (aggs[i] as AggImpl).add(acc[i], null);
          continue;
        }
        const v = rec[at];
        // Aggregates skip NULLs.
        if (v !== null) acc[i] = (aggs[i] as AggImpl).add(acc[i], v);
      }
      return acc;
    },
    getResult: (acc) => {
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = (aggs[i] as AggImpl).result(acc[i]);
      return out;
    },
    merge(a, b) {
      for (let i = 0; i < n; i++) a[i] = (aggs[i] as AggImpl).merge(a[i], b[i]);
      return a;
    },
  };
}
