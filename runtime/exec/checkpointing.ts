/**
 * Local checkpoints and restore. A checkpoint is taken between rounds, when no record is in
 * flight: sinks prepare (phase one), every task's keyed state and timers and every source
 * position go to a checkpoint directory whose metadata is written last, then sinks commit
 * (phase two). Restore maps state by operator uid and re-splits keys by hash over the current
 * number of tasks, then re-commits the checkpoint's prepared output (commits are idempotent).
 */
import { join } from "node:path";
import type { Key } from "../api/functions.ts";
import type { SourceReader } from "../connectors/types.ts";
import {
  FORMAT_VERSION,
  parseStoreKey,
  checkpointDirName,
  pruneCheckpoints,
  writeSnapshot,
  writeSnapshotTasks,
  type CheckpointMetadata,
  type Snapshot,
  type StoreEntry,
  type TaskSnapshot,
  type TimerSnapshot,
} from "../checkpoint/format.ts";
import { CHUNK_ENTRIES } from "../checkpoint/task-files.ts";
import { CheckpointError } from "../errors.ts";
import type { JobGraph } from "../graph/graph.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import type { StateChanges } from "../state/changes.ts";
import { decodeValue, encodeValue } from "../state/codec.ts";
import { IncompatibleState, planRestore, type RestorePlan, type StateAction } from "../state/schema.ts";
import { decodeKey } from "../state/table.ts";
import type { PartitionWatermarks } from "../time/watermarks.ts";
import { taskOfKey } from "./hash.ts";
import type { Instance } from "./instance.ts";
import type { EnginePeers } from "./peers.ts";
import { stateLayouts, stateSchemas } from "./state-layouts.ts";

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
  /**
   * Whether its records count as read by this process: false for a partition of a replicated
   * (broadcast) node whose task another process or thread owns — every one of them reads it, its
   * owner counts it, so the job's records-in adds up across them.
   */
  counted: boolean;
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
  /** Operator uids whose state, when incompatible with the job (a changed window), is dropped on restore instead of refused. */
  dropIncompatibleState?: readonly string[];
  /** Nodes every process runs for every task (the inputs of broadcast edges): all their positions go with each task's snapshot. */
  replicated?: ReadonlySet<number>;
  /** Engines running the other tasks in this process: each writes its tasks' part of a local checkpoint, the coordinator completes it. */
  peers?: EnginePeers;
}

/** The pending timers of task `t` by operator uid (operators without timers left out). */
export function taskTimers(engine: EngineState, t: number): Record<string, TimerSnapshot> {
  const timers: Record<string, TimerSnapshot> = {};
  for (const node of engine.graph.nodes) {
    const snap = engine.instances[node.id]?.[t]?.op.snapshotTimers?.();
    if (snap && (snap.event.length > 0 || snap.processing.length > 0 || snap.horizon !== undefined)) timers[node.uid] = snap;
  }
  return timers;
}

/** Uids of the sources every process reads in full (the inputs of broadcast edges). */
export function replicatedUids(engine: EngineState): Set<string> {
  return new Set(engine.graph.nodes.filter((n) => n.spec.kind === "source" && engine.replicated?.has(n.id)).map((n) => n.uid));
}

/** The operator (broadcast) state of task `t` by operator uid. */
export function operatorStates(engine: EngineState, t: number): Record<string, unknown> {
  const operators: Record<string, unknown> = {};
  for (const node of engine.graph.nodes) {
    const op = engine.instances[node.id]?.[t]?.op;
    if (op?.snapshotOperatorState) operators[node.uid] = op.snapshotOperatorState();
  }
  return operators;
}

/**
 * The snapshot of task `t` as every store writes it: keyed entries streamed from its backend,
 * timers, state schemas and (when `operators`) its operator state — broadcast state is the same
 * on every task, so one task's copy is enough.
 */
export function taskSnapshot(engine: EngineState, t: number, options: { operators: boolean }): TaskSnapshot {
  const backend = engine.backends[t] as KeyedStateBackend;
  return {
    entries: () => backend.entryChunks(CHUNK_ENTRIES),
    timers: taskTimers(engine, t),
    operators: options.operators ? operatorStates(engine, t) : {},
    schemas: stateSchemas(engine.graph),
  };
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
  const owned = new Set(engine.tasks);
  const sinks: Record<string, unknown[]> = {};
  for (const node of graph.nodes) {
    if (node.spec.kind !== "sink") continue;
    const prepared: unknown[] = [];
    for (const inst of engine.instances[node.id] ?? []) prepared[inst.task] = owned.has(inst.task) ? await inst.op.prepareCommit?.(options.id) : undefined;
    sinks[node.uid] = prepared;
  }
  const tasks: TaskSnapshot[] = [];
  for (const t of engine.tasks) tasks[t] = taskSnapshot(engine, t, { operators: t === engine.tasks[0] });
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
  const dir = "savepointDir" in options ? options.savepointDir : join(options.root, checkpointDirName(options.id));
  if (engine.peers) {
    // This engine's tasks only: the coordinator writes the metadata once every engine's part is in (and prunes).
    await writeSnapshotTasks(dir, meta, tasks);
    await engine.peers.completeSnapshot(dir, meta);
  } else {
    await writeSnapshot(dir, meta, tasks);
    if ("root" in options) await pruneCheckpoints(options.root, options.retain);
  }
  await commitSinks(engine, meta);
  return dir;
}

/** Phase two: publishes the prepared sink output of a completed checkpoint (of the tasks this engine runs). */
export async function commitSinks(engine: EngineState, meta: CheckpointMetadata): Promise<void> {
  const owned = new Set(engine.tasks);
  for (const node of engine.graph.nodes) {
    const prepared = meta.sinks[node.uid];
    const insts = engine.instances[node.id];
    if (!prepared || !insts) continue;
    for (const [t, p] of prepared.entries()) {
      // A task beyond today's parallelism is committed by the last task (its files are the same sink's).
      const inst = insts[Math.min(t, insts.length - 1)] as Instance;
      if (p === undefined || p === null || !owned.has(inst.task)) continue;
      await inst.op.commit?.(meta.id, p);
    }
  }
}

/** Records what a restore wrote to a task's store, so the checkpointer's durable copy (the changelog) holds it too. */
export type RestoreRecorder = (task: number, changes: StateChanges) => Promise<void>;

/**
 * Loads a snapshot's keyed state, timers and operator state into freshly opened operators,
 * streaming entries chunk by chunk and re-splitting them by key over the current tasks (keeping
 * the keys of the tasks this engine runs). State is checked against the job first: state of an
 * operator uid the job no longer has is refused (or skipped with allowNonRestoredState), state
 * written under another schema is migrated when its operator knows how, else refused (or
 * dropped for the uids in dropIncompatibleState). `record` is told of every store write that
 * its durable copy does not hold yet.
 */
export async function restoreState(engine: EngineState, snapshot: Snapshot, record?: RestoreRecorder): Promise<void> {
  const { parallelism, graph } = engine;
  const uids = new Map(graph.nodes.map((n) => [n.uid, n.id]));
  const allow = engine.allowNonRestoredState === true;
  const hint = "; if that operator was removed on purpose, restore with allowNonRestoredState (runnel worker --allow-non-restored-state)";
  const unknownOperator = (uid: string, what: string): CheckpointError =>
    new CheckpointError(`checkpoint ${snapshot.meta.id} has ${what} of operator '${uid}', which this job does not have${hint}`, false);
  const plans = snapshot.tasks.map((task) => (task ? restorePlan(engine, task) : undefined));
  for (const [i, task] of snapshot.tasks.entries()) {
    if (!task) continue; // a savepoint of a task subset
    const plan = plans[i] as RestorePlan;
    for (const [uid, timers] of Object.entries(task.timers)) {
      const id = uids.get(uid);
      if (id === undefined) {
        if (allow) continue;
        throw unknownOperator(uid, "timers");
      }
      if (plan.get(uid)?.kind === "drop") continue;
      const split = (list: [number, Key][], t: number) => list.filter(([, k]) => taskOfKey(k, parallelism) === t);
      for (const t of engine.tasks) {
        engine.instances[id]?.[t]?.op.restoreTimers?.({ ...timers, event: split(timers.event, t), processing: split(timers.processing, t) });
      }
    }
    for (const [uid, state] of Object.entries(task.operators ?? {})) {
      const id = uids.get(uid);
      if (id === undefined) {
        if (allow) continue;
        throw unknownOperator(uid, "state");
      }
      if (plan.get(uid)?.kind === "drop") continue;
      for (const t of engine.tasks) engine.instances[id]?.[t]?.op.restoreOperatorState?.(state);
    }
  }
  const importer = new EntryImporter(engine, snapshot.meta.id, record);
  for (const [i, task] of snapshot.tasks.entries()) {
    if (!task) continue;
    const plan = plans[i] as RestorePlan;
    if (task.inStore) {
      await migrateInStore(engine.backends[i] as KeyedStateBackend, plan, record && ((c) => record(i, c)));
      continue;
    }
    // Entries split over as many tasks as now stay in their task: no key to hash.
    const sameTask = task.splitOver === parallelism ? i : -1;
    // Entries come in key order: runs of one operator state share what is looked up per state.
    let prefix: string | undefined;
    let skip = false;
    let action: StateAction | undefined;
    let convert: ((value: unknown, key: Key) => unknown) | undefined;
    for await (const chunk of task.entries()) {
      for (const e of chunk) {
        if (prefix === undefined || !e[0].startsWith(prefix)) {
          const { uid, state, encodedKey } = parseStoreKey(e[0]);
          prefix = e[0].slice(0, e[0].length - encodedKey.length);
          skip = !uids.has(uid);
          if (skip && !allow) throw unknownOperator(uid, "state");
          action = plan.get(uid);
          convert = action?.kind === "migrate" ? action.tables[state] : undefined;
        }
        if (skip) continue;
        const key = sameTask >= 0 && !convert ? undefined : decodeKey(e[0].slice(prefix.length));
        const target = sameTask >= 0 ? sameTask : taskOfKey(key as Key, parallelism);
        if (action?.kind === "drop") {
          if (task.durable) await importer.delete(target, e[0]);
          continue;
        }
        await importer.put(target, convert ? [e[0], encodeValue(convert(decodeValue(e[1]), key as Key))] : e, !task.durable || convert !== undefined);
      }
    }
  }
  await importer.finish();
  await commitSinks(engine, snapshot.meta);
}

/** What restore does with each operator's state in one task snapshot; throws on an incompatibility not to be dropped. */
function restorePlan(engine: EngineState, task: TaskSnapshot): RestorePlan {
  const layouts = stateLayouts(engine.graph);
  const plan = planRestore({ written: task.schemas, current: layouts, drop: new Set(engine.dropIncompatibleState ?? []) });
  if (plan instanceof IncompatibleState) {
    throw new CheckpointError(
      `cannot restore the state of step '${plan.uid}': ${plan.change}, so its state would be read wrongly. Change the step back, or start that step with empty state: --drop-incompatible-state ${plan.uid} (spec.dropIncompatibleState: [${plan.uid}])`,
      false,
    );
  }
  // State in a store (a replayed changelog) of an operator the job no longer has: checked here,
  // since it is never streamed through the unknown-operator check.
  if (task.inStore) {
    for (const uid of Object.keys(task.schemas ?? {})) {
      if (layouts.has(uid)) continue;
      if (engine.allowNonRestoredState !== true)
        throw new CheckpointError(
          `the task's state has state of operator '${uid}', which this job does not have; if that operator was removed on purpose, restore with allowNonRestoredState (runnel worker --allow-non-restored-state)`,
          false,
        );
      plan.set(uid, { kind: "drop", reason: "the job no longer has it" });
    }
  }
  return plan;
}

/** Applies a restore plan to state already in a task's store: migrated tables rewritten, dropped operators deleted. */
async function migrateInStore(backend: KeyedStateBackend, plan: RestorePlan, record: ((changes: StateChanges) => Promise<void>) | undefined): Promise<void> {
  for (const [uid, action] of plan) {
    if (action.kind === "drop") await backend.rewrite(`${uid}\u0000`, () => null, record);
    if (action.kind !== "migrate") continue;
    for (const [table, convert] of Object.entries(action.tables)) {
      const prefix = `${uid}\u0000${table}\u0000`;
      await backend.rewrite(prefix, (k, v) => encodeValue(convert(decodeValue(v), decodeKey(k.slice(prefix.length)))), record);
    }
  }
}

/**
 * Imports restored entries into the tasks' backends in bounded batches, recording what the
 * checkpointer must persist. Each task has at most one batch being written while the next one
 * fills: decoding overlaps LevelDB's writing, and memory stays two batches per task.
 */
class EntryImporter {
  private readonly batches = new Map<number, { entries: StoreEntry[]; changes: StateChanges; writing: Promise<void> }>();
  private readonly engine: EngineState;
  private readonly id: number;
  private readonly record: RestoreRecorder | undefined;

  constructor(engine: EngineState, id: number, record: RestoreRecorder | undefined) {
    this.engine = engine;
    this.id = id;
    this.record = record;
  }

  private batch(task: number): { entries: StoreEntry[]; changes: StateChanges; writing: Promise<void> } | undefined {
    if (!this.engine.tasks.includes(task)) return undefined;
    let b = this.batches.get(task);
    if (!b) {
      b = { entries: [], changes: { puts: [], dels: [] }, writing: Promise.resolve() };
      this.batches.set(task, b);
    }
    return b;
  }

  /** Adds an entry for `task` (ignored when this engine does not run it); `recorded`: the durable copy lacks it. */
  async put(task: number, entry: StoreEntry, recorded: boolean): Promise<void> {
    const b = this.batch(task);
    if (!b) return;
    b.entries.push(entry);
    if (recorded && this.record) b.changes.puts.push(entry);
    if (b.entries.length >= CHUNK_ENTRIES) await this.flush(task, b);
  }

  /** Records the deletion of a dropped entry the durable copy holds. */
  async delete(task: number, key: string): Promise<void> {
    const b = this.record ? this.batch(task) : undefined;
    if (!b) return;
    b.changes.dels.push(key);
    if (b.changes.dels.length >= CHUNK_ENTRIES) await this.flush(task, b);
  }

  /** Waits for the task's batch in writing, then starts writing the filled one. */
  private async flush(task: number, b: { entries: StoreEntry[]; changes: StateChanges; writing: Promise<void> }): Promise<void> {
    await b.writing;
    const entries = b.entries;
    const changes = b.changes;
    b.entries = [];
    b.changes = { puts: [], dels: [] };
    b.writing = this.write(task, entries, changes);
    // A failure surfaces at the next flush or at finish; until then it must not count as unhandled.
    b.writing.catch(() => undefined);
  }

  private async write(task: number, entries: StoreEntry[], changes: StateChanges): Promise<void> {
    const unknown = entries.length === 0 ? [] : await (this.engine.backends[task] as KeyedStateBackend).importEntries(entries);
    if (unknown.length > 0) {
      const { uid, state } = parseStoreKey(unknown[0] as string);
      throw new CheckpointError(`checkpoint ${this.id}: state '${state}' of operator '${uid}' is not declared by the job`, false);
    }
    if (this.record && (changes.puts.length > 0 || changes.dels.length > 0)) await this.record(task, changes);
  }

  /** Imports what is left and waits for every write. */
  async finish(): Promise<void> {
    for (const [task, b] of this.batches) {
      await this.flush(task, b);
      await b.writing;
    }
  }
}
