/**
 * The per-row loops of SQL (reading a record's columns, evaluating a select list, building the
 * output record) written out column by column, from pools of identical function literals — the
 * technique of runtime/pipeline/readers.ts and projection.ts. V8 keeps inline-cache feedback per
 * function literal: one loop over columns sees every column name and every column's closure at
 * one site and goes megamorphic; unrolled, each site sees one name and one closure. Each table,
 * select list and sink gets the next literal of its pool (up to 8 columns); beyond the pool they
 * share its last literal; for wider rows the plain loop runs. No code is generated.
 */

import { keySlots, poolEntry, type KeySlots } from "../exec/literal-pools.ts";

type Row = unknown[];
type Fn = (v: unknown) => unknown;
type RowFn = (r: Row) => unknown;
const id: Fn = (v) => v;
const nothing: RowFn = () => null;

/** Up to 8 column slots: names (or field names), functions and row positions. */
interface Slots<F> extends KeySlots {
  f0: F;
  f1: F;
  f2: F;
  f3: F;
  f4: F;
  f5: F;
  f6: F;
  f7: F;
  i0: number;
  i1: number;
  i2: number;
  i3: number;
  i4: number;
  i5: number;
  i6: number;
  i7: number;
}

function slots<F>(keys: string[], fns: F[], positions: number[], filler: F): Slots<F> {
  const f = (i: number): F => fns[i] ?? filler;
  const p = (i: number): number => positions[i] ?? 0;
  return {
    ...keySlots(keys, fns.length),
    ...{ f0: f(0), f1: f(1), f2: f(2), f3: f(3), f4: f(4), f5: f(5), f6: f(6), f7: f(7) },
    ...{ i0: p(0), i1: p(1), i2: p(2), i3: p(3), i4: p(4), i5: p(5), i6: p(6), i7: p(7) },
  };
}

// Identical on purpose: every entry is a separate literal with its own feedback.
const readerPool: ((s: Slots<Fn>, blank: () => Row) => (rec: Record<string, unknown>) => Row)[] = [
  (s, blank) => (rec) => {
    const row: Row = blank();
    row[s.i0] = s.f0(rec[s.k0]);
    if (s.n > 1) row[s.i1] = s.f1(rec[s.k1]);
    if (s.n > 2) row[s.i2] = s.f2(rec[s.k2]);
    if (s.n > 3) row[s.i3] = s.f3(rec[s.k3]);
    if (s.n > 4) row[s.i4] = s.f4(rec[s.k4]);
    if (s.n > 5) row[s.i5] = s.f5(rec[s.k5]);
    if (s.n > 6) row[s.i6] = s.f6(rec[s.k6]);
    if (s.n > 7) row[s.i7] = s.f7(rec[s.k7]);
    return row;
  },
  (s, blank) => (rec) => {
    const row: Row = blank();
    row[s.i0] = s.f0(rec[s.k0]);
    if (s.n > 1) row[s.i1] = s.f1(rec[s.k1]);
    if (s.n > 2) row[s.i2] = s.f2(rec[s.k2]);
    if (s.n > 3) row[s.i3] = s.f3(rec[s.k3]);
    if (s.n > 4) row[s.i4] = s.f4(rec[s.k4]);
    if (s.n > 5) row[s.i5] = s.f5(rec[s.k5]);
    if (s.n > 6) row[s.i6] = s.f6(rec[s.k6]);
    if (s.n > 7) row[s.i7] = s.f7(rec[s.k7]);
    return row;
  },
  (s, blank) => (rec) => {
    const row: Row = blank();
    row[s.i0] = s.f0(rec[s.k0]);
    if (s.n > 1) row[s.i1] = s.f1(rec[s.k1]);
    if (s.n > 2) row[s.i2] = s.f2(rec[s.k2]);
    if (s.n > 3) row[s.i3] = s.f3(rec[s.k3]);
    if (s.n > 4) row[s.i4] = s.f4(rec[s.k4]);
    if (s.n > 5) row[s.i5] = s.f5(rec[s.k5]);
    if (s.n > 6) row[s.i6] = s.f6(rec[s.k6]);
    if (s.n > 7) row[s.i7] = s.f7(rec[s.k7]);
    return row;
  },
  (s, blank) => (rec) => {
    const row: Row = blank();
    row[s.i0] = s.f0(rec[s.k0]);
    if (s.n > 1) row[s.i1] = s.f1(rec[s.k1]);
    if (s.n > 2) row[s.i2] = s.f2(rec[s.k2]);
    if (s.n > 3) row[s.i3] = s.f3(rec[s.k3]);
    if (s.n > 4) row[s.i4] = s.f4(rec[s.k4]);
    if (s.n > 5) row[s.i5] = s.f5(rec[s.k5]);
    if (s.n > 6) row[s.i6] = s.f6(rec[s.k6]);
    if (s.n > 7) row[s.i7] = s.f7(rec[s.k7]);
    return row;
  },
];

const selectPool: ((s: Slots<RowFn>) => (r: Row) => Row)[] = [
  (s) => (r) => {
    const o: Row = new Array<unknown>(s.n);
    o[0] = s.f0(r);
    if (s.n > 1) o[1] = s.f1(r);
    if (s.n > 2) o[2] = s.f2(r);
    if (s.n > 3) o[3] = s.f3(r);
    if (s.n > 4) o[4] = s.f4(r);
    if (s.n > 5) o[5] = s.f5(r);
    if (s.n > 6) o[6] = s.f6(r);
    if (s.n > 7) o[7] = s.f7(r);
    return o;
  },
  (s) => (r) => {
    const o: Row = new Array<unknown>(s.n);
    o[0] = s.f0(r);
    if (s.n > 1) o[1] = s.f1(r);
    if (s.n > 2) o[2] = s.f2(r);
    if (s.n > 3) o[3] = s.f3(r);
    if (s.n > 4) o[4] = s.f4(r);
    if (s.n > 5) o[5] = s.f5(r);
    if (s.n > 6) o[6] = s.f6(r);
    if (s.n > 7) o[7] = s.f7(r);
    return o;
  },
  (s) => (r) => {
    const o: Row = new Array<unknown>(s.n);
    o[0] = s.f0(r);
    if (s.n > 1) o[1] = s.f1(r);
    if (s.n > 2) o[2] = s.f2(r);
    if (s.n > 3) o[3] = s.f3(r);
    if (s.n > 4) o[4] = s.f4(r);
    if (s.n > 5) o[5] = s.f5(r);
    if (s.n > 6) o[6] = s.f6(r);
    if (s.n > 7) o[7] = s.f7(r);
    return o;
  },
  (s) => (r) => {
    const o: Row = new Array<unknown>(s.n);
    o[0] = s.f0(r);
    if (s.n > 1) o[1] = s.f1(r);
    if (s.n > 2) o[2] = s.f2(r);
    if (s.n > 3) o[3] = s.f3(r);
    if (s.n > 4) o[4] = s.f4(r);
    if (s.n > 5) o[5] = s.f5(r);
    if (s.n > 6) o[6] = s.f6(r);
    if (s.n > 7) o[7] = s.f7(r);
    return o;
  },
];

const objectPool: ((s: Slots<Fn>) => (r: Row) => Record<string, unknown>)[] = [
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r[0] ?? null);
    if (s.n > 1) o[s.k1] = s.f1(r[1] ?? null);
    if (s.n > 2) o[s.k2] = s.f2(r[2] ?? null);
    if (s.n > 3) o[s.k3] = s.f3(r[3] ?? null);
    if (s.n > 4) o[s.k4] = s.f4(r[4] ?? null);
    if (s.n > 5) o[s.k5] = s.f5(r[5] ?? null);
    if (s.n > 6) o[s.k6] = s.f6(r[6] ?? null);
    if (s.n > 7) o[s.k7] = s.f7(r[7] ?? null);
    return o;
  },
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r[0] ?? null);
    if (s.n > 1) o[s.k1] = s.f1(r[1] ?? null);
    if (s.n > 2) o[s.k2] = s.f2(r[2] ?? null);
    if (s.n > 3) o[s.k3] = s.f3(r[3] ?? null);
    if (s.n > 4) o[s.k4] = s.f4(r[4] ?? null);
    if (s.n > 5) o[s.k5] = s.f5(r[5] ?? null);
    if (s.n > 6) o[s.k6] = s.f6(r[6] ?? null);
    if (s.n > 7) o[s.k7] = s.f7(r[7] ?? null);
    return o;
  },
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r[0] ?? null);
    if (s.n > 1) o[s.k1] = s.f1(r[1] ?? null);
    if (s.n > 2) o[s.k2] = s.f2(r[2] ?? null);
    if (s.n > 3) o[s.k3] = s.f3(r[3] ?? null);
    if (s.n > 4) o[s.k4] = s.f4(r[4] ?? null);
    if (s.n > 5) o[s.k5] = s.f5(r[5] ?? null);
    if (s.n > 6) o[s.k6] = s.f6(r[6] ?? null);
    if (s.n > 7) o[s.k7] = s.f7(r[7] ?? null);
    return o;
  },
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r[0] ?? null);
    if (s.n > 1) o[s.k1] = s.f1(r[1] ?? null);
    if (s.n > 2) o[s.k2] = s.f2(r[2] ?? null);
    if (s.n > 3) o[s.k3] = s.f3(r[3] ?? null);
    if (s.n > 4) o[s.k4] = s.f4(r[4] ?? null);
    if (s.n > 5) o[s.k5] = s.f5(r[5] ?? null);
    if (s.n > 6) o[s.k6] = s.f6(r[6] ?? null);
    if (s.n > 7) o[s.k7] = s.f7(r[7] ?? null);
    return o;
  },
];

const projectObjectPool: ((s: Slots<RowFn>) => (r: Row) => Record<string, unknown>)[] = [
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r) ?? null;
    if (s.n > 1) o[s.k1] = s.f1(r) ?? null;
    if (s.n > 2) o[s.k2] = s.f2(r) ?? null;
    if (s.n > 3) o[s.k3] = s.f3(r) ?? null;
    if (s.n > 4) o[s.k4] = s.f4(r) ?? null;
    if (s.n > 5) o[s.k5] = s.f5(r) ?? null;
    if (s.n > 6) o[s.k6] = s.f6(r) ?? null;
    if (s.n > 7) o[s.k7] = s.f7(r) ?? null;
    return o;
  },
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r) ?? null;
    if (s.n > 1) o[s.k1] = s.f1(r) ?? null;
    if (s.n > 2) o[s.k2] = s.f2(r) ?? null;
    if (s.n > 3) o[s.k3] = s.f3(r) ?? null;
    if (s.n > 4) o[s.k4] = s.f4(r) ?? null;
    if (s.n > 5) o[s.k5] = s.f5(r) ?? null;
    if (s.n > 6) o[s.k6] = s.f6(r) ?? null;
    if (s.n > 7) o[s.k7] = s.f7(r) ?? null;
    return o;
  },
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r) ?? null;
    if (s.n > 1) o[s.k1] = s.f1(r) ?? null;
    if (s.n > 2) o[s.k2] = s.f2(r) ?? null;
    if (s.n > 3) o[s.k3] = s.f3(r) ?? null;
    if (s.n > 4) o[s.k4] = s.f4(r) ?? null;
    if (s.n > 5) o[s.k5] = s.f5(r) ?? null;
    if (s.n > 6) o[s.k6] = s.f6(r) ?? null;
    if (s.n > 7) o[s.k7] = s.f7(r) ?? null;
    return o;
  },
  (s) => (r) => {
    const o: Record<string, unknown> = {};
    o[s.k0] = s.f0(r) ?? null;
    if (s.n > 1) o[s.k1] = s.f1(r) ?? null;
    if (s.n > 2) o[s.k2] = s.f2(r) ?? null;
    if (s.n > 3) o[s.k3] = s.f3(r) ?? null;
    if (s.n > 4) o[s.k4] = s.f4(r) ?? null;
    if (s.n > 5) o[s.k5] = s.f5(r) ?? null;
    if (s.n > 6) o[s.k6] = s.f6(r) ?? null;
    if (s.n > 7) o[s.k7] = s.f7(r) ?? null;
    return o;
  },
];

/** The internalized copy of a name (property keys compare by pointer). */
function internalized(s: string): string {
  return Object.keys({ [s]: 0 })[0] ?? s;
}

/** Pool entries by what they serve: the same table, select list or output columns keeps its literal (and its feedback) across compilations. */
const taken = {
  readers: new Map<string, number>(),
  selects: new Map<string, number>(),
  objects: new Map<string, number>(),
  projected: new Map<string, number>(),
};

/** Reads `fields` of a JSON record into a row of `width` (each value through its reader); undefined for no fields or more than 8. */
export function unrolledReader(fields: { name: string; read: Fn; index: number }[], width: number): ((rec: Record<string, unknown>) => Row) | undefined {
  if (fields.length === 0 || fields.length > 8) return undefined;
  const make = poolEntry(readerPool, taken.readers, `${width}|${fields.map((f) => `${f.name}@${f.index}`).join(",")}`);
  return make(
    slots(
      fields.map((f) => internalized(f.name)),
      fields.map((f) => f.read),
      fields.map((f) => f.index),
      id,
    ),
    blankRow(width),
  );
}

/** A new row of `width` NULLs: an array literal up to 10 columns (a copy of a boilerplate, no fill loop). */
function blankRow(width: number): () => Row {
  switch (width) {
    case 1:
      return () => [null];
    case 2:
      return () => [null, null];
    case 3:
      return () => [null, null, null];
    case 4:
      return () => [null, null, null, null];
    case 5:
      return () => [null, null, null, null, null];
    case 6:
      return () => [null, null, null, null, null, null];
    case 7:
      return () => [null, null, null, null, null, null, null];
    case 8:
      return () => [null, null, null, null, null, null, null, null];
    case 9:
      return () => [null, null, null, null, null, null, null, null, null];
    case 10:
      return () => [null, null, null, null, null, null, null, null, null, null];
    default:
      return () => new Array<unknown>(width).fill(null);
  }
}

/** Evaluates a select list (named by `key`, e.g. its text) into a new row; the plain loop for more than 8 items. */
export function unrolledSelect(fns: RowFn[], key: string): (r: Row) => Row {
  const make = fns.length > 0 && fns.length <= 8 ? poolEntry(selectPool, taken.selects, key) : undefined;
  if (make) return make(slots([], fns, [], nothing));
  const n = fns.length;
  return (r) => {
    const o: Row = new Array<unknown>(n);
    for (let i = 0; i < n; i++) o[i] = (fns[i] as RowFn)(r);
    return o;
  };
}

/** Builds an output record: column i of the row under names[i], through writers[i] when given; the plain loop for more than 8 columns. */
export function unrolledObject(names: string[], writers: (Fn | undefined)[]): (r: Row) => Record<string, unknown> {
  const fns = writers.map((w) => (w ? (v: unknown) => (v === null ? null : w(v)) : id));
  const make = names.length > 0 && names.length <= 8 ? poolEntry(objectPool, taken.objects, names.join(",")) : undefined;
  if (make) return make(slots(names.map(internalized), fns, [], id));
  return (r) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) o[names[i] as string] = (fns[i] as Fn)(r[i] ?? null);
    return o;
  };
}

/**
 * Builds an output record straight from an input row: field i is select function i, through
 * writers[i] when given (a projection and the record it feeds in one step, no row between).
 */
export function unrolledProjectObject(names: string[], fns: RowFn[], writers: (Fn | undefined)[]): (r: Row) => Record<string, unknown> {
  const cols = fns.map((f, i): RowFn => {
    const w = writers[i];
    if (!w) return f;
    return (r) => {
      const v = f(r);
      return v === null || v === undefined ? null : w(v);
    };
  });
  const make = names.length > 0 && names.length <= 8 ? poolEntry(projectObjectPool, taken.projected, names.join(",")) : undefined;
  if (make) return make(slots(names.map(internalized), cols, [], nothing));
  return (r) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) o[names[i] as string] = (cols[i] as RowFn)(r) ?? null;
    return o;
  };
}
