/**
 * Picking a function literal out of a pool of identical ones (pipeline/source-check-pools.ts,
 * sql/unrolled.ts and pooled.ts, exec/threads/columns.ts): V8 keeps call and property feedback
 * per literal, so a table, source, operator or record shape that gets a literal of its own stays
 * monomorphic. The same key keeps its entry across compilations; keys beyond the pool share its
 * last entry.
 */

/** Which pool entry each key took (one map per pool). */
export type PoolSlots = Map<string, number>;

/** The index of `key` in a pool (the next free one for a new key; it may lie beyond the pool). */
export function poolSlot(slots: PoolSlots, key: string): number {
  let i = slots.get(key);
  if (i === undefined) {
    i = slots.size;
    slots.set(key, i);
  }
  return i;
}

/** The pool entry of `key`: its own, or the last one once the pool is used up. */
export function poolEntry<T>(pool: readonly T[], slots: PoolSlots, key: string): T {
  return pool[Math.min(poolSlot(slots, key), pool.length - 1)] as T;
}

/** Up to 8 names a pooled literal reads or writes one by one (`n` of them are used); the pools' slots extend it. */
export interface KeySlots {
  n: number;
  k0: string;
  k1: string;
  k2: string;
  k3: string;
  k4: string;
  k5: string;
  k6: string;
  k7: string;
}

/** The key slots of `names` (up to 8; unused slots are ""), `n` = `count` (default: the names' count). */
export function keySlots(names: readonly string[], count = names.length): KeySlots {
  const k = (i: number): string => names[i] ?? "";
  return { n: count, k0: k(0), k1: k(1), k2: k(2), k3: k(3), k4: k(4), k5: k(5), k6: k(6), k7: k(7) };
}
