/**
 * Whether a task's state caches cover its store: every entry the store holds for a table is in
 * that table's cache. While they do, a key missing from a cache has no state at all, and
 * prefetching a batch costs nothing — no lookup per key, no read (ADR 39). A job that starts
 * from an empty store runs so until its first eviction; one restored into its store, or whose
 * store another writer touched, reads as before.
 */
import type { StateStore } from "./store.ts";

/** The flag tables read when a key is not cached (shared by every table of one backend). */
export interface Coverage {
  /** True while a key missing from a cache is known absent from the store. */
  readonly complete: boolean;
}

/** Tracks coverage for one backend: decided at its first prefetch, lost for good by an eviction or a write not drained from the caches. */
export class CacheCoverage implements Coverage {
  complete = false;
  private decided = false;
  /** The store's batch count that keeps coverage: at the decision, plus the backend's own writes of drained entries since. */
  private expectedBatches = 0;

  private readonly store: StateStore;
  /** Whether the store holds any keyed entry (reserved runtime keys do not count). */
  private readonly holdsState: () => Promise<boolean>;

  constructor(store: StateStore, holdsState: () => Promise<boolean>) {
    this.store = store;
    this.holdsState = holdsState;
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
      return this.complete;
    }
    // A batch the backend did not count came from elsewhere (an import, a rewrite, a restore).
    if (this.complete && this.store.stats.batches !== this.expectedBatches) this.complete = false;
    return this.complete;
  }

  /** Counts a write the backend makes of entries drained from its caches (they stay cached: coverage holds). */
  countOwnWrite(puts: number, dels: number): void {
    // The store counts non-empty batches only.
    if (puts + dels > 0) this.expectedBatches++;
  }

  /** An eviction dropped cached entries the store keeps: from now on a missing key must be read. */
  lose(): void {
    this.decided = true;
    this.complete = false;
  }
}
