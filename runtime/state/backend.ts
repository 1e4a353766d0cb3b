/**
 * The keyed-state backend of one task: every state table of every keyed operator of the task,
 * over one store (heap, or one LevelDB per task). Owns the micro-batch protocol: prefetch a
 * batch's keys with one getMany, flush all dirty entries with one batch.
 */
import type { Key, StateTtl } from "../api/functions.ts";
import type { TimerSnapshot } from "../checkpoint/format.ts";
import type { Clock } from "../time/clock.ts";
import { decodeValue, encodeValue } from "./codec.ts";
import { convertEntries, type StateChanges } from "./changes.ts";
import { CacheCoverage } from "./coverage.ts";
import { DIRTY_KEY, isTimersKey, RESERVED_PREFIX, tablePrefixOf, timersKey } from "./store-keys.ts";
import type { StateStore, StoreStats } from "./store.ts";
import { StateTable, type TableSlice } from "./table.ts";
import { JobDefinitionError, StateStoreError } from "../errors.ts";

/** Default bound on cached entries before a flush-and-evict (keeps memory predictable). */
export const DEFAULT_MAX_CACHED_ENTRIES = 200_000;

/**
 * Timers kept in memory per cached entry the cache may hold: a timer in memory (a Set entry) costs
 * about a quarter of a cached entry (its Map entry, entry object and value), and spilling a timer
 * costs a store write, read and delete, so timers stay in memory as long as they weigh no more than
 * the cache.
 */
export const TIMERS_PER_CACHED_ENTRY = 4;

/** An operator whose timers live in memory and are saved to the store on close. */
export interface TimerOwner {
  /** Operator uid. */
  uid: string;
  /** Current timers. */
  snapshot(): TimerSnapshot;
  /** Adds saved timers. */
  restore(timers: TimerSnapshot): void;
  /** Moves timers past the in-memory bound to the store (called before each eviction check). */
  spill?(): void;
}

/** Keyed state of one task. */
export class KeyedStateBackend {
  /** The underlying store. */
  readonly store: StateStore;
  /** Times the cache went past its bound and was written back and halved (metrics). */
  evictions = 0;
  /** Timers its operators put in the store past their in-memory bound (metrics; ADR 34). */
  timersStored = 0;
  /** Times the cache was over its bound while a checkpoint wrote, and the task waited for it (metrics). */
  evictionWaits = 0;
  private readonly clock: Clock;
  private readonly tables: StateTable<unknown>[] = [];
  private readonly maxCached: number;
  private readonly timerOwners: TimerOwner[] = [];
  /** With a changelog: every change is kept until drainChanges hands it over. */
  private readonly trackChanges: boolean;
  /** Changes already written to the store by evictions since the last drainChanges. */
  private readonly evicted = new Map<string, Uint8Array | null>();
  /** The eviction write still in flight: its entries left the cache, so reads of them are served from here. */
  private writing: { done: Promise<void>; values: Map<string, Uint8Array | null> } | undefined;
  /** Why the last background write failed: reported by the next call that touches the store. */
  private writeFailure: Error | undefined;
  /** A promise while a checkpoint still has to write what it captured (an eviction would write newer values first): when it may. */
  private readonly evictableAfter: () => Promise<void> | undefined;
  /** What the caches know of the store: all of it (nothing to read), or which keys it may hold (ADR 39). */
  private readonly coverage: CacheCoverage;

  constructor(options: {
    store: StateStore;
    clock: Clock;
    maxCachedEntries?: number;
    trackChanges?: boolean;
    /** Undefined when evictions may write now, else a promise of when they may (default: always now). */
    evictableAfter?: () => Promise<void> | undefined;
    /** Timers one operator keeps in memory per time domain before the later ones go to the store (default: four times the cache bound). */
    maxTimersInMemory?: number;
  }) {
    this.store = options.store;
    this.clock = options.clock;
    this.maxCached = options.maxCachedEntries ?? DEFAULT_MAX_CACHED_ENTRIES;
    this.trackChanges = options.trackChanges === true;
    this.evictableAfter = options.evictableAfter ?? (() => undefined);
    this.coverage = new CacheCoverage({ store: this.store, tables: this.tables, quiet: () => this.quiet(), maxCachedEntries: this.maxCached });
    this.timerLimit = this.store.persistent ? (options.maxTimersInMemory ?? this.maxCached * TIMERS_PER_CACHED_ENTRY) : Number.POSITIVE_INFINITY;
  }

  /** Timers one operator keeps in memory per time domain (heap state: all of them). */
  readonly timerLimit: number;

  /** Keys whose state one step loads at most when a watermark fires many timers (a quarter of the cache bound). */
  get sliceKeys(): number {
    return Math.max(1, Math.floor(this.maxCached / 4));
  }

  /** Whether prefetches skip keys the store-key filter rules out (ADR 39): false until a restored store's keys are scanned. */
  get keyFilterReady(): boolean {
    return this.coverage.filterReady;
  }

  /** I/O counters of the store. */
  get stats(): StoreStats {
    return this.store.stats;
  }

  /** Creates the table of one state of one operator (`rawKeys`: string keys stored as they are, e.g. timer ids). */
  table<T>(options: { uid: string; name: string; ttl?: StateTtl; rawKeys?: boolean }): StateTable<T> {
    const t = new StateTable<T>({ ...options, persistent: this.store.persistent, tracked: this.trackChanges, clock: this.clock, coverage: this.coverage });
    if (this.tables.some((x) => x.prefix === t.prefix)) {
      throw new JobDefinitionError(`state '${options.name}' of operator '${options.uid}' is declared twice`);
    }
    this.tables.push(t);
    return t;
  }

  /** Registers an operator whose timers are saved on close and loaded by loadTimers. */
  registerTimers(owner: TimerOwner): void {
    this.timerOwners.push(owner);
  }

  /** Loads the timers a previous run saved on close (LevelDB only; one getMany). */
  async loadTimers(): Promise<void> {
    if (!this.store.persistent || this.timerOwners.length === 0) return;
    await this.settle();
    const values = await this.store.getMany(this.timerOwners.map((o) => timersKey(o.uid)));
    for (const [i, v] of values.entries()) if (v !== undefined) this.timerOwners[i]?.restore(decodeValue(v) as TimerSnapshot);
  }

  /**
   * Loads the given tables' entries for keys[from, from + count) with one getMany (no-op for heap
   * state). A key cached by the time the read returns keeps its cached value (it is newer).
   */
  async prefetch(tables: readonly StateTable<unknown>[], keys: readonly Key[], count = keys.length, from = 0): Promise<void> {
    if (!this.store.persistent || (await this.coverage.check())) return;
    const storeKeys: string[] = [];
    const owners: StateTable<unknown>[] = [];
    const ids: Key[] = [];
    for (const t of tables) t.missing(keys, from, from + count, storeKeys, owners, ids);
    if (storeKeys.length === 0) return;
    this.throwWriteFailure();
    // Keys the eviction write in flight carries are newer there than in the store: taken from it.
    const writing = this.writing?.values;
    let read = storeKeys;
    if (writing !== undefined) {
      read = [];
      let kept = 0;
      for (let i = 0; i < storeKeys.length; i++) {
        const k = storeKeys[i] as string;
        const v = writing.get(k);
        if (v !== undefined) owners[i]?.loadMissing(ids[i] as Key, v ?? undefined);
        else {
          read.push(k);
          owners[kept] = owners[i] as StateTable<unknown>;
          ids[kept++] = ids[i] as Key;
        }
      }
      if (read.length === 0) return;
    }
    const values = await this.store.getMany(read);
    for (let i = 0; i < values.length; i++) owners[i]?.loadMissing(ids[i] as Key, values[i]);
  }

  /** Resolves once no eviction write is in flight; throws what made one fail. */
  private async quiet(): Promise<void> {
    do await this.settle();
    while (this.writing !== undefined);
  }

  /** Writes entries drained from the caches: counted as the backend's own, so coverage and the key filter hold. */
  private writeDrained(puts: [string, Uint8Array][], dels: string[]): Promise<void> {
    this.coverage.countOwnWrite(puts.length, dels.length);
    return this.store.write(puts, dels);
  }

  /** Waits for the eviction write in flight, if any; throws what made it fail. */
  private async settle(): Promise<void> {
    if (this.writing) await this.writing.done;
    this.throwWriteFailure();
  }

  private throwWriteFailure(): void {
    if (this.writeFailure !== undefined) throw this.writeFailure;
  }

  /** Entries held in memory across tables. */
  get cachedEntries(): number {
    let n = 0;
    for (const t of this.tables) n += t.size;
    return n;
  }

  /** Writes every dirty entry (plus `extra` puts, e.g. checkpoint metadata) in one batch. */
  async flush(extra: [string, Uint8Array][] = []): Promise<void> {
    await this.settle();
    const { puts, dels } = this.drainForWrite(extra);
    await this.writeDrained(puts, dels);
  }

  /** Every dirty entry plus `extra` as one write batch; with a changelog, remembered for it and marked dirty. */
  private drainForWrite(extra: [string, Uint8Array][]): StateChanges {
    const puts: [string, Uint8Array][] = [...extra];
    const dels: string[] = [];
    for (const t of this.tables) t.drainDirty(puts, dels);
    if (this.trackChanges && puts.length + dels.length > extra.length) {
      // Written ahead of the changelog: remember the changes for it, and mark the store as
      // holding uncommitted writes so a crash before the next checkpoint rebuilds it.
      for (let i = extra.length; i < puts.length; i++) this.evicted.set((puts[i] as [string, Uint8Array])[0], (puts[i] as [string, Uint8Array])[1]);
      for (const k of dels) this.evicted.set(k, null);
      puts.push([DIRTY_KEY, new Uint8Array(0)]);
    }
    return { puts, dels };
  }

  /**
   * Hands over every change since the last call (dirty cached entries and those evictions
   * wrote early) without writing them: the caller records them in its changelog first, then
   * applies them with `applyChanges`.
   */
  drainChanges(): StateChanges {
    const puts: [string, Uint8Array][] = [];
    const dels: string[] = [];
    for (const t of this.tables) t.drainDirty(puts, dels);
    if (this.evicted.size > 0) {
      const fresh = new Set<string>([...puts.map((p) => p[0]), ...dels]);
      for (const [k, v] of this.evicted) {
        if (fresh.has(k)) continue;
        if (v === null) dels.push(k);
        else puts.push([k, v]);
      }
      this.evicted.clear();
    }
    return { puts, dels };
  }

  /** Writes drained changes plus runtime entries (a checkpoint marker) in one batch, clearing the dirty mark. */
  async applyChanges(changes: StateChanges, extra: [string, Uint8Array][]): Promise<void> {
    await this.settle();
    await this.writeDrained([...changes.puts, ...extra], [...changes.dels, DIRTY_KEY]);
  }

  /** Reads one runtime entry (a checkpoint marker); undefined when absent or for heap state. */
  async readReserved(key: string): Promise<Uint8Array | undefined> {
    if (!this.store.persistent) return undefined;
    await this.settle();
    const [v] = await this.store.getMany([key]);
    return v;
  }

  /**
   * When the cache holds more than its bound: writes the dirty entries in the background, then
   * forgets the oldest-loaded half (each table keeps its newest entries, which the next batches
   * most likely touch again). Rounds go on while LevelDB writes; until the write lands, reads of
   * its keys are served from its batch, and every other call that writes or reads the store
   * waits for it. Called between batches only, so no prefetched key of a running batch is dropped.
   */
  async maybeEvict(): Promise<boolean> {
    if (!this.store.persistent) return false;
    for (const o of this.timerOwners) o.spill?.();
    const total = this.cachedEntries;
    if (total <= this.maxCached) return false;
    // Over the bound while a checkpoint writes: wait for it (backpressure) rather than let the
    // cache grow with every key a round brings until checkpoints stop overlapping.
    const checkpointWriting = this.evictableAfter();
    if (checkpointWriting !== undefined) {
      this.evictionWaits++;
      await checkpointWriting;
    }
    await this.settle();
    this.evictions++;
    const { puts, dels } = this.drainForWrite([]);
    const values = new Map<string, Uint8Array | null>();
    for (const [k, v] of puts) values.set(k, v);
    for (const k of dels) values.set(k, null);
    const writing = {
      values,
      done: this.writeDrained(puts, dels).then(
        () => {
          if (this.writing === writing) this.writing = undefined;
        },
        (err: unknown) => {
          this.writeFailure = err instanceof Error ? err : new StateStoreError(`state store write failed: ${String(err)}`);
        },
      ),
    };
    this.writing = writing;
    this.coverage.lose();
    const keepRatio = this.maxCached / 2 / total;
    for (const t of this.tables) t.evict(Math.floor(t.size * keepRatio));
    return true;
  }

  /**
   * Up to `limit` keys of `table` with a value after `after`, in store order: the store's (once
   * the eviction in flight landed) overlaid with the table's cache, which is newer.
   */
  async scanTable(table: StateTable<unknown>, after: string | undefined, limit: number): Promise<TableSlice> {
    const stored: string[] = [];
    let storeDone = true;
    if (this.store.persistent) {
      await this.settle();
      const from = after === undefined ? undefined : table.prefix + after;
      // A chunk may be shorter than asked without being the last: only the scan's end says so.
      for await (const chunk of this.store.scan(table.prefix, limit, from)) {
        for (const [k] of chunk) stored.push(k.slice(table.prefix.length));
        if (stored.length >= limit) {
          storeDone = false;
          break;
        }
      }
    }
    return table.sliceAfter(after, stored, storeDone, limit);
  }

  /** Every keyed entry of the task in store form, in chunks of at most `size` (flushes first; streams LevelDB). */
  async *entryChunks(size = 32_768): AsyncGenerator<[string, Uint8Array][]> {
    if (!this.store.persistent) {
      const all: [string, Uint8Array][] = [];
      for (const t of this.tables) t.exportAll(all);
      for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
      return;
    }
    await this.flush();
    // Saved timers are not keyed entries; checkpoints carry timers separately.
    for await (const chunk of this.store.scan("", size)) {
      const keyed = chunk.filter((e) => !e[0].startsWith(RESERVED_PREFIX) && !isTimersKey(e[0]));
      if (keyed.length > 0) yield keyed;
    }
  }

  /**
   * Loads entries of a snapshot (one chunk at a time) into a fresh backend, after the operators
   * declared their tables. Returns the entries whose operator state no longer exists. With a
   * changelog, the store is marked as holding writes no checkpoint covers until the restore's
   * own checkpoint commits them.
   */
  async importEntries(entries: [string, Uint8Array][]): Promise<string[]> {
    await this.settle();
    const byPrefix = new Map(this.tables.map((t) => [t.prefix, t]));
    const unknown: string[] = [];
    const known: [string, Uint8Array][] = [];
    let table: StateTable<unknown> | undefined;
    for (const e of entries) {
      // Entries come in runs of one table: look it up once per run.
      if (table === undefined || !e[0].startsWith(table.prefix)) table = byPrefix.get(tablePrefixOf(e[0]));
      if (!table) unknown.push(e[0]);
      else if (this.store.persistent) known.push(e);
      else table.load(table.keyOf(e[0].slice(table.prefix.length)), e[1]);
    }
    if (known.length > 0) await this.store.write(this.trackChanges ? [...known, [DIRTY_KEY, new Uint8Array(0)]] : known, []);
    return unknown;
  }

  /**
   * Rewrites the stored entries under `prefix` (an operator's, or one of its tables'): `convert`
   * returns the new encoded value, or null to delete the entry. Persistent stores are streamed
   * chunk by chunk (marked dirty first, as imports are); heap tables are converted in place.
   * `record` gets each chunk of changes (for the changelog).
   */
  async rewrite(
    prefix: string,
    convert: (key: string, value: Uint8Array) => Uint8Array | null,
    record?: (changes: StateChanges) => Promise<void>,
  ): Promise<void> {
    if (!this.store.persistent) {
      for (const t of this.tables) {
        if (!t.prefix.startsWith(prefix)) continue;
        const all: [string, Uint8Array][] = [];
        t.exportAll(all);
        const changes = convertEntries(all, convert);
        for (const [k, v] of changes.puts) t.load(t.keyOf(k.slice(t.prefix.length)), v);
        for (const k of changes.dels) t.forget(t.keyOf(k.slice(t.prefix.length)));
        await record?.(changes);
      }
      return;
    }
    await this.settle();
    await this.store.write([[DIRTY_KEY, new Uint8Array(0)]], []);
    for await (const chunk of this.store.scan(prefix, 32_768)) {
      const changes = convertEntries(chunk, convert);
      await this.store.write(changes.puts, changes.dels);
      await record?.(changes);
    }
  }

  /** Flushes and closes the store. */
  async close(): Promise<void> {
    await this.coverage.stop();
    const timers: [string, Uint8Array][] = this.store.persistent
      ? this.timerOwners.map((o): [string, Uint8Array] => [timersKey(o.uid), encodeValue(o.snapshot())])
      : [];
    await this.flush(timers);
    await this.store.close();
  }
}
