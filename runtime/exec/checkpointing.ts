/**
 * Local checkpoints and restore. A checkpoint is taken between rounds, when no record is in
 * flight: sinks prepare (phase one), every task's keyed state and timers and every source
 * position go to a checkpoint directory whose metadata is written last, then sinks commit
 * (phase two). Restore maps state by operator uid and re-splits keys by hash over the current
 * number of tasks, then re-commits the checkpoint's prepared output (commits are idempotent).
 */
import type { Key } from "../api/functions.ts";
import type { SourceReader } from "../connectors/types.ts";
import {
  FORMAT_VERSION,
  parseStoreKey,
  pruneCheckpoints,
  writeCheckpoint,
  writeSnapshot,
  type CheckpointMetadata,
  type TaskSnapshot,
  type TimerSnapshot,
} from "../checkpoint/format.ts";
import { CheckpointError } from "../errors.ts";
import type { JobGraph } from "../graph/graph.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import { decodeKey } from "../state/table.ts";
import type { PartitionWatermarks } from "../time/watermarks.ts";
import { taskOfKey } from "./hash.ts";
import type { Instance } from "./instance.ts";

/** One source partition as the engine drives it. */
export interface SourceTask {
  /** Source operator uid. */
  uid: string;
  /** Partition index (= task index). */
  partition: number;
  /** The source's instance (routing). */
  inst: Instance;
  /** Reader, absent when the source has no such partition. */
  reader: SourceReader<unknown> | undefined;
  /** Watermark generator. */
  gen: PartitionWatermarks;
  /** Timestamp assigner. */
  timestamp: ((v: unknown) => number) | undefined;
  /** True once the partition ended. */
  done: boolean;
  /** Not read while set (a savepoint drains the job's internal topics first). */
  paused?: boolean;
  /** The partition's current watermark (its generator's, or the one the source carries). */
  watermark(): number;
  /** Whether the partition is idle now. */
  idle(now: number): boolean;
}

/** What checkpointing needs from the engine. */
export interface EngineState {
  /** The job. */
  graph: JobGraph;
  /** Number of tasks. */
  parallelism: number;
  /** The tasks this engine runs, ascending (all of them in local mode). */
  tasks: readonly number[];
  /** Source partitions. */
  sources: SourceTask[];
  /** Instances by node id, then task. */
  instances: Instance[][];
  /** Keyed state by task (only tasks this engine runs). */
  backends: KeyedStateBackend[];
  /** Restore skips state of operators the job no longer has instead of failing. */
  allowNonRestoredState?: boolean;
}

/** The pending timers of task `t` by operator uid (operators without timers left out). */
export function taskTimers(engine: EngineState, t: number): Record<string, TimerSnapshot> {
  const timers: Record<string, TimerSnapshot> = {};
  for (const node of engine.graph.nodes) {
    const snap = engine.instances[node.id]?.[t]?.op.snapshotTimers?.();
    if (snap && (snap.event.length > 0 || snap.processing.length > 0)) timers[node.uid] = snap;
  }
  return timers;
}

/**
 * Takes checkpoint `id` into `root` (keeping the newest `retain`), or with `savepointDir` a
 * savepoint: the same content in a directory the user owns and the runtime never prunes.
 */
export async function takeCheckpoint(
  engine: EngineState,
  options: { id: number } & ({ root: string; retain: number } | { savepointDir: string }),
): Promise<string> {
  const { graph, parallelism } = engine;
  const sinks: Record<string, unknown[]> = {};
  for (const node of graph.nodes) {
    if (node.spec.kind !== "sink") continue;
    const prepared: unknown[] = [];
    for (const inst of engine.instances[node.id] ?? []) prepared.push(await inst.op.prepareCommit?.(options.id));
    sinks[node.uid] = prepared;
  }
  const tasks: TaskSnapshot[] = [];
  for (const t of engine.tasks) {
    const operators: Record<string, unknown> = {};
    // Broadcast state is identical on every task: the first task's copy is enough.
    if (t === engine.tasks[0]) {
      for (const node of graph.nodes) {
        const op = engine.instances[node.id]?.[t]?.op;
        if (op?.snapshotOperatorState) operators[node.uid] = op.snapshotOperatorState();
      }
    }
    tasks[t] = { entries: await (engine.backends[t] as KeyedStateBackend).exportEntries(), timers: taskTimers(engine, t), operators };
  }
  const sources: Record<string, unknown[]> = {};
  const sourceMaxTimestamps: Record<string, number[]> = {};
  for (const s of engine.sources) {
    if (!s.reader) continue;
    (sources[s.uid] ??= [])[s.partition] = s.reader.position();
    (sourceMaxTimestamps[s.uid] ??= [])[s.partition] = s.gen.maxTimestamp;
  }
  const meta: CheckpointMetadata = {
    version: FORMAT_VERSION,
    kind: "savepointDir" in options ? "savepoint" : "checkpoint",
    job: graph.name,
    id: options.id,
    createdAt: new Date().toISOString(),
    parallelism,
    operators: graph.nodes.map((n) => ({ uid: n.uid, kind: n.spec.kind })),
    sources,
    sourceMaxTimestamps,
    sinks,
  };
  const dir = "savepointDir" in options ? await writeSnapshot(options.savepointDir, meta, tasks) : await writeCheckpoint(options.root, meta, tasks);
  await commitSinks(engine, meta);
  if ("root" in options) await pruneCheckpoints(options.root, options.retain);
  return dir;
}

/** Phase two: publishes the prepared sink output of a completed checkpoint. */
export async function commitSinks(engine: EngineState, meta: CheckpointMetadata): Promise<void> {
  for (const node of engine.graph.nodes) {
    const prepared = meta.sinks[node.uid];
    const insts = engine.instances[node.id];
    if (!prepared || !insts) continue;
    for (const [t, p] of prepared.entries()) {
      if (p === undefined || p === null) continue;
      await (insts[Math.min(t, insts.length - 1)] as Instance).op.commit?.(meta.id, p);
    }
  }
}

/**
 * Loads a checkpoint's keyed state and timers into freshly opened operators, re-split by key
 * over the current tasks (keeping the keys of the tasks this engine runs). Throws when state
 * belongs to an operator uid the job no longer has.
 */
export async function restoreState(engine: EngineState, snapshot: { meta: CheckpointMetadata; tasks: TaskSnapshot[] }): Promise<void> {
  const { parallelism, graph } = engine;
  const uids = new Map(graph.nodes.map((n) => [n.uid, n.id]));
  const entries: [string, Uint8Array][][] = Array.from({ length: parallelism }, () => []);
  const allow = engine.allowNonRestoredState === true;
  const hint = "; if that operator was removed on purpose, restore with allowNonRestoredState (runnel worker --allow-non-restored-state)";
  for (const task of snapshot.tasks) {
    if (!task) continue; // a savepoint of a task subset
    for (const e of task.entries) {
      const { uid, encodedKey } = parseStoreKey(e[0]);
      if (!uids.has(uid)) {
        if (allow) continue;
        throw new CheckpointError(`checkpoint ${snapshot.meta.id} has state of operator '${uid}', which this job does not have${hint}`, false);
      }
      entries[taskOfKey(decodeKey(encodedKey), parallelism)]?.push(e);
    }
    for (const [uid, timers] of Object.entries(task.timers)) {
      const id = uids.get(uid);
      if (id === undefined) {
        if (allow) continue;
        throw new CheckpointError(`checkpoint ${snapshot.meta.id} has timers of unknown operator '${uid}'${hint}`, false);
      }
      const split = (list: [number, Key][], t: number) => list.filter(([, k]) => taskOfKey(k, parallelism) === t);
      for (const t of engine.tasks) {
        engine.instances[id]?.[t]?.op.restoreTimers?.({ event: split(timers.event, t), processing: split(timers.processing, t) });
      }
    }
  }
  for (const task of snapshot.tasks) {
    for (const [uid, state] of Object.entries(task?.operators ?? {})) {
      const id = uids.get(uid);
      if (id === undefined) {
        if (allow) continue;
        throw new CheckpointError(`checkpoint ${snapshot.meta.id} has state of unknown operator '${uid}'${hint}`, false);
      }
      for (const t of engine.tasks) engine.instances[id]?.[t]?.op.restoreOperatorState?.(state);
    }
  }
  for (const t of engine.tasks) {
    const unknown = await (engine.backends[t] as KeyedStateBackend).importEntries(entries[t] as [string, Uint8Array][]);
    if (unknown.length > 0) {
      const { uid, state } = parseStoreKey(unknown[0] as string);
      throw new CheckpointError(`checkpoint ${snapshot.meta.id}: state '${state}' of operator '${uid}' is not declared by the job`, false);
    }
  }
  await commitSinks(engine, snapshot.meta);
}
