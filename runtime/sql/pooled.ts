/**
 * The per-record loops every SQL job runs — converting a batch of source records into rows, and
 * running a fused operator's steps — from pools of identical function literals, one literal per
 * table or operator (the technique of unrolled.ts). V8 keeps call feedback per literal: one shared
 * loop sees the converters and steps of every statement of a job (a statement set, the analytics
 * system's five queries) and stops inlining them; each table and operator here calls only its
 * own. Beyond the pool, tables and operators share the last literal. No code is generated.
 */
import type { Context, ProcessFunction } from "../api/functions.ts";
import { poolEntry } from "../exec/literal-pools.ts";

type Row = unknown[];

/** How one table converts a record: the unrolled reader, computed columns, the rowtime check, and the slow path that says why. */
export interface ConvertParts {
  /** Reads the physical columns (throws when a value does not fit). */
  fast: (rec: Record<string, unknown>) => Row;
  /** Computed columns, in order: row[index] = fn(row). */
  computed: { index: number; fn: (r: Row) => unknown }[];
  /** The rowtime column, or -1. */
  rowtime: number;
  /** Reads again and says what is wrong (a BadRow), or returns the row. */
  slow: (record: unknown) => unknown;
  /** Records of this class were refused by the source already (lines that are not JSON): they pass as they are. */
  refused: abstract new (...args: never[]) => object;
}

interface ConvertSlots extends ConvertParts {
  c0: (r: Row) => unknown;
  i0: number;
  one: boolean;
}

// Identical on purpose: every entry is a separate literal with its own feedback.
const convertPool: ((s: ConvertSlots) => (records: unknown[]) => void)[] = [
  (s) => (records) => {
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (record instanceof s.refused) continue;
      if (record === null || typeof record !== "object" || Array.isArray(record)) {
        records[i] = s.slow(record);
        continue;
      }
      let row: Row;
      try {
        row = s.fast(record as Record<string, unknown>);
        if (s.one) row[s.i0] = s.c0(row);
        else for (const c of s.computed) row[c.index] = c.fn(row);
      } catch {
        records[i] = s.slow(record);
        continue;
      }
      records[i] = s.rowtime >= 0 && row[s.rowtime] === null ? s.slow(record) : row;
    }
  },
  (s) => (records) => {
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (record instanceof s.refused) continue;
      if (record === null || typeof record !== "object" || Array.isArray(record)) {
        records[i] = s.slow(record);
        continue;
      }
      let row: Row;
      try {
        row = s.fast(record as Record<string, unknown>);
        if (s.one) row[s.i0] = s.c0(row);
        else for (const c of s.computed) row[c.index] = c.fn(row);
      } catch {
        records[i] = s.slow(record);
        continue;
      }
      records[i] = s.rowtime >= 0 && row[s.rowtime] === null ? s.slow(record) : row;
    }
  },
  (s) => (records) => {
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (record instanceof s.refused) continue;
      if (record === null || typeof record !== "object" || Array.isArray(record)) {
        records[i] = s.slow(record);
        continue;
      }
      let row: Row;
      try {
        row = s.fast(record as Record<string, unknown>);
        if (s.one) row[s.i0] = s.c0(row);
        else for (const c of s.computed) row[c.index] = c.fn(row);
      } catch {
        records[i] = s.slow(record);
        continue;
      }
      records[i] = s.rowtime >= 0 && row[s.rowtime] === null ? s.slow(record) : row;
    }
  },
  (s) => (records) => {
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (record instanceof s.refused) continue;
      if (record === null || typeof record !== "object" || Array.isArray(record)) {
        records[i] = s.slow(record);
        continue;
      }
      let row: Row;
      try {
        row = s.fast(record as Record<string, unknown>);
        if (s.one) row[s.i0] = s.c0(row);
        else for (const c of s.computed) row[c.index] = c.fn(row);
      } catch {
        records[i] = s.slow(record);
        continue;
      }
      records[i] = s.rowtime >= 0 && row[s.rowtime] === null ? s.slow(record) : row;
    }
  },
];

type StepFn = (r: unknown) => unknown;
type OnError = (c: Context, record: unknown, err: unknown) => void;

interface StepSlots {
  n: number;
  f0: StepFn;
  f1: StepFn;
  f2: StepFn;
  fns: StepFn[];
  errs: OnError[];
}

// Identical on purpose (see above). Up to three steps are called one by one; more run in the loop.
const fusedPool: ((s: StepSlots) => ProcessFunction<unknown, unknown>)[] = [
  (s) => ({
    processElement(r, c, out) {
      let x: unknown = r;
      let i = 0;
      try {
        x = s.f0(x);
        if (x === undefined) return;
        if (s.n > 1) {
          i = 1;
          x = s.f1(x);
          if (x === undefined) return;
        }
        if (s.n > 2) {
          i = 2;
          x = s.f2(x);
          if (x === undefined) return;
        }
        for (i = 3; i < s.n; i++) {
          x = (s.fns[i] as StepFn)(x);
          if (x === undefined) return;
        }
      } catch (err) {
        (s.errs[i] as OnError)(c, r, err);
        return;
      }
      out.collect(x);
    },
  }),
  (s) => ({
    processElement(r, c, out) {
      let x: unknown = r;
      let i = 0;
      try {
        x = s.f0(x);
        if (x === undefined) return;
        if (s.n > 1) {
          i = 1;
          x = s.f1(x);
          if (x === undefined) return;
        }
        if (s.n > 2) {
          i = 2;
          x = s.f2(x);
          if (x === undefined) return;
        }
        for (i = 3; i < s.n; i++) {
          x = (s.fns[i] as StepFn)(x);
          if (x === undefined) return;
        }
      } catch (err) {
        (s.errs[i] as OnError)(c, r, err);
        return;
      }
      out.collect(x);
    },
  }),
  (s) => ({
    processElement(r, c, out) {
      let x: unknown = r;
      let i = 0;
      try {
        x = s.f0(x);
        if (x === undefined) return;
        if (s.n > 1) {
          i = 1;
          x = s.f1(x);
          if (x === undefined) return;
        }
        if (s.n > 2) {
          i = 2;
          x = s.f2(x);
          if (x === undefined) return;
        }
        for (i = 3; i < s.n; i++) {
          x = (s.fns[i] as StepFn)(x);
          if (x === undefined) return;
        }
      } catch (err) {
        (s.errs[i] as OnError)(c, r, err);
        return;
      }
      out.collect(x);
    },
  }),
  (s) => ({
    processElement(r, c, out) {
      let x: unknown = r;
      let i = 0;
      try {
        x = s.f0(x);
        if (x === undefined) return;
        if (s.n > 1) {
          i = 1;
          x = s.f1(x);
          if (x === undefined) return;
        }
        if (s.n > 2) {
          i = 2;
          x = s.f2(x);
          if (x === undefined) return;
        }
        for (i = 3; i < s.n; i++) {
          x = (s.fns[i] as StepFn)(x);
          if (x === undefined) return;
        }
      } catch (err) {
        (s.errs[i] as OnError)(c, r, err);
        return;
      }
      out.collect(x);
    },
  }),
];

/** Pool entries by what they serve: the same table or operator keeps its literal across compilations. */
const taken = { converters: new Map<string, number>(), fused: new Map<string, number>() };

const noComputed = (): unknown => null;

/** Converts a batch of records to rows in place (a refused record stays, a bad one becomes slow()'s answer); `key` names the table. */
export function pooledConverter(key: string, parts: ConvertParts): (records: unknown[]) => void {
  const make = poolEntry(convertPool, taken.converters, key);
  const first = parts.computed[0];
  return make({ ...parts, c0: first?.fn ?? noComputed, i0: first?.index ?? 0, one: parts.computed.length === 1 });
}

/** The process function of a fused operator running `fns` in order (undefined drops a record; a throw goes to that step's error handler); `key` names the operator. */
export function pooledSteps(key: string, fns: StepFn[], errs: OnError[]): ProcessFunction<unknown, unknown> {
  const make = poolEntry(fusedPool, taken.fused, key);
  const pass: StepFn = (x) => x;
  return make({ n: fns.length, f0: fns[0] ?? pass, f1: fns[1] ?? pass, f2: fns[2] ?? pass, fns, errs });
}
