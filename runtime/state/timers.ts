/**
 * Timers of one keyed operator in one task, for one time domain: deduplicated per
 * (key, timestamp), fired in timestamp order (keys of one timestamp in registration order, so
 * runs are deterministic). The in-memory tier of `TieredTimers`, which moves what exceeds its
 * bound to the state store; saved with checkpoints.
 */
import type { Key } from "../api/functions.ts";

/** A timer queue: a min-heap of distinct timestamps plus the keys registered at each. */
export class TimerQueue {
  private readonly byTs = new Map<number, Set<Key>>();
  private readonly heap: number[] = [];
  private count = 0;

  /** Number of registered timers. */
  get size(): number {
    return this.count;
  }

  /** Registers a timer; a duplicate (key, ts) is ignored. */
  register(key: Key, ts: number): void {
    let keys = this.byTs.get(ts);
    if (keys === undefined) {
      keys = new Set();
      this.byTs.set(ts, keys);
      this.push(ts);
    }
    if (!keys.has(key)) {
      keys.add(key);
      this.count++;
    }
  }

  /** Deletes a timer if present. */
  delete(key: Key, ts: number): void {
    const keys = this.byTs.get(ts);
    if (keys?.delete(key) === true) this.count--;
  }

  /** Earliest timestamp with a pending timer, or undefined. */
  peek(): number | undefined {
    while (this.heap.length > 0) {
      const ts = this.heap[0] as number;
      const keys = this.byTs.get(ts);
      if (keys !== undefined && keys.size > 0) return ts;
      this.pop();
      if (keys !== undefined) this.byTs.delete(ts);
    }
    return undefined;
  }

  /**
   * Removes from the heap every timestamp <= `until`, ascending, into `out`, and adds their
   * keys to `keys`. The timers stay registered (still deletable) until `fire` runs them.
   */
  collectDue(until: number, out: number[], keys: Set<Key> | undefined): void {
    for (let ts = this.peek(); ts !== undefined && ts <= until; ts = this.peek()) {
      this.pop();
      out.push(ts);
      if (keys) for (const k of this.byTs.get(ts) ?? []) keys.add(k);
    }
  }

  /**
   * Fires the timers of one collected timestamp and drops them. A timer deleted by an earlier
   * callback of the same firing is skipped; one registered for this timestamp during the firing
   * fires in it too (Set iteration visits added entries); re-registering a fired one is a no-op.
   */
  fire(ts: number, onTimer: (key: Key, ts: number) => void): void {
    const keys = this.byTs.get(ts);
    if (keys === undefined) return;
    for (const key of keys) onTimer(key, ts);
    this.count -= keys.size;
    if (this.byTs.get(ts) === keys) this.byTs.delete(ts);
  }

  /**
   * Fires the timers of one collected timestamp as `fire` does, `size` keys at a time: `before`
   * gets each slice's keys first (to load their state, after evicting the previous slice's).
   */
  async fireInSlices(ts: number, size: number, before: (keys: Key[]) => Promise<void>, onTimer: (key: Key, ts: number) => void): Promise<void> {
    const keys = this.byTs.get(ts);
    if (keys === undefined) return;
    // A Set's iterator is live: it survives the awaits and sees keys added meanwhile.
    const it = keys.values();
    const slice: Key[] = [];
    for (;;) {
      slice.length = 0;
      for (let r = it.next(); r.done !== true; r = it.next()) {
        slice.push(r.value);
        if (slice.length >= size) break;
      }
      if (slice.length === 0) break;
      await before(slice);
      // A key deleted by an earlier callback of this firing does not fire.
      for (const key of slice) if (keys.has(key)) onTimer(key, ts);
    }
    this.count -= keys.size;
    if (this.byTs.get(ts) === keys) this.byTs.delete(ts);
  }

  /** All timers as [timestamp, keys] pairs, ascending (for checkpoints). */
  snapshot(): [number, Key[]][] {
    return [...this.byTs.entries()]
      .filter(([, k]) => k.size > 0)
      .map(([ts, k]): [number, Key[]] => [ts, [...k]])
      .sort((a, b) => a[0] - b[0]);
  }

  /** How many timers each timestamp holds, ascending. */
  countsByTimestamp(): [number, number][] {
    const out: [number, number][] = [];
    for (const [ts, keys] of this.byTs) if (keys.size > 0) out.push([ts, keys.size]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Whether the timer of `key` at `ts` is registered. */
  has(key: Key, ts: number): boolean {
    return this.byTs.get(ts)?.has(key) === true;
  }

  /**
   * Removes and returns the first `n` keys registered at `ts` (all of them when `n` is at least
   * their number). The heap keeps the timestamp until `peek` finds it empty.
   */
  removeSome(ts: number, n: number): Key[] {
    const keys = this.byTs.get(ts);
    if (keys === undefined) return [];
    const out: Key[] = [];
    for (const k of keys) {
      if (out.length >= n) break;
      out.push(k);
    }
    if (out.length === keys.size) this.byTs.delete(ts);
    else for (const k of out) keys.delete(k);
    this.count -= out.length;
    return out;
  }

  /** Adds the timers of a snapshot. */
  restore(snapshot: [number, Key[]][]): void {
    for (const [ts, keys] of snapshot) for (const k of keys) this.register(k, ts);
  }

  private push(ts: number): void {
    const h = this.heap;
    h.push(ts);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((h[parent] as number) <= ts) break;
      h[i] = h[parent] as number;
      i = parent;
    }
    h[i] = ts;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as number;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (h[r] as number) < (h[l] as number) ? r : l;
      if ((h[c] as number) >= last) break;
      h[i] = h[c] as number;
      i = c;
    }
    h[i] = last;
  }
}
