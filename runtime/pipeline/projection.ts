/**
 * Output records of up to four fields (project, window and over `select`, process `emit`), built
 * by functions with inline caches of their own. V8 keeps property-access feedback per function
 * literal: one shared builder would see every projection's field names and go megamorphic on
 * every load and store. Each field set gets a literal of its own from the pool below, so its
 * `r[source]` loads and `o[name]` stores see one name each and run as fast as a hand-written
 * object literal. No code is generated: the pool is written out; field sets beyond it use the
 * general builder (a template copy, as every projection did before the pool).
 */
import { FALLBACK as FALLBACK_SYMBOL, internalized, isRecord as isRecordFn } from "./readers.ts";
import { InternalError } from "../errors.ts";

/** A module-local alias: V8 checks an imported binding for initialisation on every read (several per record here); a local constant is free. */
const FALLBACK: typeof FALLBACK_SYMBOL = FALLBACK_SYMBOL;
const isRecord = isRecordFn;

type Vars = Readonly<Record<string, unknown>>;
type Rec = Record<string, unknown>;

/** Builds one output record from the expression variables. */
export type Build = (v: Vars) => Rec;

/** Evaluates one field: the value, or FALLBACK when the fast path cannot say. */
export type Get = (v: Vars) => unknown;

/**
 * A builder's fields: output names n0–n3 (n of them), the `record` field each one copies as it
 * is (s0–s3, "" for none; only names `readable` allows), the getter of each (used for the others, and when the record is not a
 * plain object), and the general builder for whatever the fast one cannot do (a missing field,
 * a FALLBACK): it evaluates through cel-js, so results and errors stay cel-js's.
 */
interface Plan {
  n: number;
  n0: string;
  n1: string;
  n2: string;
  n3: string;
  s0: string;
  s1: string;
  s2: string;
  s3: string;
  g0: Get;
  g1: Get;
  g2: Get;
  g3: Get;
  general: Build;
}

/** Whether all four values can go into the record (a missing field or a FALLBACK goes to the general path). */
function usable(x0: unknown, x1: unknown, x2: unknown, x3: unknown): boolean {
  return (
    x0 !== undefined && x0 !== FALLBACK && x1 !== undefined && x1 !== FALLBACK && x2 !== undefined && x2 !== FALLBACK && x3 !== undefined && x3 !== FALLBACK
  );
}

// Identical on purpose: every entry is a separate literal with its own feedback.
const pool: ((p: Plan) => Build)[] = [
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
  (p) => (v) => {
    const r = v.record as Rec;
    const ok = isRecord(r);
    const x0 = ok && p.s0 ? r[p.s0] : p.g0(v),
      x1 = ok && p.s1 ? r[p.s1] : p.g1(v),
      x2 = ok && p.s2 ? r[p.s2] : p.g2(v),
      x3 = ok && p.s3 ? r[p.s3] : p.g3(v);
    if (!usable(x0, x1, x2, x3)) return p.general(v);
    const o: Rec = {};
    o[p.n0] = x0;
    if (p.n > 1) o[p.n1] = x1;
    if (p.n > 2) o[p.n2] = x2;
    if (p.n > 3) o[p.n3] = x3;
    return o;
  },
];

/** Pool slots by field set (names and sources): one field set always gets the same literal, new ones the next free one. */
const slots = new Map<string, number>();

const none: Get = () => null;

/**
 * A builder of up to four fields: `names[i]` gets `record[sources[i]]` when sources[i] is set and
 * the record is a plain object, else `gets[i]`'s value; `general` takes over when any is missing.
 */
export function projection(names: readonly string[], sources: readonly (string | undefined)[], gets: readonly Get[], general: Build): Build {
  if (names.length < 1 || names.length > 4) throw new InternalError(`projection: ${names.length} fields (1 to 4)`);
  const signature = JSON.stringify([names, sources]);
  let i = slots.get(signature);
  if (i === undefined) {
    i = slots.size;
    slots.set(signature, i);
  }
  const entry = pool[i];
  // Beyond the pool a shared literal would go megamorphic: those field sets take the general builder.
  if (!entry) return general;
  const [n0 = "", n1 = "", n2 = "", n3 = ""] = names.map(internalized);
  const [s0 = "", s1 = "", s2 = "", s3 = ""] = sources.map((s) => (s === undefined ? "" : internalized(s)));
  const [g0 = none, g1 = none, g2 = none, g3 = none] = gets;
  return entry({ n: names.length, n0, n1, n2, n3, s0, s1, s2, s3, g0, g1, g2, g3, general });
}
