/**
 * What a task's state caches know of its store (ADR 39). They *cover* it while every entry the
 * store holds for a table is in that table's cache: a key missing from a cache has no state, and
 * prefetching a batch costs nothing — no lookup per key, no read. After the first eviction they
 * no longer do, but a backend still knows which keys the store may hold (a counting Bloom
 * filter), so a key it never wrote, or deleted since, is not read. A store that held state at the
 * start (a restore) gets that filter from a scan of its keys in the background, unless it holds
 * more than the filter separates well; one another writer touched is read as before.
 */
import { StoreKeyFilter } from "./key-filter.ts";
import { isTimersKey, RESERVED_PREFIX, tablePrefixOf } from "./store-keys.ts";
import type { StateStore } from "./store.ts";

/**
 * Counters of the store-key filter per entry the cache may hold: 4 MiB for the default cache, a
 * few false "maybe"s in a hundred with as many stored keys as 2.5 caches.
 */
const FILTER_COUNTERS_PER_CACHED_ENTRY = 16;

/** What the key scan adds to the filter: the scanned keys, and how a chunk of them is added. */
interface StoreKeys {
  /** The keys of the store as it was when the scan began, in chunks. */
  readonly chunks: AsyncIterable<string[]>;
  /** Adds a chunk's keyed entries to `filter`: how many, or undefined for an entry no declared table owns. */
  add(chunk: readonly string[], filter: StoreKeyFilter): number | undefined;
}

/** A table as the key scan sees it: its store-key prefix, and how it adds one of its keys to a filter. */
interface ScannedTable {
  readonly prefix: string;
  addStored(filter: StoreKeyFilter, storeKey: string): void;
}

/** Keys one step of the scan returns: each step is a turn of the event loop, and a busy loop makes the scan wait for each. */
const SCAN_CHUNK_KEYS = 65_536;

/** The scanned keys `chunks` of a store whose declared tables are `tables`. */
function storeKeysOf(chunks: AsyncIterable<string[]>, tables: readonly ScannedTable[]): StoreKeys {
  const byPrefix = new Map(tables.map((t) => [t.prefix, t]));
  let table: ScannedTable | undefined;
  const add = (chunk: readonly string[], filter: StoreKeyFilter): number | undefined => {
    let count = 0;
    for (const k of chunk) {
      if (k.startsWith(RESERVED_PREFIX) || isTimersKey(k)) continue;
      // Keys come in runs of one table: look it up once per run.
      if (table === undefined || !k.startsWith(table.prefix)) table = byPrefix.get(tablePrefixOf(k));
      if (table === undefined) return undefined;
      table.addStored(filter, k);
      count++;
    }
    return count;
  };
  return { chunks, add };
}

/** What tables read when a key is not cached (shared by every table of one backend). */
export interface Coverage {
  /** True while a key missing from a cache is known absent from the store. */
  readonly complete: boolean;
  /** While defined, the keys the store may hold: tables add and remove theirs as they write them. */
  readonly filter: StoreKeyFilter | undefined;
  /** Whether `filter` may be asked (false while it is still being built from the store's keys). */
  readonly filterReady: boolean;
}

/** Tracks coverage for one backend: decided at its first prefetch; an eviction ends coverage, a write not drained from the caches ends the filter too. */
export class CacheCoverage implements Coverage {
  complete = false;
  filter: StoreKeyFilter | undefined;
  filterReady = false;
  private decided = false;
  /** The store's batch count that keeps coverage: at the decision, plus the backend's own writes of drained entries since. */
  private expectedBatches = 0;
  /** The background scan that builds the filter of a store that held state, until it ends. */
  private indexing: Promise<void> | undefined;

  private readonly store: StateStore;
  /** The backend's tables (declared before its first prefetch). */
  private readonly tables: readonly ScannedTable[];
  /** Resolves once no write of the backend is in flight (throws what made one fail). */
  private readonly quiet: () => Promise<void>;

  /** Counters of the filter. */
  private readonly filterSize: number;

  constructor(options: { store: StateStore; tables: readonly ScannedTable[]; quiet: () => Promise<void>; maxCachedEntries: number }) {
    this.store = options.store;
    this.tables = options.tables;
    this.quiet = options.quiet;
    this.filterSize = options.maxCachedEntries * FILTER_COUNTERS_PER_CACHED_ENTRY;
  }

  /**
   * Whether the caches cover the store now. The first call looks at the store once (call it
   * after any restore wrote there); later calls only compare write counts.
   */
  async check(): Promise<boolean> {
    if (!this.decided) {
      this.decided = true;
      this.expectedBatches = this.store.stats.batches;
      const holds = await this.holdsState();
      if (this.store.stats.batches !== this.expectedBatches) return false;
      if (holds) {
        await this.beginIndex();
        return false;
      }
      this.complete = true;
      this.filter = new StoreKeyFilter(this.filterSize);
      this.filterReady = true;
      return true;
    }
    // A batch the backend did not count came from elsewhere (an import, a rewrite, a restore).
    if (this.filter !== undefined && this.store.stats.batches !== this.expectedBatches) {
      this.complete = false;
      this.dropFilter();
    }
    return this.complete;
  }

  /** Counts a write the backend makes of entries drained from its caches (their tables updated the filter). */
  countOwnWrite(puts: number, dels: number): void {
    // The store counts non-empty batches only.
    if (puts + dels > 0) this.expectedBatches++;
  }

  /** An eviction dropped cached entries the store keeps: from now on a missing key the filter may hold must be read. */
  lose(): void {
    this.complete = false;
  }

  /** Stops a scan still building the filter and waits for it (before the store closes). */
  async stop(): Promise<void> {
    this.dropFilter();
    await this.indexing;
  }

  /**
   * Starts filling a filter from the store's keys. Tables record their drains in it from the
   * scan's snapshot on, so whatever order the scan and the drains come in, every key the store
   * holds at the end has been added more often than removed; it is asked only once complete.
   */
  private async beginIndex(): Promise<void> {
    await this.quiet();
    // The scan's snapshot is taken at this call: from the next line on, drains go to the filter.
    const chunks = this.store.scanKeys(SCAN_CHUNK_KEYS);
    const filter = new StoreKeyFilter(this.filterSize);
    this.filter = filter;
    const keys = storeKeysOf(chunks, this.tables);
    this.indexing = this.index(keys, filter).then(
      (complete) => {
        if (this.filter !== filter) return;
        if (complete && this.store.stats.batches === this.expectedBatches) this.filterReady = true;
        else this.dropFilter();
      },
      () => {
        // The filter only saves reads: a failed scan leaves every miss read, as before.
        if (this.filter === filter) this.dropFilter();
      },
    );
  }

  /** Adds the scanned keys to `filter`: false when they are too many for it, or the filter was dropped meanwhile. */
  private async index(keys: StoreKeys, filter: StoreKeyFilter): Promise<boolean> {
    let count = 0;
    for await (const chunk of keys.chunks) {
      if (this.filter !== filter) return false;
      const added = keys.add(chunk, filter);
      if (added === undefined) return false;
      count += added;
      if (count > filter.capacity) return false;
    }
    return true;
  }

  /** Whether the store holds any keyed entry (runtime keys aside): one short scan from its first key. */
  private async holdsState(): Promise<boolean> {
    await this.quiet();
    for await (const chunk of this.store.scan("", 64)) if (chunk.some(([k]) => !k.startsWith(RESERVED_PREFIX) && !isTimersKey(k))) return true;
    return false;
  }

  /** Stops using the filter for good. */
  private dropFilter(): void {
    this.filter = undefined;
    this.filterReady = false;
  }
}
