/**
 * Savepoints of distributed jobs. Each worker writes its tasks' snapshots (every keyed entry by
 * operator uid, timers, source positions) and a partial metadata file naming the tasks it
 * wrote; a savepoint is complete when the partials cover every task. Reading merges the
 * partials into the local checkpoint format (ADR 7), so restore maps state by operator uid and
 * re-splits keys over however many tasks the restored job has. Storage is an interface; the
 * filesystem one is a folder (a shared volume on Kubernetes).
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { FORMAT_VERSION, type CheckpointMetadata, type TaskSnapshot } from "../checkpoint/format.ts";
import { CheckpointError } from "../errors.ts";

/** Where one savepoint's files live. */
export interface SavepointStorage {
  /** Human-readable location (a path or URL). */
  readonly location: string;
  /** Writes a file atomically (readers never see half of it). */
  write(name: string, data: Uint8Array | string): Promise<void>;
  /** Reads a file. */
  read(name: string): Promise<Buffer>;
  /** Names of the files present. */
  list(): Promise<string[]>;
  /** Deletes the savepoint. */
  dispose(): Promise<void>;
}

/** A savepoint in a folder. */
export function fileSavepointStorage(dir: string): SavepointStorage {
  return {
    location: dir,
    async write(name, data) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${name}.tmp`), data);
      await rename(join(dir, `${name}.tmp`), join(dir, name));
    },
    read: (name) => readFile(join(dir, name)),
    list: async () => (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.endsWith(".tmp")),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** What one worker contributes to a savepoint's metadata. */
export interface WorkerSavepointMeta {
  version: number;
  kind: "savepoint";
  job: string;
  /** Savepoint id (the same on every worker). */
  id: string;
  createdAt: string;
  /** Tasks of the job. */
  parallelism: number;
  /** Tasks this worker wrote. */
  tasks: number[];
  /** Operator uids and kinds of the job. */
  operators: { uid: string; kind: string }[];
  /** Positions of the job's own inputs by source uid and task (internal topics are drained, not positioned). */
  sources: Record<string, Record<number, unknown>>;
  /** Watermark generator state by source uid and task. */
  sourceMaxTimestamps: Record<string, Record<number, number>>;
}

const partialName = (ordinal: number): string => `_metadata.w${ordinal}.json`;

/** Writes one worker's task snapshots, then its metadata (last: a partial without tasks never counts). */
export async function writeWorkerSavepoint(
  storage: SavepointStorage,
  ordinal: number,
  meta: WorkerSavepointMeta,
  snapshots: Map<number, TaskSnapshot>,
): Promise<void> {
  try {
    for (const [t, snap] of snapshots) await storage.write(`task-${t}.bin`, serialize(snap));
    await storage.write(partialName(ordinal), JSON.stringify(meta, null, 2));
  } catch (err) {
    throw new CheckpointError(`cannot write savepoint ${meta.id} to ${storage.location}`, true, err);
  }
}

/** The partial metadata files written so far (one per worker that finished its share). */
export async function readPartials(storage: SavepointStorage): Promise<WorkerSavepointMeta[]> {
  const partials: WorkerSavepointMeta[] = [];
  for (const n of (await storage.list()).filter((x) => /^_metadata\.w\d+\.json$/.test(x)))
    partials.push(JSON.parse((await storage.read(n)).toString("utf8")) as WorkerSavepointMeta);
  return partials;
}

/** The tasks of savepoint `id` no partial covers yet (all of them while none is written). */
export async function unwrittenTasks(storage: SavepointStorage, id: string, parallelism: number): Promise<number[]> {
  const covered = new Set((await readPartials(storage)).filter((p) => p.id === id).flatMap((p) => p.tasks));
  return Array.from({ length: parallelism }, (_, t) => t).filter((t) => !covered.has(t));
}

/** Reads a complete savepoint as the engine restores it; fails naming the missing tasks when incomplete. */
export async function readSavepoint(storage: SavepointStorage): Promise<{ id: string; meta: CheckpointMetadata; tasks: TaskSnapshot[] }> {
  const partials = await readPartials(storage);
  if (partials.length === 0) throw new CheckpointError(`${storage.location} holds no savepoint (no _metadata.w<n>.json)`, false);
  const first = partials[0] as WorkerSavepointMeta;
  if (partials.some((p) => p.version > FORMAT_VERSION))
    throw new CheckpointError(`savepoint ${storage.location} has a newer format than this runtime reads (${FORMAT_VERSION})`, false);
  if (partials.some((p) => p.id !== first.id || p.parallelism !== first.parallelism))
    throw new CheckpointError(`${storage.location} mixes parts of different savepoints`, false);
  const covered = new Set(partials.flatMap((p) => p.tasks));
  const missing = Array.from({ length: first.parallelism }, (_, t) => t).filter((t) => !covered.has(t));
  if (missing.length > 0)
    throw new CheckpointError(
      `savepoint ${first.id} in ${storage.location} is incomplete: tasks ${missing.join(",")} were not written (did every worker finish it?)`,
      false,
    );
  const meta: CheckpointMetadata = {
    version: FORMAT_VERSION,
    kind: "savepoint",
    job: first.job,
    id: -1,
    createdAt: first.createdAt,
    parallelism: first.parallelism,
    operators: first.operators,
    sources: {},
    sourceMaxTimestamps: {},
    sinks: {},
  };
  for (const p of partials) {
    for (const [uid, byTask] of Object.entries(p.sources)) for (const [t, pos] of Object.entries(byTask)) (meta.sources[uid] ??= [])[Number(t)] = pos;
    for (const [uid, byTask] of Object.entries(p.sourceMaxTimestamps))
      for (const [t, ts] of Object.entries(byTask)) (meta.sourceMaxTimestamps[uid] ??= [])[Number(t)] = ts;
  }
  const tasks: TaskSnapshot[] = [];
  for (let t = 0; t < first.parallelism; t++) tasks[t] = deserialize(await storage.read(`task-${t}.bin`)) as TaskSnapshot;
  return { id: first.id, meta, tasks };
}
