/**
 * The snapshot model, one for every store, and the checkpoint (and savepoint) format of local
 * mode. A task's snapshot is its keyed state (entries by operator uid, state name and key,
 * streamed in chunks), its timers, its operator (broadcast) state and the schemas of its state;
 * the metadata holds positions and sink commit data. Local mode writes a directory per
 * checkpoint (task files, see task-files.ts, then a `_metadata.json` by atomic rename — a
 * checkpoint without metadata never completed); distributed savepoints write the same task
 * files; the Kafka changelog holds the same parts as records. Keys are stored with their
 * operator uid, so a restore can map state by uid and re-split it over a different number of tasks.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Key } from "../api/functions.ts";
import { CheckpointError } from "../errors.ts";
import type { StateSchema } from "../state/schema.ts";
import { folderStorage } from "./storage.ts";
import { CHUNK_ENTRIES, readTaskFiles, writeTaskFiles } from "./task-files.ts";

/** Format version written into metadata; readers refuse newer versions (2: chunked task files, state schemas). */
export const FORMAT_VERSION = 2;

/** A keyed state entry in store form: [store key (uid \0 state \0 encoded key), encoded value]. */
export type StoreEntry = [string, Uint8Array];

/** Timers of one keyed operator as [timestamp, key] pairs. */
export interface TimerSnapshot {
  /** Event-time timers. */
  event: [number, Key][];
  /** Processing-time timers. */
  processing: [number, Key][];
  /** Where the operator's stored timers begin, per domain: those at or after it are keyed entries of its timer tables (ADR 34). */
  horizon?: { event?: number; processing?: number };
}

/** Everything one task contributes to a snapshot. */
export interface TaskSnapshot {
  /** Keyed state entries in chunks of bounded size (read lazily). */
  entries(): AsyncIterable<StoreEntry[]>;
  /** How many keyed entries there are, when known without reading them. */
  entryCount?: number;
  /** The task count its keys were split over when it was written (its index in the snapshot is its task): a restore onto as many tasks keeps them there. */
  splitOver?: number;
  /** Timers by operator uid. */
  timers: Record<string, TimerSnapshot>;
  /** Non-keyed operator state (broadcast state, the same on every task) by operator uid. */
  operators?: Record<string, unknown>;
  /** The schema of each operator's state as it was written (absent in snapshots older than schemas: nothing is checked). */
  schemas?: Record<string, StateSchema>;
  /** The keyed state is already in the store of the task with this snapshot's index (a replayed changelog): restore checks and migrates it there. */
  inStore?: boolean;
  /** The keyed state is already held by the checkpointer's own durable store: restore records only what it changes (migrations, drops). */
  durable?: boolean;
}

/** A snapshot: metadata plus task snapshots (any tasks; restore re-splits keys over its own). */
export interface Snapshot {
  meta: CheckpointMetadata;
  tasks: (TaskSnapshot | undefined)[];
}

/** Keyed entries held in memory, as TaskSnapshot.entries. */
export function inlineEntries(entries: StoreEntry[], chunk = CHUNK_ENTRIES): () => AsyncIterable<StoreEntry[]> {
  return async function* () {
    for (let i = 0; i < entries.length; i += chunk) yield entries.slice(i, i + chunk);
  };
}

/** Keyed entries of no task. */
export const noEntries = inlineEntries([]);

/** Checkpoint metadata: positions and commit data, everything but keyed state. */
export interface CheckpointMetadata {
  /** Format version. */
  version: number;
  /** A periodic checkpoint (owned and pruned by the runtime) or a savepoint (owned by the user). */
  kind: "checkpoint" | "savepoint";
  /** Job name. */
  job: string;
  /** Checkpoint id (increasing). */
  id: number;
  /** Wall-clock time it was taken. */
  createdAt: string;
  /** Number of tasks that wrote it. */
  parallelism: number;
  /** Operator uids and kinds of the graph. */
  operators: { uid: string; kind: string }[];
  /** Source positions by source uid, per partition. */
  sources: Record<string, unknown[]>;
  /** Source watermark generator state (max timestamp seen) by source uid, per partition. */
  sourceMaxTimestamps: Record<string, number[]>;
  /** Prepared (not yet committed) sink data by sink uid, per task. */
  sinks: Record<string, unknown[]>;
}

const META = "_metadata.json";

/** Name of checkpoint `id`'s directory. */
export function checkpointDirName(id: number): string {
  return `chk-${String(id).padStart(8, "0")}`;
}

/** Writes a complete snapshot (checkpoint or savepoint) into `dir`, streaming each task's entries; metadata last, atomically. */
export async function writeSnapshot(dir: string, meta: CheckpointMetadata, tasks: TaskSnapshot[]): Promise<string> {
  await writeSnapshotTasks(dir, meta, tasks);
  await writeSnapshotMetadata(dir, meta);
  return dir;
}

/** Writes the files of the given tasks (sparse: a part of the snapshot) into `dir`; the snapshot is incomplete until its metadata is written. */
export async function writeSnapshotTasks(dir: string, meta: CheckpointMetadata, tasks: TaskSnapshot[]): Promise<void> {
  const storage = folderStorage(dir);
  try {
    for (const [i, t] of tasks.entries()) if (t) await writeTaskFiles(storage, i, t);
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError(`cannot write ${meta.kind} ${meta.id} to ${dir}`, true, err);
  }
}

/** Completes a snapshot whose task files are all written: its metadata, atomically. */
export async function writeSnapshotMetadata(dir: string, meta: CheckpointMetadata): Promise<void> {
  try {
    await folderStorage(dir).write(META, JSON.stringify(meta, null, 2));
  } catch (err) {
    throw new CheckpointError(`cannot write ${meta.kind} ${meta.id} to ${dir}`, true, err);
  }
}

/** Ids of the completed checkpoints under `root`, ascending. */
export async function completedCheckpoints(root: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const ids: number[] = [];
  for (const n of names) {
    const m = /^chk-(\d+)$/.exec(n);
    if (!m) continue;
    const files = await readdir(join(root, n)).catch(() => [] as string[]);
    if (files.includes(META)) ids.push(Number(m[1]));
  }
  return ids.sort((a, b) => a - b);
}

/** Reads a checkpoint's metadata and task headers; keyed entries are read chunk by chunk when restored. */
export async function readCheckpoint(dir: string): Promise<Snapshot> {
  try {
    const meta = JSON.parse(await readFile(join(dir, META), "utf8")) as CheckpointMetadata;
    if (meta.version > FORMAT_VERSION) {
      throw new CheckpointError(`checkpoint ${dir} has format ${meta.version}; this runtime reads up to ${FORMAT_VERSION}`, false);
    }
    const storage = folderStorage(dir);
    const tasks: TaskSnapshot[] = [];
    for (let i = 0; i < meta.parallelism; i++) tasks.push({ ...(await readTaskFiles(storage, i)), splitOver: meta.parallelism });
    return { meta, tasks };
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError(`cannot read checkpoint ${dir}`, false, err);
  }
}

/** Deletes completed checkpoints beyond the newest `retain`, and incomplete ones older than the newest. */
export async function pruneCheckpoints(root: string, retain: number): Promise<void> {
  const done = await completedCheckpoints(root);
  const keep = new Set(done.slice(-retain));
  const newest = done.at(-1) ?? -1;
  for (const n of await readdir(root).catch(() => [] as string[])) {
    const m = /^chk-(\d+)$/.exec(n);
    if (!m) continue;
    const id = Number(m[1]);
    if (!keep.has(id) && id <= newest) await rm(join(root, n), { recursive: true, force: true });
  }
}

/** Splits a store key into operator uid, state name and key. */
export function parseStoreKey(storeKey: string): { uid: string; state: string; encodedKey: string } {
  const a = storeKey.indexOf("\u0000");
  const b = storeKey.indexOf("\u0000", a + 1);
  return { uid: storeKey.slice(0, a), state: storeKey.slice(a + 1, b), encodedKey: storeKey.slice(b + 1) };
}
