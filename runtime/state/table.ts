/**
 * One keyed state of one operator in one task: a write-back cache in front of the task's
 * store. Reads and writes are synchronous map operations; the batch's keys are fetched
 * beforehand with one getMany, and dirty entries leave in one batch at flush.
 *
 * Each cached key has one small entry object holding its value, dirty flag and TTL stamp, so
 * an update is a single Map lookup (no separate dirty set or stamp map to hash into).
 */
import type { Key, StateTtl } from "../api/functions.ts";
import { StateNotPrefetchedError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import type { Coverage } from "./coverage.ts";
import { tableSeed, type StoreKeyFilter } from "./key-filter.ts";
import { decodeValue, encodeValue } from "./codec.ts";
import { isTimerId, timerIdKey } from "./timer-ids.ts";

/** Encodes a key so numbers and strings never collide ("1" vs 1). */
export function encodeKey(key: Key): string {
  return typeof key === "number" ? `n${key}` : `s${key}`;
}

/** Inverse of encodeKey; a spilled timer's id decodes to the key it belongs to (where a restore routes it). */
export function decodeKey(text: string): Key {
  if (text.startsWith("n")) return Number(text.slice(1));
  return isTimerId(text) ? timerIdKey(text) : text.slice(1);
}

/** A slice of a table's keys in store order: the store's overlaid with the newer cache. */
export interface TableSlice {
  /** Keys with a value, ascending. */
  keys: string[];
  /** The last key the slice covers: the next slice starts after it. */
  last: string | undefined;
  /** No key follows `last`. */
  done: boolean;
}

/** A cached key: `v` undefined means "fetched, and absent". */
interface Entry<T> {
  k: Key;
  v: T | undefined;
  /** Waiting for a flush. */
  d: boolean;
  /** Last write (or read, with updateOnRead) for TTL. */
  t: number;
  /** The store holds a value for the key (it was read from there, or a drain wrote it). */
  s: boolean;
}

/** Dirty entries at which a drain sorts them: below, sorting costs more than LevelDB saves. */
const SORT_MIN_ENTRIES = 4096;

/**
 * Orders cached entries about as the store orders their keys: numbers ("n…") before strings
 * ("s…"), numbers by value, strings by code unit. LevelDB inserts a batch key by key into its
 * memtable, a skip list: ascending keys find their place in cache, scattered ones miss it at every
 * level. 1,000,000 puts of uniform number keys took 2.3–2.5 s to write as they came and 0.55 s in
 * numeric order, which costs 0.3 s to sort (2026-12-07). Numeric order is the store's order within
 * each run of keys with as many digits, which is enough; only speed depends on it.
 */
function byKey(a: Entry<unknown>, b: Entry<unknown>): number {
  const x = a.k;
  const y = b.k;
  if (typeof x === "number") return typeof y === "number" ? x - y : -1;
  if (typeof y === "number") return 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A keyed state table with an optional TTL. */
export class StateTable<T> {
  /** Store key prefix: operator uid and state name. */
  readonly prefix: string;
  private readonly cache = new Map<Key, Entry<T>>();
  private dirty: Entry<T>[] = [];
  /** The last entry looked up: a read-modify-write of one key then costs one Map lookup. */
  private lastKey: Key | undefined;
  private lastEntry: Entry<T> | undefined;
  private readonly persistent: boolean;
  /** Dirty entries are tracked: the store persists them, or a changelog records them (heap state with changelogs). */
  private readonly tracked: boolean;
  private readonly ttl: StateTtl | undefined;
  private readonly clock: Clock;
  /** Keys are strings stored as they are (timer ids), not encoded as user keys. */
  private readonly rawKeys: boolean;
  /** What the backend knows of its store: while complete an uncached key has no state; its filter rules keys out. */
  private readonly coverage: Coverage;
  /** This table's seed in the store-key filter. */
  private readonly seed: number;

  constructor(options: {
    uid: string;
    name: string;
    persistent: boolean;
    tracked?: boolean;
    ttl?: StateTtl;
    clock: Clock;
    rawKeys?: boolean;
    coverage?: Coverage;
  }) {
    this.prefix = `${options.uid}\u0000${options.name}\u0000`;
    this.rawKeys = options.rawKeys === true;
    this.persistent = options.persistent;
    this.tracked = options.persistent || options.tracked === true;
    this.ttl = options.ttl;
    this.clock = options.clock;
    this.coverage = options.coverage ?? { complete: false, filter: undefined, filterReady: false };
    this.seed = tableSeed(this.prefix);
  }

  /** The store key suffix of `key`. */
  encode(key: Key): string {
    return this.rawKeys ? (key as string) : encodeKey(key);
  }

  /** The key of a store key suffix (inverse of encode). */
  keyOf(encoded: string): Key {
    return this.rawKeys ? encoded : decodeKey(encoded);
  }

  /** Adds a store key of this table, found in the store at a restore, to the store-key filter. */
  addStored(filter: StoreKeyFilter, storeKey: string): void {
    filter.add(this.seed, this.keyOf(storeKey.slice(this.prefix.length)));
  }

  /** Entries held in memory. */
  get size(): number {
    return this.cache.size;
  }

  /** The value of `key`, undefined when unset or expired. */
  get(key: Key): T | undefined {
    const e = this.lookup(key);
    if (e === undefined) {
      if (this.persistent && !this.coverage.complete) throw new StateNotPrefetchedError(this.prefix, key);
      return undefined;
    }
    if (this.ttl !== undefined && e.v !== undefined) {
      const now = this.clock.now();
      if (now - e.t >= this.ttl.ttlMs) {
        this.remove(key);
        return undefined;
      }
      if (this.ttl.updateOnRead === true) this.mark(e);
    }
    return e.v;
  }

  /** Sets the value of `key`. */
  put(key: Key, value: T): void {
    let e = this.lookup(key);
    if (e === undefined) {
      e = { k: key, v: value, d: false, t: 0, s: false };
      this.cache.set(key, e);
      this.lastKey = key;
      this.lastEntry = e;
    } else e.v = value;
    this.mark(e);
  }

  /** Records that the value of `key` was mutated in place. */
  touch(key: Key): void {
    const e = this.lookup(key);
    if (e !== undefined) this.mark(e);
  }

  private lookup(key: Key): Entry<T> | undefined {
    if (key === this.lastKey && this.lastEntry !== undefined) return this.lastEntry;
    const e = this.cache.get(key);
    if (e !== undefined) {
      this.lastKey = key;
      this.lastEntry = e;
    }
    return e;
  }

  private mark(e: Entry<T>): void {
    if (this.ttl !== undefined) e.t = this.clock.now();
    if (this.tracked && !e.d) {
      e.d = true;
      this.dirty.push(e);
    }
  }

  /** Removes `key`. */
  remove(key: Key): void {
    if (!this.tracked) {
      this.cache.delete(key);
      if (key === this.lastKey) this.lastEntry = undefined;
      return;
    }
    const e = this.lookup(key);
    if (e === undefined) this.put(key, undefined as T);
    else {
      e.v = undefined;
      this.mark(e);
    }
  }

  /**
   * Up to `limit` string keys with a value after `after`, in store order, from the store's keys
   * read from there (`stored`, ascending; `storeDone` when none follows them) overlaid with the
   * cache, which is newer. Cached keys beyond the last one read wait for the next slice, so
   * slices never skip one.
   */
  sliceAfter(after: string | undefined, stored: readonly string[], storeDone: boolean, limit: number): TableSlice {
    const upTo = storeDone ? undefined : stored[stored.length - 1];
    const keys = stored.filter((k) => !this.cache.has(k));
    for (const [k, e] of this.cache) {
      if (typeof k !== "string" || e.v === undefined || (after !== undefined && k <= after) || (upTo !== undefined && k > upTo)) continue;
      keys.push(k);
    }
    keys.sort();
    if (keys.length > limit) {
      keys.length = limit;
      return { keys, last: keys[limit - 1], done: false };
    }
    return { keys, last: upTo ?? keys[keys.length - 1] ?? after, done: storeDone };
  }

  /** Adds to `out` the store keys of keys[from, to) not yet cached (persistent tables only), once each. */
  missing(keys: readonly Key[], from: number, to: number, out: string[], owners: StateTable<unknown>[], ids: Key[]): void {
    if (!this.persistent) return;
    const cache = this.cache;
    const filter = this.coverage.filterReady ? this.coverage.filter : undefined;
    let seen: Set<Key> | undefined;
    for (let i = from; i < to; i++) {
      const key = keys[i] as Key;
      if (cache.has(key)) continue;
      if (filter !== undefined && !filter.mayHold(this.seed, key)) {
        // Never written to the store, or deleted from it since: absent without a read.
        this.load(key, undefined);
        continue;
      }
      seen ??= new Set();
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(this.prefix + this.encode(key));
      owners.push(this);
      ids.push(key);
    }
  }

  /** Installs a fetched value unless the key is cached already (a read overtaken by processing). */
  loadMissing(key: Key, bytes: Uint8Array | undefined): void {
    if (!this.cache.has(key)) this.load(key, bytes);
  }

  /** Installs a fetched value (undefined: absent in the store). */
  load(key: Key, bytes: Uint8Array | undefined): void {
    if (key === this.lastKey) this.lastEntry = undefined;
    if (bytes === undefined) {
      this.cache.set(key, { k: key, v: undefined, d: false, t: 0, s: false });
      return;
    }
    const stored = decodeValue(bytes);
    if (this.ttl !== undefined) {
      const [stamp, value] = stored as [number, T];
      this.cache.set(key, { k: key, v: value, d: false, t: stamp, s: true });
    } else this.cache.set(key, { k: key, v: stored as T, d: false, t: 0, s: true });
  }

  /** Drops `key` from memory without recording a change (a restore that already recorded it). */
  forget(key: Key): void {
    this.cache.delete(key);
    if (key === this.lastKey) this.lastEntry = undefined;
  }

  /** Moves dirty entries into a write batch (a large one for LevelDB in key order: see byKey). */
  drainDirty(puts: [string, Uint8Array][], dels: string[]): void {
    if (this.persistent && this.dirty.length >= SORT_MIN_ENTRIES) this.dirty.sort(byKey);
    const filter = this.coverage.filter;
    for (const e of this.dirty) {
      e.d = false;
      const storeKey = this.prefix + this.encode(e.k);
      if (e.v === undefined) {
        if (e.s) {
          filter?.remove(this.seed, e.k);
          e.s = false;
        }
        dels.push(storeKey);
        // Heap tables keep a removed key only until its deletion is recorded.
        if (!this.persistent && this.cache.get(e.k) === e) {
          this.cache.delete(e.k);
          if (e.k === this.lastKey) this.lastEntry = undefined;
        }
      } else {
        if (!e.s) {
          filter?.add(this.seed, e.k);
          e.s = true;
        }
        puts.push([storeKey, encodeValue(this.ttl === undefined ? e.v : [e.t, e.v])]);
      }
    }
    this.dirty = [];
  }

  /** Number of entries waiting for a flush. */
  get dirtyCount(): number {
    return this.dirty.length;
  }

  /** Forgets all but the `keep` most recently loaded entries; call right after a flush. */
  evict(keep = 0): void {
    if (!this.persistent) return;
    this.lastEntry = undefined;
    let drop = this.cache.size - keep;
    for (const [key, e] of this.cache) {
      if (drop-- <= 0) break;
      if (!e.d) this.cache.delete(key);
    }
  }

  /** Appends every cached entry in store form (heap tables: the whole state) to `out`. */
  exportAll(out: [string, Uint8Array][]): void {
    for (const e of this.cache.values()) {
      if (e.v === undefined) continue;
      out.push([this.prefix + this.encode(e.k), encodeValue(this.ttl === undefined ? e.v : [e.t, e.v])]);
    }
  }

  /** Every live (non-expired) entry held in memory: the whole state for heap tables. */
  *entries(): IterableIterator<[Key, T]> {
    const now = this.clock.now();
    for (const e of this.cache.values()) {
      if (e.v === undefined) continue;
      if (this.ttl !== undefined && now - e.t >= this.ttl.ttlMs) continue;
      yield [e.k, e.v];
    }
  }
}
