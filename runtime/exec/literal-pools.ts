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
