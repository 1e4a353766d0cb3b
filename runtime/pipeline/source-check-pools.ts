/**
 * The per-record loops of the source check (source-check.ts) from pools of identical function
 * literals, one per source: the batch loop (reject, read the event time, compact) and the check
 * of the declared fields, written out field by field. V8 keeps property-access and call feedback
 * per literal; one shared loop sees every source's field names, record shapes and time readers
 * and goes megamorphic (the technique of readers.ts and runtime/sql/unrolled.ts). Sources beyond
 * the pool share its last literal. No code is generated.
 */
import type { ReadResult } from "../connectors/types.ts";
import { keySlots, poolEntry, type KeySlots } from "../exec/literal-pools.ts";

/** Checks a field's value of a declared type (NULL and absent values are checked before). */
export type FieldOk = (v: unknown) => boolean;

interface FieldSlots extends KeySlots {
  c0: FieldOk;
  c1: FieldOk;
  c2: FieldOk;
  c3: FieldOk;
  c4: FieldOk;
  c5: FieldOk;
  c6: FieldOk;
  c7: FieldOk;
}

// Identical on purpose: every entry is a separate literal with its own feedback. Returns the failing slot, or -1.
const fieldPool: ((s: FieldSlots) => (o: Record<string, unknown>) => number)[] = [
  (s) => (o) => {
    let x = o[s.k0];
    if (x !== undefined && x !== null && !s.c0(x)) return 0;
    if (s.n < 2) return -1;
    x = o[s.k1];
    if (x !== undefined && x !== null && !s.c1(x)) return 1;
    if (s.n < 3) return -1;
    x = o[s.k2];
    if (x !== undefined && x !== null && !s.c2(x)) return 2;
    if (s.n < 4) return -1;
    x = o[s.k3];
    if (x !== undefined && x !== null && !s.c3(x)) return 3;
    if (s.n < 5) return -1;
    x = o[s.k4];
    if (x !== undefined && x !== null && !s.c4(x)) return 4;
    if (s.n < 6) return -1;
    x = o[s.k5];
    if (x !== undefined && x !== null && !s.c5(x)) return 5;
    if (s.n < 7) return -1;
    x = o[s.k6];
    if (x !== undefined && x !== null && !s.c6(x)) return 6;
    if (s.n < 8) return -1;
    x = o[s.k7];
    if (x !== undefined && x !== null && !s.c7(x)) return 7;
    return -1;
  },
  (s) => (o) => {
    let x = o[s.k0];
    if (x !== undefined && x !== null && !s.c0(x)) return 0;
    if (s.n < 2) return -1;
    x = o[s.k1];
    if (x !== undefined && x !== null && !s.c1(x)) return 1;
    if (s.n < 3) return -1;
    x = o[s.k2];
    if (x !== undefined && x !== null && !s.c2(x)) return 2;
    if (s.n < 4) return -1;
    x = o[s.k3];
    if (x !== undefined && x !== null && !s.c3(x)) return 3;
    if (s.n < 5) return -1;
    x = o[s.k4];
    if (x !== undefined && x !== null && !s.c4(x)) return 4;
    if (s.n < 6) return -1;
    x = o[s.k5];
    if (x !== undefined && x !== null && !s.c5(x)) return 5;
    if (s.n < 7) return -1;
    x = o[s.k6];
    if (x !== undefined && x !== null && !s.c6(x)) return 6;
    if (s.n < 8) return -1;
    x = o[s.k7];
    if (x !== undefined && x !== null && !s.c7(x)) return 7;
    return -1;
  },
  (s) => (o) => {
    let x = o[s.k0];
    if (x !== undefined && x !== null && !s.c0(x)) return 0;
    if (s.n < 2) return -1;
    x = o[s.k1];
    if (x !== undefined && x !== null && !s.c1(x)) return 1;
    if (s.n < 3) return -1;
    x = o[s.k2];
    if (x !== undefined && x !== null && !s.c2(x)) return 2;
    if (s.n < 4) return -1;
    x = o[s.k3];
    if (x !== undefined && x !== null && !s.c3(x)) return 3;
    if (s.n < 5) return -1;
    x = o[s.k4];
    if (x !== undefined && x !== null && !s.c4(x)) return 4;
    if (s.n < 6) return -1;
    x = o[s.k5];
    if (x !== undefined && x !== null && !s.c5(x)) return 5;
    if (s.n < 7) return -1;
    x = o[s.k6];
    if (x !== undefined && x !== null && !s.c6(x)) return 6;
    if (s.n < 8) return -1;
    x = o[s.k7];
    if (x !== undefined && x !== null && !s.c7(x)) return 7;
    return -1;
  },
  (s) => (o) => {
    let x = o[s.k0];
    if (x !== undefined && x !== null && !s.c0(x)) return 0;
    if (s.n < 2) return -1;
    x = o[s.k1];
    if (x !== undefined && x !== null && !s.c1(x)) return 1;
    if (s.n < 3) return -1;
    x = o[s.k2];
    if (x !== undefined && x !== null && !s.c2(x)) return 2;
    if (s.n < 4) return -1;
    x = o[s.k3];
    if (x !== undefined && x !== null && !s.c3(x)) return 3;
    if (s.n < 5) return -1;
    x = o[s.k4];
    if (x !== undefined && x !== null && !s.c4(x)) return 4;
    if (s.n < 6) return -1;
    x = o[s.k5];
    if (x !== undefined && x !== null && !s.c5(x)) return 5;
    if (s.n < 7) return -1;
    x = o[s.k6];
    if (x !== undefined && x !== null && !s.c6(x)) return 6;
    if (s.n < 8) return -1;
    x = o[s.k7];
    if (x !== undefined && x !== null && !s.c7(x)) return 7;
    return -1;
  },
];

/** What one source's batch loop needs. */
export interface LoopParts {
  /** Whether a record passes the declared fields (coercing them when the source says so). */
  fieldsOk: (o: Record<string, unknown>) => boolean;
  /** The event-time field read inline (epoch millis), or "" to call `time`. */
  timeField: string;
  time: (r: unknown) => number;
  /** Why a record that is not a JSON object, was rejected already, or fails its fields is rejected. */
  reject: (v: unknown) => object;
  /** A record without a readable event time, rejected. */
  rejectTime: (v: unknown) => object;
  /** Records rejected earlier (a file's lines) are of this class. */
  rejected: abstract new (...args: never[]) => object;
  /** Rejected records leave the stream here, by their reason (a broadcast source). */
  drop: ((bad: object) => void) | undefined;
}

/** Per partition: the highest event time seen (what a rejected record carries), and the array its batches' event times go to. */
export interface LoopState {
  highest: number;
  /**
   * Reused by every batch of the partition (a fresh array grown by push was about 5 % of
   * declarative q2's time): the engine reads a batch's event times before it reads the partition again.
   */
  timestamps: number[];
}

// Identical on purpose (see above). Checks a batch in place and returns its event times.
const loopPool: ((s: LoopParts) => (r: ReadResult<unknown>, st: LoopState) => number[])[] = [
  (s) => (r, st) => {
    const { records, keys } = r;
    const given = r.timestamps;
    const timestamps = st.timestamps;
    let n = 0;
    for (let j = 0; j < records.length; j++) {
      const v = records[j];
      let bad: object | undefined;
      if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof s.rejected || !s.fieldsOk(v as Record<string, unknown>)) bad = s.reject(v);
      let ts = 0;
      if (bad === undefined) {
        if (given) ts = given[j] as number;
        else if (s.timeField !== "") {
          const t = (v as Record<string, unknown>)[s.timeField];
          ts = typeof t === "number" ? t : typeof t === "bigint" ? Number(t) : Number.NaN;
        } else ts = s.time(v);
        if (ts - ts !== 0) bad = s.rejectTime(v);
        else if (ts > st.highest) st.highest = ts;
      }
      if (bad !== undefined) {
        if (s.drop) {
          s.drop(bad);
          continue;
        }
        records[n] = bad;
        ts = st.highest;
      } else if (n !== j) records[n] = v;
      if (keys && n !== j) keys[n] = keys[j] as string | number;
      timestamps[n] = ts;
      n++;
    }
    records.length = n;
    if (keys) keys.length = n;
    timestamps.length = n;
    return timestamps;
  },
  (s) => (r, st) => {
    const { records, keys } = r;
    const given = r.timestamps;
    const timestamps = st.timestamps;
    let n = 0;
    for (let j = 0; j < records.length; j++) {
      const v = records[j];
      let bad: object | undefined;
      if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof s.rejected || !s.fieldsOk(v as Record<string, unknown>)) bad = s.reject(v);
      let ts = 0;
      if (bad === undefined) {
        if (given) ts = given[j] as number;
        else if (s.timeField !== "") {
          const t = (v as Record<string, unknown>)[s.timeField];
          ts = typeof t === "number" ? t : typeof t === "bigint" ? Number(t) : Number.NaN;
        } else ts = s.time(v);
        if (ts - ts !== 0) bad = s.rejectTime(v);
        else if (ts > st.highest) st.highest = ts;
      }
      if (bad !== undefined) {
        if (s.drop) {
          s.drop(bad);
          continue;
        }
        records[n] = bad;
        ts = st.highest;
      } else if (n !== j) records[n] = v;
      if (keys && n !== j) keys[n] = keys[j] as string | number;
      timestamps[n] = ts;
      n++;
    }
    records.length = n;
    if (keys) keys.length = n;
    timestamps.length = n;
    return timestamps;
  },
  (s) => (r, st) => {
    const { records, keys } = r;
    const given = r.timestamps;
    const timestamps = st.timestamps;
    let n = 0;
    for (let j = 0; j < records.length; j++) {
      const v = records[j];
      let bad: object | undefined;
      if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof s.rejected || !s.fieldsOk(v as Record<string, unknown>)) bad = s.reject(v);
      let ts = 0;
      if (bad === undefined) {
        if (given) ts = given[j] as number;
        else if (s.timeField !== "") {
          const t = (v as Record<string, unknown>)[s.timeField];
          ts = typeof t === "number" ? t : typeof t === "bigint" ? Number(t) : Number.NaN;
        } else ts = s.time(v);
        if (ts - ts !== 0) bad = s.rejectTime(v);
        else if (ts > st.highest) st.highest = ts;
      }
      if (bad !== undefined) {
        if (s.drop) {
          s.drop(bad);
          continue;
        }
        records[n] = bad;
        ts = st.highest;
      } else if (n !== j) records[n] = v;
      if (keys && n !== j) keys[n] = keys[j] as string | number;
      timestamps[n] = ts;
      n++;
    }
    records.length = n;
    if (keys) keys.length = n;
    timestamps.length = n;
    return timestamps;
  },
  (s) => (r, st) => {
    const { records, keys } = r;
    const given = r.timestamps;
    const timestamps = st.timestamps;
    let n = 0;
    for (let j = 0; j < records.length; j++) {
      const v = records[j];
      let bad: object | undefined;
      if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof s.rejected || !s.fieldsOk(v as Record<string, unknown>)) bad = s.reject(v);
      let ts = 0;
      if (bad === undefined) {
        if (given) ts = given[j] as number;
        else if (s.timeField !== "") {
          const t = (v as Record<string, unknown>)[s.timeField];
          ts = typeof t === "number" ? t : typeof t === "bigint" ? Number(t) : Number.NaN;
        } else ts = s.time(v);
        if (ts - ts !== 0) bad = s.rejectTime(v);
        else if (ts > st.highest) st.highest = ts;
      }
      if (bad !== undefined) {
        if (s.drop) {
          s.drop(bad);
          continue;
        }
        records[n] = bad;
        ts = st.highest;
      } else if (n !== j) records[n] = v;
      if (keys && n !== j) keys[n] = keys[j] as string | number;
      timestamps[n] = ts;
      n++;
    }
    records.length = n;
    if (keys) keys.length = n;
    timestamps.length = n;
    return timestamps;
  },
];

/** Pool entries by what they serve: the same source keeps its literal across compilations. */
const taken = { fields: new Map<string, number>(), loops: new Map<string, number>() };

const pass: FieldOk = () => true;

/** The check of up to 8 declared fields, field by field (the index of the first that fails, or -1); undefined for more. */
export function unrolledFieldCheck(key: string, fields: readonly (readonly [string, FieldOk])[]): ((o: Record<string, unknown>) => number) | undefined {
  if (fields.length === 0 || fields.length > 8) return undefined;
  const c = (i: number): FieldOk => fields[i]?.[1] ?? pass;
  return poolEntry(
    fieldPool,
    taken.fields,
    key,
  )({
    ...keySlots(fields.map(([name]) => name)),
    ...{ c0: c(0), c1: c(1), c2: c(2), c3: c(3), c4: c(4), c5: c(5), c6: c(6), c7: c(7) },
  });
}

/** The batch loop of one source (`key` names it). */
export function pooledCheckLoop(key: string, parts: LoopParts): (r: ReadResult<unknown>, st: LoopState) => number[] {
  return poolEntry(loopPool, taken.loops, key)(parts);
}
