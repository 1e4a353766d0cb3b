/**
 * Byte-level state stores. The keyed-state layer above only ever calls `getMany` (one per
 * micro-batch) and `write` (one LevelDB batch per flush): never a per-record await.
 */
import { ClassicLevel } from "classic-level";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { StateStoreError } from "../errors.ts";

/** Counts of store calls, so tests and metrics can see the I/O pattern. */
export interface StoreStats {
  /** getMany calls. */
  getMany: number;
  /** Keys asked for by getMany. */
  keysRead: number;
  /** Batch writes. */
  batches: number;
  /** Keys put or deleted. */
  keysWritten: number;
  /** Milliseconds spent waiting for reads. */
  readMs: number;
  /** Milliseconds spent waiting for writes. */
  writeMs: number;
}

/** A sorted key-value store of one task. */
export interface StateStore {
  /** False for the heap store: its tables are the state itself and nothing is persisted. */
  readonly persistent: boolean;
  /** I/O counters. */
  readonly stats: StoreStats;
  /** Reads many keys at once. */
  getMany(keys: string[]): Promise<(Uint8Array | undefined)[]>;
  /** Applies puts and deletes atomically. */
  write(puts: [string, Uint8Array][], dels: string[]): Promise<void>;
  /** Every entry whose key starts with `prefix` (and sorts after `after`, when given), in key order, in chunks of at most `chunk` entries. */
  scan(prefix: string, chunk?: number, after?: string): AsyncIterable<[string, Uint8Array][]>;
  /** Every key of the store as it is at the call (a snapshot), in key order, in chunks of at most `chunk` keys, without reading values. */
  scanKeys(chunk?: number): AsyncIterable<string[]>;
  /** Deletes every entry (a store that cannot be trusted is rebuilt from the changelog). */
  clear(): Promise<void>;
  /** Releases the store. */
  close(): Promise<void>;
}

function emptyStats(): StoreStats {
  return { getMany: 0, keysRead: 0, batches: 0, keysWritten: 0, readMs: 0, writeMs: 0 };
}

/** The heap store: nothing to read or write (tables keep all state in memory). */
export function heapStore(): StateStore {
  return {
    persistent: false,
    stats: emptyStats(),
    getMany: async (keys) => keys.map(() => undefined),
    write: async () => {},
    scan: async function* () {},
    scanKeys: () => (async function* () {})(),
    clear: async () => {},
    close: async () => {},
  };
}

/** Keys below which one getMany is not split: a chunk's thread hand-off costs more than it saves. */
const MIN_READ_CHUNK = 1024;
/** getMany calls a read is split into at most: libuv's thread pool has four threads by default. */
const MAX_READ_CHUNKS = 4;

/**
 * Reads many keys as up to four getMany calls that run at once: classic-level serves one
 * getMany on one pool thread key after key, so a batch of cache misses waited on one core
 * (13,000 random keys of 1,000,000: 58 ms in one call, 39 ms in four, 2026-12-06).
 */
async function readSpread(db: ClassicLevel<string, Uint8Array>, keys: string[]): Promise<(Uint8Array | undefined)[]> {
  const chunks = Math.min(MAX_READ_CHUNKS, Math.floor(keys.length / MIN_READ_CHUNK));
  if (chunks <= 1) return db.getMany(keys);
  const size = Math.ceil(keys.length / chunks);
  const parts: Promise<(Uint8Array | undefined)[]>[] = [];
  for (let i = 0; i < keys.length; i += size) parts.push(db.getMany(keys.slice(i, i + size)));
  return (await Promise.all(parts)).flat();
}

/**
 * Bytes one step of a scan returns at most (besides the chunk's entry count). classic-level's
 * default, 16 KiB, cut a 65,536-key chunk to ~1,100 keys: a scan of 400,000 keys took 360 steps,
 * each waiting for a turn of a busy event loop (5 s beside a running job instead of 0.9 s).
 */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

/** The chunks of an iterator, up to `chunk` items each, until it ends; closes it however the loop over them ends. */
async function* steps<T>(it: { nextv(size: number): Promise<T[]>; close(): Promise<void> }, chunk: number): AsyncGenerator<T[]> {
  try {
    for (;;) {
      const items = await it.nextv(chunk);
      if (items.length === 0) return;
      yield items;
    }
  } finally {
    await it.close();
  }
}

/** Opens (creating if needed) the LevelDB of one task at `path`. */
export async function levelStore(options: { path: string }): Promise<StateStore> {
  await mkdir(options.path, { recursive: true });
  // A larger write buffer than LevelDB's 4 MB: checkpoint flushes are big batches.
  const db = new ClassicLevel<string, Uint8Array>(options.path, { valueEncoding: "view", writeBufferSize: 32 * 1024 * 1024 });
  try {
    await db.open();
  } catch (err) {
    throw new StateStoreError(`cannot open state store at ${options.path}`, err);
  }
  const stats = emptyStats();
  return {
    persistent: true,
    stats,
    async getMany(keys) {
      stats.getMany++;
      stats.keysRead += keys.length;
      const t0 = performance.now();
      try {
        return await readSpread(db, keys);
      } catch (err) {
        throw new StateStoreError(`state store read failed at ${options.path}`, err);
      } finally {
        stats.readMs += performance.now() - t0;
      }
    },
    async write(puts, dels) {
      if (puts.length === 0 && dels.length === 0) return;
      stats.batches++;
      stats.keysWritten += puts.length + dels.length;
      // A chained batch: no operation object per entry.
      const batch = db.batch();
      for (const [key, value] of puts) batch.put(key, value);
      for (const key of dels) batch.del(key);
      const t0 = performance.now();
      try {
        await batch.write();
      } catch (err) {
        throw new StateStoreError(`state store write failed at ${options.path}`, err);
      } finally {
        stats.writeMs += performance.now() - t0;
      }
    },
    scan(prefix, chunk = 8192, after) {
      // "\uffff" sorts after every key that starts with the prefix (keys are short strings); the
      // empty prefix is the whole store, whatever its keys' first characters.
      const upper = prefix === "" ? {} : { lt: `${prefix}\uffff` };
      const bounds = after === undefined ? { gte: prefix, ...upper } : { gt: after, ...upper };
      return steps(db.iterator({ ...bounds, highWaterMarkBytes: SCAN_CHUNK_BYTES }), chunk);
    },
    scanKeys(chunk = 8192) {
      // Created now, not at the first chunk: LevelDB takes the iterator's snapshot at its creation.
      // Not filling the block cache: the scan reads every block once.
      return steps(db.keys({ fillCache: false, highWaterMarkBytes: SCAN_CHUNK_BYTES }), chunk);
    },
    clear: () => db.clear(),
    close: () => db.close(),
  };
}

/** Deletes the task stores (`task-<n>` folders) under `dir` of tasks not in `keep`. */
export async function removeTaskStores(dir: string, keep: ReadonlySet<number>): Promise<number[]> {
  const removed: number[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = /^task-(\d+)$/.exec(name);
    if (!m || keep.has(Number(m[1]))) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(Number(m[1]));
  }
  return removed;
}
