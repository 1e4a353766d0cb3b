/**
 * Asynchronous lookups of dimension rows (a Redis hash per key, or rows of a local file), batched
 * per micro-batch and cached: `prepare` fetches the batch's keys that are not cached (or whose
 * cached row is older than the TTL) with one call to the store, then `get` answers each record
 * synchronously from memory. No record ever waits on its own request.
 */

/** A row of a dimension: field → value. */
export type LookupRow = Record<string, unknown>;

/** Where rows come from (Redis in production; in-memory fakes in tests). */
export interface LookupStore {
  /** The rows of `keys`, in order (null where there is none), in one round trip. */
  getMany(keys: readonly string[]): Promise<(LookupRow | null)[]>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Options of a lookup cache. */
export interface LookupCacheOptions {
  store: LookupStore;
  /** Rows kept across batches; the least recently used go first (0: no cache beyond the batch). */
  maxEntries: number;
  /** A cached row older than this is fetched again. */
  ttlMs: number;
  /** Processing time. */
  now: () => number;
}

/** Counters of a lookup cache (metrics, tests). */
export interface LookupStats {
  /** Keys answered from the cache. */
  hits: number;
  /** Keys fetched from the store. */
  misses: number;
  /** Calls to the store (one per batch with misses). */
  fetches: number;
}

/** A bounded, expiring cache in front of a store, filled one batch at a time. */
export interface LookupCache {
  /** Makes the rows of `keys` available to `get` until the next prepare (one store call for the misses). */
  prepare(keys: Iterable<string>): Promise<void>;
  /** The row of a key of the prepared batch (null: none); undefined for a key that was not prepared. */
  get(key: string): LookupRow | null | undefined;
  readonly stats: LookupStats;
  close(): Promise<void>;
}

/** Creates a lookup cache. */
export function lookupCache(options: LookupCacheOptions): LookupCache {
  const { store, maxEntries, ttlMs, now } = options;
  // Map iteration order is insertion order: re-inserting on use keeps the least recently used first.
  const cached = new Map<string, { row: LookupRow | null; at: number }>();
  // The current batch's rows, apart from the LRU so eviction never drops a row the batch needs.
  const batch = new Map<string, LookupRow | null>();
  const stats: LookupStats = { hits: 0, misses: 0, fetches: 0 };
  return {
    stats,
    async prepare(keys) {
      batch.clear();
      const t = now();
      const missing: string[] = [];
      for (const k of keys) {
        if (batch.has(k)) continue;
        const c = cached.get(k);
        if (c !== undefined && t - c.at < ttlMs) {
          stats.hits++;
          cached.delete(k);
          cached.set(k, c);
          batch.set(k, c.row);
        } else {
          batch.set(k, null);
          missing.push(k);
        }
      }
      if (missing.length === 0) return;
      stats.misses += missing.length;
      stats.fetches++;
      const rows = await store.getMany(missing);
      for (let i = 0; i < missing.length; i++) {
        const k = missing[i] as string;
        const row = rows[i] ?? null;
        batch.set(k, row);
        if (maxEntries > 0) {
          cached.delete(k);
          cached.set(k, { row, at: t });
        }
      }
      if (cached.size > maxEntries) {
        let excess = cached.size - maxEntries;
        for (const k of cached.keys()) {
          if (excess-- <= 0) break;
          cached.delete(k);
        }
      }
    },
    get: (key) => batch.get(key),
    close: () => store.close(),
  };
}

/** A store over rows held in memory (a local file's rows): what local runs use instead of Redis. */
export function memoryLookupStore(rows: ReadonlyMap<string, LookupRow>): LookupStore {
  return {
    getMany: async (keys) => keys.map((k) => rows.get(k) ?? null),
    close: async () => {},
  };
}

/** A store the tasks of one process share: opened by the first task that needs it, closed when the last one lets go. */
export interface SharedLookupStore {
  acquire(): Promise<LookupStore>;
  release(): Promise<void>;
}

/** Shares the store `open` makes among the tasks of a process (one connection, a cache per task). */
export function sharedLookupStore(open: () => Promise<LookupStore>): SharedLookupStore {
  let shared: Promise<LookupStore> | undefined;
  let users = 0;
  return {
    acquire() {
      users++;
      return (shared ??= open());
    },
    async release() {
      if (--users > 0 || !shared) return;
      const s = shared;
      shared = undefined;
      await (await s).close();
    },
  };
}
