/**
 * Savepoints of distributed jobs. Each worker writes its tasks' snapshots (task files: keyed
 * entries in chunks, timers, operator state, state schemas; see checkpoint/task-files.ts) and a
 * partial metadata file naming the tasks it wrote; a savepoint is complete when the partials
 * cover every task. Reading merges the partials into the snapshot model (ADR 7, ADR 14), with
 * each task's entries read chunk by chunk as restore streams them, so restore maps state by
 * operator uid and re-splits keys over however many tasks the restored job has. Storage is an
 * interface; the filesystem one is a folder (a shared volume on Kubernetes).
 */
import { FORMAT_VERSION, type CheckpointMetadata, type Snapshot, type TaskSnapshot } from "../checkpoint/format.ts";
import { folderStorage, type SnapshotStorage } from "../checkpoint/storage.ts";
import { readTaskFiles, writeTaskFiles } from "../checkpoint/task-files.ts";
import { CheckpointError } from "../errors.ts";
import type { ReplicatedPositions } from "./changelog.ts";

/** Where one savepoint's files live (the snapshot storage interface). */
export type SavepointStorage = SnapshotStorage;

/** A savepoint in a folder. */
export const fileSavepointStorage: (dir: string) => SavepointStorage = folderStorage;

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
  /** The task whose snapshot holds this worker's operator (broadcast) state, and the positions of the broadcast inputs it reflects. */
  broadcast?: { task: number; inputs: Record<string, ReplicatedPositions> };
}

const partialName = (ordinal: number): string => `_metadata.w${ordinal}.json`;

/** Writes one worker's task snapshots (streaming their entries), then its metadata (last: a partial without tasks never counts). */
export async function writeWorkerSavepoint(
  storage: SavepointStorage,
  ordinal: number,
  meta: WorkerSavepointMeta,
  snapshots: Map<number, TaskSnapshot>,
): Promise<void> {
  try {
    for (const [t, snap] of snapshots) await writeTaskFiles(storage, t, snap);
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

/** Reads a complete savepoint as the engine restores it (task entries stream when iterated); fails naming the missing tasks when incomplete. */
export async function readSavepoint(storage: SavepointStorage): Promise<Snapshot & { id: string }> {
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
  // Each worker read the broadcast inputs on its own: one worker's broadcast state goes with that worker's positions of them.
  const broadcast = [...partials].sort((a, b) => Math.min(...a.tasks) - Math.min(...b.tasks)).find((p) => p.broadcast)?.broadcast;
  for (const p of [...partials, ...(broadcast ? [asByTask(broadcast.inputs)] : [])]) {
    for (const [uid, byTask] of Object.entries(p.sources)) for (const [t, pos] of Object.entries(byTask)) (meta.sources[uid] ??= [])[Number(t)] = pos;
    for (const [uid, byTask] of Object.entries(p.sourceMaxTimestamps))
      for (const [t, ts] of Object.entries(byTask)) (meta.sourceMaxTimestamps[uid] ??= [])[Number(t)] = ts;
  }
  const tasks: TaskSnapshot[] = [];
  for (let t = 0; t < first.parallelism; t++) {
    const task = { ...(await readTaskFiles(storage, t)), splitOver: first.parallelism };
    tasks[t] = broadcast === undefined || broadcast.task === t ? task : { ...task, operators: {} };
  }
  return { id: first.id, meta, tasks };
}

/** Broadcast input positions in the partial metadata's by-source-by-task form. */
function asByTask(inputs: Record<string, ReplicatedPositions>): Pick<WorkerSavepointMeta, "sources" | "sourceMaxTimestamps"> {
  const out: Pick<WorkerSavepointMeta, "sources" | "sourceMaxTimestamps"> = { sources: {}, sourceMaxTimestamps: {} };
  for (const [uid, r] of Object.entries(inputs)) {
    out.sources[uid] = r.positions;
    out.sourceMaxTimestamps[uid] = r.maxTimestamps;
  }
  return out;
}
