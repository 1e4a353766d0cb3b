/**
 * Records crossing to another thread, column by column. Structured cloning a batch of records
 * costs about 650 ns per small record on this machine (its deserialiser builds each object key
 * by key), more than a record's whole trip through a query. Records of one batch nearly always
 * share one shape, so a batch goes as: the shape's keys once; number columns as Float64Arrays and
 * string columns as a dictionary plus Uint32Array indexes (both moved, not copied); any other
 * column (objects, bigints, booleans, mixed types) as a plain array, cloned as before. Records of
 * another shape, or not plain objects, go as they are (cloned). Records are rebuilt key by key in
 * the shape's order, so they share a hidden class. What crosses equals what structured
 * cloning gives (prototypes and symbol properties are dropped either way: port-peers.ts carries
 * registered symbols beside).
 */
import { keySlots, poolEntry, type KeySlots, type PoolSlots } from "../literal-pools.ts";

/** One column of the shaped records. */
export type Column =
  { kind: "number"; values: Float64Array } | { kind: "string"; dictionary: string[]; indexes: Uint32Array } | { kind: "any"; values: unknown[] };

/** A batch of records in columns. */
export interface ColumnBatch {
  /** Record count. */
  count: number;
  /** Keys of the shape the columns hold (empty when no record had one). */
  keys: string[];
  columns: Column[];
  /** [index, record] of the records not of the shape, cloned as they are. */
  others: [number, unknown][];
  /** Which records are of the shape (1) or in `others` (0); absent when all are. */
  shaped?: Uint8Array;
}

/** Whether `v` is a plain object (the only kind that goes in columns). */
function plainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether plain object `r` has exactly the own enumerable keys `keys` (in any order: the rebuilt record has them in the shape's order). */
function hasShape(r: Record<string, unknown>, keys: readonly string[]): boolean {
  // A plain object's prototype (Object.prototype or none) has no enumerable keys: for-in counts its own.
  let n = 0;
  for (const _ in r) n++;
  if (n !== keys.length) return false;
  for (const k of keys) {
    // What a plain object inherits is a function (toString, valueOf, …): only then is the own check needed.
    const v = r[k];
    if ((v === undefined || typeof v === "function") && !Object.hasOwn(r, k)) return false;
  }
  return true;
}

/** Puts `n` records into columns (`records` is read, not changed); returns the batch and what to transfer. */
export function toColumns(records: readonly unknown[], n: number): { batch: ColumnBatch; transfer: ArrayBuffer[] } {
  let first: Record<string, unknown> | undefined;
  for (let i = 0; i < n && first === undefined; i++) if (plainObject(records[i])) first = records[i] as Record<string, unknown>;
  const keys = first ? Object.keys(first) : [];
  // "__proto__" cannot be rebuilt as an own property by assignment: such records go as they are.
  const columnar = first !== undefined && !keys.includes("__proto__");
  const shaped = new Uint8Array(n);
  const others: [number, unknown][] = [];
  let inShape = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    if (columnar && plainObject(r) && hasShape(r, keys)) {
      shaped[i] = 1;
      inShape++;
    } else others.push([i, r]);
  }
  const columns: Column[] = [];
  const transfer: ArrayBuffer[] = [];
  if (columnar && inShape > 0) {
    for (const k of keys) {
      const c = column(records, n, shaped, inShape, k);
      columns.push(c);
      if (c.kind === "number") transfer.push(c.values.buffer as ArrayBuffer);
      if (c.kind === "string") transfer.push(c.indexes.buffer as ArrayBuffer);
    }
  }
  const batch: ColumnBatch = { count: n, keys: columns.length > 0 ? keys : [], columns, others };
  if (others.length > 0 && columns.length > 0) {
    batch.shaped = shaped;
    transfer.push(shaped.buffer);
  }
  return { batch, transfer };
}

/** One key's values of the shaped records, in the cheapest column that holds them all. */
function column(records: readonly unknown[], n: number, shaped: Uint8Array, count: number, key: string): Column {
  // Numbers are tried first in one pass (most columns are), strings next.
  const numbers = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (shaped[i] === 0) continue;
    const v = (records[i] as Record<string, unknown>)[key];
    if (typeof v !== "number") break;
    numbers[j++] = v;
  }
  if (j === count) return { kind: "number", values: numbers };
  const dictionary: string[] = [];
  const index = new Map<string, number>();
  const indexes = new Uint32Array(count);
  j = 0;
  for (let i = 0; i < n; i++) {
    if (shaped[i] === 0) continue;
    const v = (records[i] as Record<string, unknown>)[key];
    if (typeof v !== "string") break;
    let at = index.get(v);
    if (at === undefined) {
      at = dictionary.length;
      dictionary.push(v);
      index.set(v, at);
    }
    indexes[j++] = at;
  }
  if (j === count) return { kind: "string", dictionary, indexes };
  const values: unknown[] = [];
  for (let i = 0; i < n; i++) if (shaped[i] === 1) values.push((records[i] as Record<string, unknown>)[key]);
  return { kind: "any", values };
}

/** Builds the j-th shaped record from the columns' values. */
type RecordBuilder = (columns: readonly ArrayLike<unknown>[], j: number) => Record<string, unknown>;

// Identical on purpose: each shape gets a literal of its own, so each store sees one key and one
// hidden class (a loop over the keys is one megamorphic store: ~150 ns a record against ~45 here).
const builderPool: ((s: KeySlots) => RecordBuilder)[] = [
  (s) => (c, j) => {
    const r: Record<string, unknown> = {};
    r[s.k0] = c[0]?.[j];
    if (s.n < 2) return r;
    r[s.k1] = c[1]?.[j];
    if (s.n < 3) return r;
    r[s.k2] = c[2]?.[j];
    if (s.n < 4) return r;
    r[s.k3] = c[3]?.[j];
    if (s.n < 5) return r;
    r[s.k4] = c[4]?.[j];
    if (s.n < 6) return r;
    r[s.k5] = c[5]?.[j];
    if (s.n < 7) return r;
    r[s.k6] = c[6]?.[j];
    if (s.n < 8) return r;
    r[s.k7] = c[7]?.[j];
    return r;
  },
  (s) => (c, j) => {
    const r: Record<string, unknown> = {};
    r[s.k0] = c[0]?.[j];
    if (s.n < 2) return r;
    r[s.k1] = c[1]?.[j];
    if (s.n < 3) return r;
    r[s.k2] = c[2]?.[j];
    if (s.n < 4) return r;
    r[s.k3] = c[3]?.[j];
    if (s.n < 5) return r;
    r[s.k4] = c[4]?.[j];
    if (s.n < 6) return r;
    r[s.k5] = c[5]?.[j];
    if (s.n < 7) return r;
    r[s.k6] = c[6]?.[j];
    if (s.n < 8) return r;
    r[s.k7] = c[7]?.[j];
    return r;
  },
  (s) => (c, j) => {
    const r: Record<string, unknown> = {};
    r[s.k0] = c[0]?.[j];
    if (s.n < 2) return r;
    r[s.k1] = c[1]?.[j];
    if (s.n < 3) return r;
    r[s.k2] = c[2]?.[j];
    if (s.n < 4) return r;
    r[s.k3] = c[3]?.[j];
    if (s.n < 5) return r;
    r[s.k4] = c[4]?.[j];
    if (s.n < 6) return r;
    r[s.k5] = c[5]?.[j];
    if (s.n < 7) return r;
    r[s.k6] = c[6]?.[j];
    if (s.n < 8) return r;
    r[s.k7] = c[7]?.[j];
    return r;
  },
  (s) => (c, j) => {
    const r: Record<string, unknown> = {};
    r[s.k0] = c[0]?.[j];
    if (s.n < 2) return r;
    r[s.k1] = c[1]?.[j];
    if (s.n < 3) return r;
    r[s.k2] = c[2]?.[j];
    if (s.n < 4) return r;
    r[s.k3] = c[3]?.[j];
    if (s.n < 5) return r;
    r[s.k4] = c[4]?.[j];
    if (s.n < 6) return r;
    r[s.k5] = c[5]?.[j];
    if (s.n < 7) return r;
    r[s.k6] = c[6]?.[j];
    if (s.n < 8) return r;
    r[s.k7] = c[7]?.[j];
    return r;
  },
  (s) => (c, j) => {
    const r: Record<string, unknown> = {};
    r[s.k0] = c[0]?.[j];
    if (s.n < 2) return r;
    r[s.k1] = c[1]?.[j];
    if (s.n < 3) return r;
    r[s.k2] = c[2]?.[j];
    if (s.n < 4) return r;
    r[s.k3] = c[3]?.[j];
    if (s.n < 5) return r;
    r[s.k4] = c[4]?.[j];
    if (s.n < 6) return r;
    r[s.k5] = c[5]?.[j];
    if (s.n < 7) return r;
    r[s.k6] = c[6]?.[j];
    if (s.n < 8) return r;
    r[s.k7] = c[7]?.[j];
    return r;
  },
  (s) => (c, j) => {
    const r: Record<string, unknown> = {};
    r[s.k0] = c[0]?.[j];
    if (s.n < 2) return r;
    r[s.k1] = c[1]?.[j];
    if (s.n < 3) return r;
    r[s.k2] = c[2]?.[j];
    if (s.n < 4) return r;
    r[s.k3] = c[3]?.[j];
    if (s.n < 5) return r;
    r[s.k4] = c[4]?.[j];
    if (s.n < 6) return r;
    r[s.k5] = c[5]?.[j];
    if (s.n < 7) return r;
    r[s.k6] = c[6]?.[j];
    if (s.n < 8) return r;
    r[s.k7] = c[7]?.[j];
    return r;
  },
];

/** Which builder each shape took. */
const builderSlots: PoolSlots = new Map();
/** The builder of each shape, by its keys joined. */
const builders = new Map<string, RecordBuilder>();

/** The record builder of `keys` (up to 8), or undefined for a wider shape. */
function builderOf(keys: readonly string[]): RecordBuilder | undefined {
  if (keys.length === 0 || keys.length > 8) return undefined;
  const id = keys.join("\u0000");
  let b = builders.get(id);
  if (b === undefined) {
    b = poolEntry(builderPool, builderSlots, id)(keySlots(keys));
    builders.set(id, b);
  }
  return b;
}

/** The records of a batch, in their order. */
export function fromColumns(batch: ColumnBatch): unknown[] {
  const out = new Array<unknown>(batch.count);
  for (const [i, r] of batch.others) out[i] = r;
  if (batch.columns.length === 0) return out;
  const cols = batch.columns.map((c): ArrayLike<unknown> => {
    if (c.kind === "string") {
      const { dictionary, indexes } = c;
      const values = new Array<unknown>(indexes.length);
      for (let j = 0; j < indexes.length; j++) values[j] = dictionary[indexes[j] as number];
      return values;
    }
    return c.values;
  });
  const { keys, shaped } = batch;
  const build = builderOf(keys);
  const width = keys.length;
  for (let i = 0, j = 0; i < batch.count; i++) {
    if (shaped !== undefined && shaped[i] === 0) continue;
    if (build !== undefined) out[i] = build(cols, j);
    else {
      // Keys added in one order give every rebuilt record the same hidden class.
      const r: Record<string, unknown> = {};
      for (let k = 0; k < width; k++) r[keys[k] as string] = (cols[k] as ArrayLike<unknown>)[j];
      out[i] = r;
    }
    j++;
  }
  return out;
}
