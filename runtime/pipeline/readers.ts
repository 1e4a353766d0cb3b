/**
 * Field readers with inline caches of their own. V8 keeps property-access feedback
 * per function literal, so one shared `o[field]` in the fast path sees every field name of every
 * expression and goes megamorphic (a hash lookup per access, several times slower than a typed
 * job's `b.price`). Here each `variable.field` path gets its own literal out of a pool: the access
 * sites in it see one name each and the few record shapes that carry it, and stay monomorphic or
 * polymorphic. No code is generated: the pool is written out below; paths beyond it share one
 * more literal (and are as slow as the one shared site they replace).
 */

/** Returned by a fast closure (and a reader) that cannot decide: evaluate with cel-js. */
export const FALLBACK: unique symbol = Symbol("fallback");

/** Reads `variable.field` from the expression variables as CEL selects it from a map; FALLBACK when it cannot say (not a plain object, no such field). */
export type Reader = (vars: Readonly<Record<string, unknown>>) => unknown;

/**
 * An object whose own properties a reader may take as map entries. Lists are not; Maps (and the
 * other built-in objects CEL values can be) have no own properties, so reading a field name they
 * do not inherit (see `readable`) finds nothing and leaves the evaluation to cel-js. That saves
 * an `instanceof` walk of the prototype chain per field read.
 */
export function isRecord(o: unknown): o is Record<string, unknown> {
  return o !== null && typeof o === "object" && !Array.isArray(o);
}

/** The value, or FALLBACK for a missing field. */
function present(x: unknown): unknown {
  return x === undefined ? FALLBACK : x;
}

// Identical on purpose: every entry is a separate literal with its own feedback.
const readerPool: ((variable: string, f: string) => Reader)[] = [
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
  (n, f) => (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  },
];

/** Paths beyond the pool share this one (as every path did before the pool), so the first paths keep theirs to themselves. */
const overflow =
  (n: string, f: string): Reader =>
  (v) => {
    const o = v[n];
    return isRecord(o) ? present(o[f]) : FALLBACK;
  };

/** Readers by `variable.field`: one path always gets the same reader (and literal), new paths the next free literal. */
const readers = new Map<string, Reader>();

/**
 * The internalized copy of a string (the one V8 keeps for property names). Names from cel-js's
 * parser and from regex matches are fresh strings: as keys they would make every access compare
 * text or follow an indirection instead of comparing one pointer.
 */
export function internalized(s: string): string {
  return Object.keys({ [s]: 0 })[0] ?? s;
}

/** Objects CEL values can be besides records and lists: a name any of them inherits is no field to read directly. */
const builtins: readonly object[] = [Object.prototype, Map.prototype, Set.prototype, Date.prototype, Uint8Array.prototype];

/** Whether `field` is safe to read as an own property: no built-in object inherits it (`constructor`, `size`, `getTime`). */
export function readable(field: string): boolean {
  return !builtins.some((proto) => field in proto);
}

/** A reader of `variable.field` (see `readable`: inherited names must go through cel-js). */
export function fieldReader(variable: string, field: string): Reader {
  const path = `${variable}.${field}`;
  let read = readers.get(path);
  if (!read) {
    read = (readerPool[readers.size] ?? overflow)(internalized(variable), internalized(field));
    readers.set(path, read);
  }
  return read;
}
