/**
 * Scalar functions: each checks its argument types at compile time (an error names the function,
 * the argument and the types it takes) and builds one closure. Unless noted, a NULL argument
 * gives NULL. Names follow Flink's built-in functions.
 */
import type { Expr } from "./ast.ts";
import { fail, type StatementRef } from "./errors.ts";
import { dateOf, extractField, formatPattern, parsePattern, parseTimestamp, truncateTo } from "./time.ts";
import { BIGINT, BOOLEAN, DATE, DOUBLE, INT, isInteger, isNumeric, STRING, TIMESTAMP, typeName, comparable, commonType, type SqlType } from "./types.ts";
import { castToString, equalValues, compareValues, textOf, ValueError } from "./values.ts";

/** A compiled expression: its type and its evaluation over a row. */
export interface Compiled {
  type: SqlType;
  fn: (row: unknown[]) => unknown;
  /** The value, when the expression is a constant (literals fold). */
  constant?: { value: unknown };
}

type CallExpr = Extract<Expr, { kind: "call" }>;

/** What a function implementation gets. */
interface FnArgs {
  args: Compiled[];
  call: CallExpr;
  stmt: StatementRef;
}

type Impl = (a: FnArgs) => Compiled;

function arity(a: FnArgs, min: number, max = min): void {
  const n = a.args.length;
  if (n < min || n > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    fail(a.stmt, a.call.pos, `${a.call.name} takes ${want} argument${min === 1 && max === 1 ? "" : "s"}, got ${n}`);
  }
}

function want(a: FnArgs, i: number, ok: (t: SqlType) => boolean, what: string): void {
  const t = a.args[i]?.type as SqlType;
  if (t.kind !== "NULL" && !ok(t)) {
    fail(a.stmt, (a.call.args[i] ?? a.call).pos, `argument ${i + 1} of ${a.call.name} must be ${what}, got ${typeName(t)}`);
  }
}

const isString = (t: SqlType): boolean => t.kind === "STRING";
const isTime = (t: SqlType): boolean => t.kind === "TIMESTAMP";

/** A function of fixed arity whose result is NULL when any argument is NULL. */
function strict(type: SqlType, f: (...v: never[]) => unknown): (a: FnArgs) => Compiled {
  return (a) => {
    const fns = a.args.map((x) => x.fn);
    const [f0, f1, f2] = fns as [Compiled["fn"], Compiled["fn"], Compiled["fn"]];
    const g = f as (...v: unknown[]) => unknown;
    if (fns.length === 1)
      return {
        type,
        fn: (r) => {
          const x = f0(r);
          return x === null ? null : g(x);
        },
      };
    if (fns.length === 2)
      return {
        type,
        fn: (r) => {
          const x = f0(r);
          if (x === null) return null;
          const y = f1(r);
          return y === null ? null : g(x, y);
        },
      };
    if (fns.length === 3)
      return {
        type,
        fn: (r) => {
          const x = f0(r);
          const y = f1(r);
          const z = f2(r);
          return x === null || y === null || z === null ? null : g(x, y, z);
        },
      };
    return {
      type,
      fn: (r) => {
        const vs = fns.map((h) => h(r));
        return vs.includes(null) ? null : g(...vs);
      },
    };
  };
}

function stringFn(min: number, max: number, types: ((t: SqlType) => boolean)[], whats: string[], type: SqlType, f: (...v: never[]) => unknown): Impl {
  return (a) => {
    arity(a, min, max);
    types.forEach((t, i) => {
      if (i < a.args.length) want(a, i, t, whats[i] as string);
    });
    return strict(type, f)(a);
  };
}

const likeCache = new Map<string, RegExp>();

/** A LIKE pattern (% and _, optional escape character) as a regular expression. */
export function likeRegex(pattern: string, escape?: string): RegExp {
  const key = `${escape ?? ""}\u0000${pattern}`;
  let re = likeCache.get(key);
  if (re) return re;
  let src = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (escape !== undefined && c === escape && i + 1 < pattern.length) {
      src += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else if (c === "%") src += "[\\s\\S]*";
    else if (c === "_") src += "[\\s\\S]";
    else src += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  re = new RegExp(`${src}$`);
  if (likeCache.size < 1000) likeCache.set(key, re);
  return re;
}

const regexCache = new Map<string, RegExp>();
function regex(src: string): RegExp {
  let re = regexCache.get(src);
  if (!re) {
    try {
      re = new RegExp(src);
    } catch (err) {
      throw new ValueError(`invalid regular expression ${JSON.stringify(src)}: ${(err as Error).message}`);
    }
    if (regexCache.size < 1000) regexCache.set(src, re);
  }
  return re;
}

const num = (t: SqlType): boolean => isNumeric(t);

/** The result type of a numeric function that keeps its argument's type. */
function sameNumeric(a: FnArgs): SqlType {
  const t = a.args[0]?.type as SqlType;
  return t.kind === "NULL" ? DOUBLE : t;
}

const timestampDiffUnits: Record<string, number> = { SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000, WEEK: 604_800_000 };

/** The scalar functions by name. */
export const functions: Record<string, Impl> = {
  UPPER: stringFn(1, 1, [isString], ["STRING"], STRING, (s: string) => s.toUpperCase()),
  LOWER: stringFn(1, 1, [isString], ["STRING"], STRING, (s: string) => s.toLowerCase()),
  TRIM: stringFn(1, 1, [isString], ["STRING"], STRING, (s: string) => s.trim()),
  LTRIM: stringFn(1, 1, [isString], ["STRING"], STRING, (s: string) => s.trimStart()),
  RTRIM: stringFn(1, 1, [isString], ["STRING"], STRING, (s: string) => s.trimEnd()),
  CHAR_LENGTH: stringFn(1, 1, [isString], ["STRING"], INT, (s: string) => [...s].length),
  CHARACTER_LENGTH: stringFn(1, 1, [isString], ["STRING"], INT, (s: string) => [...s].length),
  INITCAP: stringFn(1, 1, [isString], ["STRING"], STRING, (s: string) =>
    s.toLowerCase().replace(/(^|[^a-z0-9])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase()),
  ),
  REVERSE: stringFn(1, 1, [isString], ["STRING"], STRING, (s: string) => [...s].reverse().join("")),
  SUBSTRING: stringFn(2, 3, [isString, num, num], ["STRING", "an integer", "an integer"], STRING, (s: string, pos: number, len?: number) => {
    const chars = [...s];
    const start = pos > 0 ? pos - 1 : pos < 0 ? Math.max(chars.length + pos, 0) : 0;
    return chars.slice(start, len === undefined ? undefined : start + Math.max(len, 0)).join("");
  }),
  REPLACE: stringFn(3, 3, [isString, isString, isString], ["STRING", "STRING", "STRING"], STRING, (s: string, a: string, b: string) => s.split(a).join(b)),
  POSITION: stringFn(2, 2, [isString, isString], ["STRING", "STRING"], INT, (sub: string, s: string) => s.indexOf(sub) + 1),
  LOCATE: stringFn(2, 2, [isString, isString], ["STRING", "STRING"], INT, (sub: string, s: string) => s.indexOf(sub) + 1),
  SPLIT_INDEX: stringFn(
    3,
    3,
    [isString, isString, num],
    ["STRING", "STRING", "an integer"],
    STRING,
    (s: string, sep: string, i: number) => s.split(sep)[i] ?? null,
  ),
  REGEXP: stringFn(2, 2, [isString, isString], ["STRING", "STRING"], BOOLEAN, (s: string, p: string) => regex(p).test(s)),
  REGEXP_REPLACE: stringFn(3, 3, [isString, isString, isString], ["STRING", "STRING", "STRING"], STRING, (s: string, p: string, r: string) =>
    s.replace(new RegExp(regex(p).source, "g"), r.replace(/\$(\d)/g, "$$$1")),
  ),
  REGEXP_EXTRACT: stringFn(
    2,
    3,
    [isString, isString, num],
    ["STRING", "STRING", "an integer"],
    STRING,
    (s: string, p: string, i?: number) => regex(p).exec(s)?.[i ?? 1] ?? null,
  ),
  LPAD: stringFn(3, 3, [isString, num, isString], ["STRING", "an integer", "STRING"], STRING, (s: string, n: number, pad: string) =>
    n < 0 ? null : s.length >= n ? s.slice(0, n) : pad === "" ? null : s.padStart(n, pad),
  ),
  RPAD: stringFn(3, 3, [isString, num, isString], ["STRING", "an integer", "STRING"], STRING, (s: string, n: number, pad: string) =>
    n < 0 ? null : s.length >= n ? s.slice(0, n) : pad === "" ? null : s.padEnd(n, pad),
  ),
  REPEAT: stringFn(2, 2, [isString, num], ["STRING", "an integer"], STRING, (s: string, n: number) => s.repeat(Math.max(0, n))),
  MD5: stringFn(1, 1, [isString], ["STRING"], STRING, () => {
    throw new ValueError("MD5 is not available");
  }),
  CONCAT: (a) => {
    arity(a, 1, Infinity);
    a.args.forEach((_, i) => want(a, i, isString, "STRING"));
    return strict(STRING, (...v: string[]) => v.join(""))(a);
  },
  CONCAT_WS: (a) => {
    arity(a, 2, Infinity);
    a.args.forEach((_, i) => want(a, i, isString, "STRING"));
    const [sep, ...rest] = a.args.map((x) => x.fn);
    // NULL separator gives NULL; NULL values are skipped (as in Flink).
    return {
      type: STRING,
      fn: (r) => {
        const s = (sep as Compiled["fn"])(r);
        if (s === null) return null;
        const parts: string[] = [];
        for (const f of rest) {
          const v = f(r);
          if (v !== null) parts.push(v as string);
        }
        return parts.join(s as string);
      },
    };
  },
  ABS: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(sameNumeric(a), Math.abs)(a)),
  FLOOR: (a) => (a.call.unit ? timeTruncate(a, false) : (arity(a, 1), want(a, 0, num, "numeric"), strict(sameNumeric(a), Math.floor)(a))),
  CEIL: (a) => (a.call.unit ? timeTruncate(a, true) : (arity(a, 1), want(a, 0, num, "numeric"), strict(sameNumeric(a), Math.ceil)(a))),
  CEILING: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(sameNumeric(a), Math.ceil)(a)),
  ROUND: (a) => {
    arity(a, 1, 2);
    want(a, 0, num, "numeric");
    if (a.args[1]) want(a, 1, isInteger, "an integer");
    const d = a.args[1]?.constant?.value as number | undefined;
    const t = sameNumeric(a);
    const type: SqlType = t.kind === "DECIMAL" ? { kind: "DECIMAL", precision: t.precision, scale: Math.max(0, Math.min(t.scale, d ?? 0)) } : t;
    return strict(type, (x: number, digits?: number) => {
      const f = 10 ** (digits ?? 0);
      return (Math.sign(x) * Math.round(Math.abs(x) * f + Number.EPSILON)) / f;
    })(a);
  },
  TRUNCATE: (a) => (
    arity(a, 1, 2),
    want(a, 0, num, "numeric"),
    strict(sameNumeric(a), (x: number, digits?: number) => {
      const f = 10 ** (digits ?? 0);
      return Math.trunc(x * f) / f;
    })(a)
  ),
  MOD: (a) => (arity(a, 2), want(a, 0, isInteger, "an integer"), want(a, 1, isInteger, "an integer"), strict(INT, modulo)(a)),
  POWER: (a) => (arity(a, 2), want(a, 0, num, "numeric"), want(a, 1, num, "numeric"), strict(DOUBLE, Math.pow)(a)),
  SQRT: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(DOUBLE, Math.sqrt)(a)),
  EXP: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(DOUBLE, Math.exp)(a)),
  LN: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(DOUBLE, Math.log)(a)),
  LOG10: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(DOUBLE, Math.log10)(a)),
  LOG2: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(DOUBLE, Math.log2)(a)),
  SIGN: (a) => (arity(a, 1), want(a, 0, num, "numeric"), strict(sameNumeric(a), Math.sign)(a)),
  GREATEST: (a) => extremeOf(a, 1),
  LEAST: (a) => extremeOf(a, -1),
  COALESCE: (a) => {
    arity(a, 1, Infinity);
    const type = common(a);
    const fns = a.args.map((x) => x.fn);
    return {
      type,
      fn: (r) => {
        for (const f of fns) {
          const v = f(r);
          if (v !== null) return v;
        }
        return null;
      },
    };
  },
  IFNULL: (a) => (arity(a, 2), functions.COALESCE?.(a) as Compiled),
  NULLIF: (a) => {
    arity(a, 2);
    const type = common(a);
    const [x, y] = a.args.map((c) => c.fn) as [Compiled["fn"], Compiled["fn"]];
    return {
      type,
      fn: (r) => {
        const v = x(r);
        const w = y(r);
        return v !== null && w !== null && equalValues(v, w) ? null : v;
      },
    };
  },
  IF: (a) => {
    arity(a, 3);
    want(a, 0, (t) => t.kind === "BOOLEAN", "BOOLEAN");
    const type = common({ ...a, args: a.args.slice(1) });
    const [c, x, y] = a.args.map((v) => v.fn) as [Compiled["fn"], Compiled["fn"], Compiled["fn"]];
    return { type, fn: (r) => (c(r) === true ? x(r) : y(r)) };
  },
  // Time.
  DATE_FORMAT: (a) => {
    arity(a, 2);
    want(a, 0, (t) => isTime(t) || isString(t), "a TIMESTAMP or STRING");
    want(a, 1, isString, "STRING");
    const fromText = a.args[0]?.type.kind === "STRING";
    return strict(STRING, (v: number | string, p: string) => {
      const ms = fromText ? parseTimestamp(v as string) : (v as number);
      return Number.isFinite(ms) ? formatPattern(ms, p) : null;
    })(a);
  },
  TO_TIMESTAMP: (a) => {
    arity(a, 1, 2);
    want(a, 0, isString, "STRING");
    if (a.args[1]) want(a, 1, isString, "STRING");
    return strict(TIMESTAMP, (s: string, p?: string) => {
      const ms = p === undefined ? parseTimestamp(s) : parsePattern(s, p);
      return Number.isFinite(ms) ? ms : null;
    })(a);
  },
  TO_TIMESTAMP_LTZ: (a) => {
    arity(a, 1, 2);
    want(a, 0, num, "numeric (epoch seconds or milliseconds)");
    const precision = (a.args[1]?.constant?.value as number | undefined) ?? 3;
    if (precision !== 0 && precision !== 3) fail(a.stmt, a.call.pos, "TO_TIMESTAMP_LTZ takes precision 0 (seconds) or 3 (milliseconds)");
    const factor = precision === 0 ? 1000 : 1;
    return {
      type: { kind: "TIMESTAMP", ltz: true },
      fn: ((f) => (r: unknown[]) => {
        const v = f(r);
        return v === null ? null : (v as number) * factor;
      })((a.args[0] as Compiled).fn),
    };
  },
  TO_DATE: (a) => {
    arity(a, 1, 2);
    want(a, 0, isString, "STRING");
    return strict(DATE, (s: string, p?: string) => {
      const ms = p === undefined ? parseTimestamp(s) : parsePattern(s, p);
      return Number.isFinite(ms) ? dateOf(ms) : null;
    })(a);
  },
  UNIX_TIMESTAMP: (a) => {
    arity(a, 0, 2);
    if (a.args.length === 0)
      fail(a.stmt, a.call.pos, "UNIX_TIMESTAMP() without arguments reads the clock; results would differ run to run", "pass a timestamp string");
    want(a, 0, isString, "STRING");
    return strict(BIGINT, (s: string, p?: string) => {
      const ms = p === undefined ? parseTimestamp(s) : parsePattern(s, p);
      return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
    })(a);
  },
  FROM_UNIXTIME: (a) => {
    arity(a, 1, 2);
    want(a, 0, isInteger, "an integer (epoch seconds)");
    return strict(STRING, (s: number, p?: string) => formatPattern(s * 1000, p ?? "yyyy-MM-dd HH:mm:ss"))(a);
  },
  EXTRACT: (a) => {
    arity(a, 1);
    want(a, 0, (t) => isTime(t) || t.kind === "DATE", "a TIMESTAMP or DATE");
    const unit = a.call.unit as string;
    const isDate = a.args[0]?.type.kind === "DATE";
    if (Number.isNaN(extractField(0, unit)))
      fail(a.stmt, a.call.pos, `EXTRACT cannot take ${unit}`, "use YEAR, QUARTER, MONTH, WEEK, DAY, DOW, DOY, HOUR, MINUTE, SECOND or MILLISECOND");
    return strict(BIGINT, (v: number) => extractField(isDate ? v * 86_400_000 : v, unit))(a);
  },
  YEAR: timeField("YEAR"),
  QUARTER: timeField("QUARTER"),
  MONTH: timeField("MONTH"),
  WEEK: timeField("WEEK"),
  DAYOFMONTH: timeField("DAYOFMONTH"),
  DAYOFWEEK: timeField("DAYOFWEEK"),
  DAYOFYEAR: timeField("DAYOFYEAR"),
  HOUR: timeField("HOUR"),
  MINUTE: timeField("MINUTE"),
  SECOND: timeField("SECOND"),
  TIMESTAMPDIFF: (a) => {
    arity(a, 2);
    const unit = a.call.unit ?? "";
    const per = timestampDiffUnits[unit];
    if (per === undefined && unit !== "MONTH" && unit !== "YEAR")
      fail(a.stmt, a.call.pos, "TIMESTAMPDIFF takes a unit first: SECOND, MINUTE, HOUR, DAY, WEEK, MONTH or YEAR");
    want(a, 0, isTime, "a TIMESTAMP");
    want(a, 1, isTime, "a TIMESTAMP");
    return strict(INT, (x: number, y: number) => {
      if (per !== undefined) return Math.trunc((y - x) / per);
      const months = (extractField(y, "YEAR") - extractField(x, "YEAR")) * 12 + extractField(y, "MONTH") - extractField(x, "MONTH");
      return unit === "YEAR" ? Math.trunc(months / 12) : months;
    })(a);
  },
  TIMESTAMPADD: (a) => {
    arity(a, 2);
    const per = timestampDiffUnits[a.call.unit ?? ""];
    if (per === undefined) fail(a.stmt, a.call.pos, "TIMESTAMPADD takes a unit first: SECOND, MINUTE, HOUR, DAY or WEEK");
    want(a, 0, isInteger, "an integer");
    want(a, 1, isTime, "a TIMESTAMP");
    return strict(TIMESTAMP, (n: number, t: number) => t + n * per)(a);
  },
  // Collections.
  CARDINALITY: (a) => {
    arity(a, 1);
    want(a, 0, (t) => t.kind === "ARRAY" || t.kind === "MAP" || t.kind === "MULTISET", "an ARRAY, MAP or MULTISET");
    const isArray = a.args[0]?.type.kind === "ARRAY";
    return strict(INT, (v: unknown) => (isArray ? (v as unknown[]).length : Object.keys(v as object).length))(a);
  },
  ARRAY_CONTAINS: (a) => {
    arity(a, 2);
    want(a, 0, (t) => t.kind === "ARRAY", "an ARRAY");
    const el = a.args[0]?.type.kind === "ARRAY" ? (a.args[0].type as { element: SqlType }).element : undefined;
    if (el && !comparable(el, a.args[1]?.type as SqlType))
      fail(a.stmt, a.call.pos, `ARRAY_CONTAINS cannot look for ${typeName(a.args[1]?.type as SqlType)} in ${typeName(a.args[0]?.type as SqlType)}`);
    const [arr, x] = a.args.map((c) => c.fn) as [Compiled["fn"], Compiled["fn"]];
    return {
      type: BOOLEAN,
      fn: (r) => {
        const v = arr(r) as unknown[] | null;
        if (v === null) return null;
        const w = x(r);
        if (w === null) return v.includes(null) ? true : null;
        for (const e of v) if (e !== null && equalValues(e, w)) return true;
        return false;
      },
    };
  },
  ARRAY_JOIN: (a) => {
    arity(a, 2, 3);
    want(a, 0, (t) => t.kind === "ARRAY", "an ARRAY");
    return strict(STRING, (arr: unknown[], sep: string, nullText?: string) =>
      arr
        .filter((x) => x !== null || nullText !== undefined)
        .map((x) => (x === null ? nullText : typeof x === "string" ? x : JSON.stringify(x)))
        .join(sep),
    )(a);
  },
  ARRAY_DISTINCT: (a) => {
    arity(a, 1);
    want(a, 0, (t) => t.kind === "ARRAY", "an ARRAY");
    return strict(a.args[0]?.type as SqlType, (arr: unknown[]) => arr.filter((x, i) => arr.findIndex((y) => equalValues(x, y)) === i))(a);
  },
  MAP_KEYS: (a) => {
    arity(a, 1);
    want(a, 0, (t) => t.kind === "MAP", "a MAP");
    const t = a.args[0]?.type as SqlType;
    return strict({ kind: "ARRAY", element: t.kind === "MAP" ? t.key : STRING }, (m: object) => Object.keys(m))(a);
  },
  MAP_VALUES: (a) => {
    arity(a, 1);
    want(a, 0, (t) => t.kind === "MAP", "a MAP");
    const t = a.args[0]?.type as SqlType;
    return strict({ kind: "ARRAY", element: t.kind === "MAP" ? t.value : STRING }, (m: object) => Object.values(m) as unknown[])(a);
  },
  ARRAY: (a) => {
    const type = common(a);
    const fns = a.args.map((x) => x.fn);
    return { type: { kind: "ARRAY", element: type }, fn: (r) => fns.map((f) => f(r)) };
  },
  MAP: (a) => {
    if (a.args.length % 2 !== 0) fail(a.stmt, a.call.pos, "MAP takes key, value pairs");
    const keys = a.args.filter((_, i) => i % 2 === 0);
    keys.forEach((_, i) => want(a, i * 2, isString, "STRING (map keys are strings)"));
    const valueType = common({ ...a, args: a.args.filter((_, i) => i % 2 === 1) });
    const fns = a.args.map((x) => x.fn);
    return {
      type: { kind: "MAP", key: STRING, value: valueType },
      fn: (r) => {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < fns.length; i += 2) out[String((fns[i] as Compiled["fn"])(r))] = (fns[i + 1] as Compiled["fn"])(r);
        return out;
      },
    };
  },
  JSON_VALUE: (a) => {
    arity(a, 2);
    want(a, 0, isString, "STRING");
    const path = a.args[1]?.constant?.value;
    if (typeof path !== "string" || !/^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/.test(path))
      fail(a.stmt, (a.call.args[1] ?? a.call).pos, "JSON_VALUE takes a constant path like '$.a.b' or '$.items[0]'");
    const steps = [...path.matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g)].map((m) => m[1] ?? Number(m[2]));
    return strict(STRING, (s: string) => {
      let v: unknown;
      try {
        v = JSON.parse(s);
      } catch {
        return null;
      }
      for (const k of steps) {
        if (v === null || typeof v !== "object") return null;
        v = (v as Record<string | number, unknown>)[k];
      }
      return v === undefined || v === null || typeof v === "object" ? null : textOf(v);
    })({ ...a, args: a.args.slice(0, 1) });
  },
  TYPEOF: (a) => {
    arity(a, 1);
    const t = typeName(a.args[0]?.type as SqlType);
    return { type: STRING, fn: () => t, constant: { value: t } };
  },
};

/** YEAR(ts), HOUR(ts), …: one field of a TIMESTAMP or DATE. */
function timeField(unit: string): Impl {
  return (a) => {
    arity(a, 1);
    want(a, 0, (t) => isTime(t) || t.kind === "DATE", "a TIMESTAMP or DATE");
    const isDate = a.args[0]?.type.kind === "DATE";
    return strict(BIGINT, (v: number) => extractField(isDate ? v * 86_400_000 : v, unit))(a);
  };
}

function modulo(x: number, y: number): number {
  if (y === 0) throw new ValueError("division by zero in MOD");
  return x % y;
}

function timeTruncate(a: FnArgs, ceil: boolean): Compiled {
  arity(a, 1);
  want(a, 0, isTime, "a TIMESTAMP");
  const unit = a.call.unit as string;
  if (Number.isNaN(truncateTo(0, unit)))
    fail(a.stmt, a.call.pos, `${a.call.name}(... TO ${unit}) is not supported`, "use YEAR, MONTH, DAY, HOUR, MINUTE or SECOND");
  return strict(a.args[0]?.type as SqlType, (v: number) => truncateTo(v, unit, ceil))(a);
}

function common(a: FnArgs): SqlType {
  const t = commonType(a.args.map((x) => x.type));
  if (!t) fail(a.stmt, a.call.pos, `the arguments of ${a.call.name} have no common type: ${a.args.map((x) => typeName(x.type)).join(", ")}`);
  return t;
}

function extremeOf(a: FnArgs, sign: 1 | -1): Compiled {
  arity(a, 1, Infinity);
  const type = common(a);
  const fns = a.args.map((x) => x.fn);
  return {
    type,
    fn: (r) => {
      let best: unknown = null;
      for (const f of fns) {
        const v = f(r);
        if (v === null) return null;
        if (best === null || compareValues(v, best) * sign > 0) best = v;
      }
      return best;
    },
  };
}

/** CAST(x AS STRING) for a compiled value, used by || on non-strings. */
export function asText(c: Compiled): (r: unknown[]) => unknown {
  if (c.type.kind === "STRING") return c.fn;
  const t = c.type;
  return (r) => {
    const v = c.fn(r);
    return v === null ? null : castToString(v, t);
  };
}
