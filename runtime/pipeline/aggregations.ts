/**
 * The aggregations of window and over steps as one AggregateFunction: the accumulator holds one
 * slot per aggregation plus the key (so outputs can show the key as CEL computed it, not the
 * partitioning string). Accumulators are plain data (numbers, arrays, Sets) so checkpoints can
 * clone them. Counts come out as CEL ints (bigint), like the type checker assumes.
 */
import type { AccumulatorField, AccumulatorLayout, AggregateFunction, Key } from "../api/functions.ts";
import type { Aggregation } from "../spec/generated/types.ts";
import { recordFn, type RecordFn } from "./expr.ts";
import { internalized } from "./readers.ts";
import { KEY, keyOf, toJson, toKey, toNumber, type Rec } from "./values.ts";

/**
 * The accumulator: [key, slot of aggregation 0, slot 1, …] (one allocation per window and key),
 * or, when every aggregation is a plain count, the count itself (see `countsOnly`).
 */
export type AggAcc = unknown[] | number;

/** The result: the key (undefined: the partition key is the CEL key itself) and the aggregation values by output name. */
export interface AggResult {
  key: unknown;
  values: Record<string, unknown>;
}

/** CEL ints for small counts, made once (bigints are immutable, so results can share them). */
const smallInts: bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** A count as a CEL int. */
export function intOf(n: number): bigint {
  return n < smallInts.length ? (smallInts[n] as bigint) : BigInt(n);
}

interface Part {
  name: string;
  init(): unknown;
  add(acc: unknown, v: unknown, by: number): unknown;
  result(acc: unknown): unknown;
  merge(a: unknown, b: unknown): unknown;
  of: RecordFn | undefined;
  where: RecordFn | undefined;
  by: RecordFn | undefined;
  /** A count without where: nothing to evaluate. */
  plain: boolean;
  /** topN: needs the ranking value. */
  ranked: boolean;
  /** Merging gives what adding one by one would (see AggregateFunction.mergesExactly). */
  exact: boolean;
}

type Fns = Omit<Part, "name" | "of" | "where" | "by" | "plain" | "ranked" | "exact">;

/** Functions whose merge is exact: all but the floating-point sums (their rounding depends on the order). */
const EXACT_MERGE = new Set<Aggregation["fn"]>(["count", "min", "max", "countDistinct", "collect", "topN", "first", "last"]);

const cmp = (a: unknown, b: unknown): number => (typeof a === "string" && typeof b === "string" ? (a < b ? -1 : a > b ? 1 : 0) : toNumber(a) - toNumber(b));

function fnsOf(a: Aggregation): Fns {
  switch (a.fn) {
    case "count":
      return { init: () => 0, add: (n) => (n as number) + 1, result: (n) => intOf(n as number), merge: (x, y) => (x as number) + (y as number) };
    case "sum":
      // [sum, every value was an int]: a sum of CEL ints stays an int.
      return {
        init: () => [0, true],
        add: (acc, v) => {
          const s = acc as [number, boolean];
          s[0] += toNumber(v);
          s[1] = s[1] && typeof v === "bigint";
          return s;
        },
        result: (acc) => ((acc as [number, boolean])[1] ? BigInt(Math.round((acc as [number, boolean])[0])) : (acc as [number, boolean])[0]),
        merge: (x, y) => [(x as [number, boolean])[0] + (y as [number, boolean])[0], (x as [number, boolean])[1] && (y as [number, boolean])[1]],
      };
    case "avg":
      return {
        init: () => [0, 0],
        add: (acc, v) => {
          const s = acc as [number, number];
          s[0] += toNumber(v);
          s[1]++;
          return s;
        },
        result: (acc) => ((acc as [number, number])[1] === 0 ? null : (acc as [number, number])[0] / (acc as [number, number])[1]),
        merge: (x, y) => [(x as [number, number])[0] + (y as [number, number])[0], (x as [number, number])[1] + (y as [number, number])[1]],
      };
    case "min":
    case "max": {
      const better = a.fn === "min" ? (x: unknown, y: unknown) => cmp(x, y) < 0 : (x: unknown, y: unknown) => cmp(x, y) > 0;
      return {
        init: () => null,
        add: (acc, v) => (acc === null || better(v, acc) ? v : acc),
        result: (acc) => acc,
        merge: (x, y) => (x === null ? y : y === null ? x : better(y, x) ? y : x),
      };
    }
    case "countDistinct":
      return {
        init: () => new Set(),
        add: (acc, v) => (acc as Set<unknown>).add(toKey(v)),
        result: (acc) => intOf((acc as Set<unknown>).size),
        merge: (x, y) => {
          for (const v of y as Set<unknown>) (x as Set<unknown>).add(v);
          return x;
        },
      };
    case "collect": {
      const distinct = a.distinct === true;
      const push = (list: unknown[], v: unknown): unknown[] => {
        if (!distinct || !list.some((x) => toKey(x) === toKey(v))) list.push(v);
        return list;
      };
      return {
        init: () => [],
        add: (acc, v) => push(acc as unknown[], v),
        result: (acc) => (acc as unknown[]).slice(),
        merge: (x, y) => (y as unknown[]).reduce((l: unknown[], v) => push(l, v), x as unknown[]),
      };
    }
    case "topN": {
      const n = a.limit ?? 10;
      const before = a.order === "asc" ? (x: number, y: number) => x < y : (x: number, y: number) => x > y;
      // Equal ranking values are ordered by the value itself (its JSON), not by arrival: on a
      // cluster records of one key arrive from several tasks in no fixed order, and a ranking
      // must come out the same in every run and after every restore.
      const ranksBefore = (s: number, v: unknown, e: [number, unknown]): boolean => before(s, e[0]) || (s === e[0] && toJson(v) < toJson(e[1]));
      const insert = (list: [number, unknown][], s: number, v: unknown): [number, unknown][] => {
        if (list.length >= n && !ranksBefore(s, v, list[list.length - 1] as [number, unknown])) return list;
        let i = list.length;
        while (i > 0 && ranksBefore(s, v, list[i - 1] as [number, unknown])) i--;
        list.splice(i, 0, [s, v]);
        if (list.length > n) list.pop();
        return list;
      };
      return {
        init: () => [],
        add: (acc, v, by) => insert(acc as [number, unknown][], by, v),
        result: (acc) => (acc as [number, unknown][]).map((e) => e[1]),
        merge: (x, y) => (y as [number, unknown][]).reduce((l, [s, v]) => insert(l, s, v), x as [number, unknown][]),
      };
    }
    case "first":
      return {
        init: () => [],
        add: (acc, v) => ((acc as unknown[]).length === 0 ? [v] : acc),
        result: (acc) => (acc as unknown[])[0] ?? null,
        merge: (x, y) => ((x as unknown[]).length > 0 ? x : y),
      };
    case "last":
      return { init: () => [], add: (_acc, v) => [v], result: (acc) => (acc as unknown[])[0] ?? null, merge: (x, y) => ((y as unknown[]).length > 0 ? y : x) };
  }
}

/** What computes one aggregation, as its state schema records it: `sum(record.n)`, `topN(10 desc by record.score of record.id)`. */
export function aggregationKind(a: Aggregation): string {
  // Only what the function reads: count ignores `of`, only topN ranks, only collect is distinct.
  const args: string[] = [];
  if (a.fn === "topN") args.push(String(a.limit ?? 10), a.order ?? "desc", ...(a.by === undefined ? [] : [`by ${a.by}`]));
  if (a.fn !== "count" && a.of !== undefined) args.push(a.fn === "topN" ? `of ${a.of}` : a.of);
  if (a.fn === "collect" && a.distinct === true) args.push("distinct");
  if (a.where !== undefined) args.push(`where ${a.where}`);
  return args.length === 0 ? a.fn : `${a.fn}(${args.join(" ")})`;
}

/** A count of every record (no where): all-plain-count accumulators share one number. */
const isPlainCount = (f: AccumulatorField): boolean => f.kind === "count";

/**
 * The accumulator layout of compiled aggregations: its fields, and how an accumulator written
 * with other fields is converted — by name, an added aggregation starting empty (it counts the
 * window's events from the restore on), a removed one dropped. The same name with another
 * function or expression cannot be converted.
 */
function layoutOf(fields: AccumulatorField[], init: (i: number) => unknown): AccumulatorLayout {
  const countsForm = fields.every(isPlainCount);
  return {
    fields,
    migrateFrom(from) {
      for (const f of fields) {
        const o = from.find((x) => x.name === f.name);
        if (o && o.kind !== f.kind) return `aggregation '${f.name}' changed from ${o.kind} to ${f.kind}`;
      }
      const oldCountsForm = from.every(isPlainCount);
      const index = fields.map((f) => from.findIndex((x) => x.name === f.name));
      return (acc: unknown, key: Key): unknown => {
        // The old accumulator: [key, slot…], or (counts only) the count, or [key, count].
        let k: unknown;
        let slots: unknown[];
        if (oldCountsForm) {
          const n = typeof acc === "number" ? acc : (acc as unknown[])[1];
          k = typeof acc === "number" ? key : (acc as unknown[])[0];
          slots = from.map(() => n);
        } else {
          k = (acc as unknown[])[0];
          slots = (acc as unknown[]).slice(1);
        }
        if (countsForm) {
          const j = index.find((x) => x >= 0);
          const n = j === undefined ? 0 : (slots[j] as number);
          return typeof k === "string" || (typeof k === "number" && !Object.is(k, -0)) ? n : [k ?? null, n];
        }
        return [k ?? null, ...fields.map((_, i) => ((index[i] as number) >= 0 ? slots[index[i] as number] : init(i)))];
      };
    },
  };
}

/**
 * Compiles aggregations (at `path`) into one AggregateFunction. `onError` decides what an
 * expression error does to the record's contribution (throw to fail, return to skip it).
 */
export function aggregateFunction(
  aggs: readonly Aggregation[],
  path: string,
  onError: (err: unknown, record: unknown) => void,
): AggregateFunction<unknown, AggAcc, AggResult> {
  const parts: Part[] = aggs.map((a, i) => ({
    name: internalized(a.name),
    ...fnsOf(a),
    of: a.of === undefined ? undefined : recordFn(a.of, `${path}[${i}].of`),
    where: a.where === undefined ? undefined : recordFn(a.where, `${path}[${i}].where`, "bool"),
    by: a.by === undefined ? undefined : recordFn(a.by, `${path}[${i}].by`, "double"),
    plain: a.fn === "count" && a.where === undefined,
    ranked: a.fn === "topN",
    exact: EXACT_MERGE.has(a.fn),
  }));
  const layout = layoutOf(
    aggs.map((a) => ({ name: a.name, kind: aggregationKind(a) })),
    (i) => (parts[i] as Part).init(),
  );
  if (parts.every((p) => p.plain)) return { ...countsOnly(parts.map((p) => p.name)), layout };
  const n = parts.length;
  // Expressions read the key only when some aggregation has one.
  const needsKey = parts.some((p) => p.of !== undefined || p.where !== undefined || p.by !== undefined);
  return {
    layout,
    mergesExactly: parts.every((p) => p.exact),
    createAccumulator: () => {
      const acc: unknown[] = [null];
      for (const p of parts) acc.push(p.init());
      return acc;
    },
    add(record, a) {
      const acc = a as unknown[];
      // The key is the same for every record of an accumulator: read it once.
      if (acc[0] === null) {
        const k = (record as Rec)[KEY];
        if (k !== undefined) acc[0] = k;
      }
      const key = needsKey ? keyOf(record) : null;
      for (let i = 0; i < n; i++) {
        const p = parts[i] as Part;
        if (p.plain) {
          acc[i + 1] = p.add(acc[i + 1], null, 0);
          continue;
        }
        try {
          if (p.where && p.where(record, key) !== true) continue;
          const v = p.of ? p.of(record, key) : null;
          acc[i + 1] = p.add(acc[i + 1], v, p.ranked ? toNumber(p.by ? p.by(record, key) : v) : 0);
        } catch (err) {
          onError(err, record);
        }
      }
      return acc;
    },
    getResult(a) {
      const acc = a as unknown[];
      const values: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) values[(parts[i] as Part).name] = (parts[i] as Part).result(acc[i + 1]);
      return { key: acc[0], values };
    },
    merge(x, y) {
      const a = x as unknown[];
      const b = y as unknown[];
      for (let i = 0; i < n; i++) a[i + 1] = (parts[i] as Part).merge(a[i + 1], b[i + 1]);
      if (a[0] === null) a[0] = b[0];
      return a;
    },
  };
}

/**
 * Aggregations that are all counts without `where` (the usual "how many per key and window"):
 * they share one count, kept as a plain number like a typed job's counter, with no expression
 * to run per record. A string or number key is its own partition key, so the window hands it
 * back (AggResult.key undefined); any other CEL key (an int, a list, -0) is kept as [key, count].
 */
function countsOnly(names: readonly string[]): AggregateFunction<unknown, AggAcc, AggResult> {
  // Pure, so shared by every step with these names (V8 keeps its code for one set of closures).
  const id = JSON.stringify(names);
  let agg = counters.get(id);
  if (!agg) {
    agg = countsFunction(names);
    counters.set(id, agg);
  }
  return agg;
}

const counters = new Map<string, AggregateFunction<unknown, AggAcc, AggResult>>();

function countsFunction(names: readonly string[]): AggregateFunction<unknown, AggAcc, AggResult> {
  const count = (acc: AggAcc): number => (typeof acc === "number" ? acc : (acc[1] as number));
  return {
    mergesExactly: true,
    createAccumulator: () => 0,
    add(record, acc) {
      if (typeof acc !== "number") {
        acc[1] = (acc[1] as number) + 1;
        return acc;
      }
      if (acc > 0) return acc + 1;
      const k = (record as Rec)[KEY];
      // -0 is the one number a partition key does not give back (state keys store it as 0).
      return typeof k === "string" || (typeof k === "number" && !Object.is(k, -0)) ? 1 : [k ?? null, 1];
    },
    getResult(acc) {
      const n = intOf(count(acc));
      const values: Record<string, unknown> = {};
      for (const name of names) values[name] = n;
      return { key: typeof acc === "number" ? undefined : acc[0], values };
    },
    merge(a, b) {
      if (typeof a === "number" && typeof b === "number") return a + b;
      // One of them kept its key: keep that form.
      const keyed = (typeof a === "number" ? b : a) as unknown[];
      return [keyed[0], count(a) + count(b)];
    },
  };
}
