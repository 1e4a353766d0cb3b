/**
 * What a task's state caches know of its store (ADR 39). They *cover* it while every entry the
 * store holds for a table is in that table's cache: a key missing from a cache has no state, and
 * prefetching a batch costs nothing — no lookup per key, no read. After the first eviction they
 * no longer do, but a backend whose store started empty still knows which keys it put there (a
 * counting Bloom filter), so a key it never wrote, or deleted since, is not read. A store that
 * held state at the start, or that another writer touched, is read as before.
 */
import { StoreKeyFilter } from "./key-filter.ts";
import type { StateStore } from "./store.ts";

/**
 * Counters of the store-key filter per entry the cache may hold: 4 MiB for the default cache, a
 * few false "maybe"s in a hundred with as many stored keys as 2.5 caches.
 */
const FILTER_COUNTERS_PER_CACHED_ENTRY = 16;

/** What tables read when a key is not cached (shared by every table of one backend). */
export interface Coverage {
  /** True while a key missing from a cache is known absent from the store. */
  readonly complete: boolean;
  /** While defined, the keys the store may hold: tables add and remove theirs as they write them. */
  readonly filter: StoreKeyFilter | undefined;
}

/** Tracks coverage for one backend: decided at its first prefetch; an eviction ends coverage, a write not drained from the caches ends the filter too. */
export class CacheCoverage implements Coverage {
  complete = false;
  filter: StoreKeyFilter | undefined;
  private decided = false;
  /** The store's batch count that keeps coverage: at the decision, plus the backend's own writes of drained entries since. */
  private expectedBatches = 0;

  private readonly store: StateStore;
  /** Whether the store holds any keyed entry (reserved runtime keys do not count). */
  private readonly holdsState: () => Promise<boolean>;

  /** Counters of the filter a backend whose store starts empty keeps. */
  private readonly filterSize: number;

  constructor(store: StateStore, holdsState: () => Promise<boolean>, maxCachedEntries: number) {
    this.store = store;
    this.holdsState = holdsState;
    this.filterSize = maxCachedEntries * FILTER_COUNTERS_PER_CACHED_ENTRY;
  }

  /**
   * Whether the caches cover the store now. The first call looks at the store once (call it
   * after any restore wrote there); later calls only compare write counts.
   */
  async check(): Promise<boolean> {
    if (!this.decided) {
      this.decided = true;
      this.expectedBatches = this.store.stats.batches;
      this.complete = !(await this.holdsState()) && this.store.stats.batches === this.expectedBatches;
      if (this.complete) this.filter = new StoreKeyFilter(this.filterSize);
      return this.complete;
    }
    // A batch the backend did not count came from elsewhere (an import, a rewrite, a restore).
    if (this.filter !== undefined && this.store.stats.batches !== this.expectedBatches) {
      this.complete = false;
      this.filter = undefined;
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
}
