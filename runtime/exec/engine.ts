/**
 * The single-process execution engine. It runs every task of a job in rounds: each round
 * reads one micro-batch per source partition, pushes it through chained operators, then hands
 * each exchange's buffered records to the downstream tasks as one batch (one state prefetch
 * per batch), and moves watermarks. At a round's end nothing is in flight, which is what makes
 * local checkpoints consistent without barriers. Order is fixed (task, then input order), so
 * the same input gives the same output.
 */
import { taskCount, type JobGraph } from "../graph/graph.ts";
import { planPreAggregation } from "../graph/pre-aggregate.ts";
import { validateGraph } from "../graph/validate.ts";
import { KeyedStateBackend } from "../state/backend.ts";
import { heapStore, levelStore, removeTaskStores } from "../state/store.ts";
import { systemClock, type Clock } from "../time/clock.ts";
import { MAX_WATERMARK, MIN_WATERMARK } from "../time/watermarks.ts";
import { completedCheckpoints, checkpointDirName, readCheckpoint, type Snapshot } from "../checkpoint/format.ts";
import { CheckpointError, InternalError, JobDefinitionError } from "../errors.ts";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { checkpointSchedule } from "./checkpoint-schedule.ts";
import { restoreState, type EngineState, type SourceTask } from "./checkpointing.ts";
import type { Checkpointer, TaskServices } from "./checkpointer.ts";
import type { ExchangeBuffer } from "./exchange.ts";
import type { EnginePeers } from "./peers.ts";
import { openSourceTasks, readSourceTasks } from "./sources.ts";
import { drainNode } from "./drain.ts";
import { Instance } from "./instance.ts";
import { createOperator, type JobCounters } from "./operators/index.ts";
import { wireInstances } from "./wiring.ts";

/** Where keyed state lives. */
/** Where keyed state lives; `keepTasks`: stores under `dir` of tasks other threads of this process run (left alone). */
export type StateOption = { kind: "heap" } | { kind: "level"; dir: string; maxCachedEntries?: number; keepTasks?: readonly number[] };

/** Engine settings. */
export interface EngineOptions {
  /** The job. */
  graph: JobGraph;
  /** Processing time (inject a manual clock in tests). */
  clock?: Clock;
  /** State backend; heap by default. */
  state?: StateOption;
  /** Records per source partition per round; overrides the job's batchSize. */
  batchSize?: number;
  /** Pause when a round found no input (unbounded sources), ms. */
  idleSleepMs?: number;
  /** Periodic local checkpoints (and a final one when bounded input ends). */
  checkpoint?: { dir: string; intervalMs?: number; retain?: number };
  /** Restore from this checkpoint directory, or with "latest" the newest completed one under checkpoint.dir. */
  restoreFrom?: string;
  /** The tasks this process runs (default: all); the others run elsewhere (distributed mode). */
  tasks?: readonly number[];
  /** Nodes run for every task in every process (the inputs of broadcast edges). */
  replicatedNodes?: ReadonlySet<number>;
  /** Checkpoints and restore taken over by another store (the Kafka changelog) instead of checkpoint.dir. */
  checkpointer?: { impl: Checkpointer; intervalMs?: number };
  /** What each task's operators may use beyond the graph (its transactional output). */
  taskServices?: (task: number) => TaskServices;
  /** Called by run() after every round, between rounds (savepoint coordination may checkpoint or stop here). */
  onRound?: () => Promise<void>;
  /** Restore skips state of operators the job no longer has (Flink's allowNonRestoredState) instead of failing. */
  allowNonRestoredState?: boolean;
  /** Operator uids whose state, when incompatible with the job (e.g. a changed window), restore drops instead of refusing. */
  dropIncompatibleState?: readonly string[];
  /** Engines running the other tasks in this process (threads, ADR 36): rounds, exchanges and checkpoints in lockstep with them. */
  peers?: EnginePeers;
}

/** Counters and positions for progress lines and tests. */
export interface Progress {
  /** Rounds run. */
  rounds: number;
  /** Records read from sources. */
  recordsIn: number;
  /** Records written to sinks. */
  recordsOut: number;
  /** Late records dropped. */
  lateDropped: number;
  /** Minimum watermark over sink instances. */
  watermark: number;
  /** Keyed entries in memory plus timers. */
  stateSize: number;
  /** True once every bounded source ended and everything drained. */
  finished: boolean;
  /** Checkpoints completed by this run. */
  checkpoints: number;
  /** Id of the last completed (or restored) checkpoint, -1 when none. */
  lastCheckpoint: number;
}

/** A running job. */
export interface Engine {
  /** Opens sources, state and operators. */
  open(): Promise<void>;
  /** Runs one round; returns true when it moved any record. */
  round(): Promise<boolean>;
  /** Runs rounds until the input ends or stop() is called, then closes. */
  run(): Promise<Progress>;
  /** Asks run() to stop after the current round. */
  stop(): void;
  /** Current counters. */
  progress(): Progress;
  /** Flushes state and closes everything. */
  close(): Promise<void>;
  /** Takes a checkpoint now (between rounds); returns its id. */
  checkpoint(): Promise<number>;
  /** Writes a savepoint into `dir` now (between rounds); restore it with restoreFrom: dir. */
  savepoint(dir: string): Promise<number>;
  /** Keyed state backends by task (sparse when this process runs a task subset; tests inspect their I/O counters). */
  readonly backends: KeyedStateBackend[];
  /** Number of tasks. */
  readonly parallelism: number;
  /** Sources, operator instances and owned tasks as the engine runs them; metrics read counters and positions from it when scraped (do not mutate). */
  readonly state: EngineState;
}

/** Builds an engine for a job graph. */
export function createEngine(options: EngineOptions): Engine {
  // Workers plan pre-aggregation before their repartition topics (ADR 40); an engine only when asked.
  const graph = options.graph.config.preAggregate === true ? planPreAggregation(options.graph) : options.graph;
  validateGraph(graph);
  const clock = options.clock ?? systemClock;
  const batchSize = options.batchSize ?? graph.config.batchSize ?? 4096;
  const idleSleepMs = options.idleSleepMs ?? 5;
  const parallelism = taskCount(graph);
  const owned = options.tasks ? [...options.tasks].sort((a, b) => a - b) : Array.from({ length: parallelism }, (_, t) => t);
  const ownedSet = new Set(owned);
  if (owned.some((t) => !Number.isInteger(t) || t < 0 || t >= parallelism))
    throw new InternalError(`tasks ${owned.join(",")} are not all within 0..${parallelism - 1}`);
  const replicated = options.replicatedNodes ?? new Set<number>();
  const active = (node: number, task: number): boolean => ownedSet.has(task) || replicated.has(node);
  const counters: JobCounters = { records: 0, lateDropped: 0 };
  const backends: KeyedStateBackend[] = [];
  const instances: Instance[][] = graph.nodes.map((node) =>
    Array.from({ length: parallelism }, (_, task) => new Instance({ op: createOperator(node, counters), node: node.id, task })),
  );
  const inst = (node: number, task: number): Instance => (instances[node] as Instance[])[task] as Instance;
  const sources: SourceTask[] = [];
  let recordsIn = 0;
  let rounds = 0;
  let stopped = false;
  let finished = false;
  /** Every source partition this engine reads ended (with peers, the run finishes when theirs have too). */
  let sourcesDone = false;
  const peers = options.peers;
  let opened = false;
  const engineState: EngineState = {
    graph,
    parallelism,
    tasks: owned,
    sources,
    instances,
    backends,
    allowNonRestoredState: options.allowNonRestoredState === true,
    dropIncompatibleState: options.dropIncompatibleState ?? [],
    replicated,
    ...(peers ? { peers } : {}),
  };
  const { headGroups, timed, sinks, exchanges, holding } = wireInstances(graph, parallelism, instances, active);
  peers?.attach(exchanges, ownedSet);
  const schedule = checkpointSchedule({
    state: engineState,
    clock,
    ...(options.checkpoint ? { local: options.checkpoint } : {}),
    ...(options.checkpointer ? { checkpointer: options.checkpointer } : {}),
  });
  const checkpointing = schedule.enabled;

  /** The checkpoint to restore, if any. */
  async function findRestore(): Promise<Snapshot | undefined> {
    if (options.restoreFrom === undefined) return undefined;
    if (options.restoreFrom !== "latest") return readCheckpoint(options.restoreFrom);
    if (!options.checkpoint) throw new CheckpointError("restoreFrom 'latest' needs checkpoint.dir", false);
    const id = (await completedCheckpoints(options.checkpoint.dir)).at(-1);
    return id === undefined ? undefined : readCheckpoint(join(options.checkpoint.dir, checkpointDirName(id)));
  }

  /** Opens one store per task this process runs (heap for tasks it only runs replicated nodes of). */
  async function openBackends(wipe: boolean): Promise<void> {
    const st = options.state ?? { kind: "heap" };
    const trackChanges = options.checkpointer !== undefined;
    // A process running a task subset owns only those stores: others are left from an earlier
    // ownership (a rescale moved the task away) and would be stale when the task comes back.
    if (options.tasks && st.kind === "level") await removeTaskStores(st.dir, new Set([...ownedSet, ...(st.keepTasks ?? [])]));
    for (let task = 0; task < parallelism; task++) {
      if (!graph.nodes.some((n) => active(n.id, task))) continue;
      const level = st.kind === "level" && ownedSet.has(task);
      const path = level ? `${st.dir}/task-${task}` : "";
      // A local restore starts from the checkpoint alone: the working LevelDB may hold later writes.
      if (wipe && level) await rm(path, { recursive: true, force: true });
      const store = level ? await levelStore({ path }) : heapStore();
      const maxCached = st.kind === "level" && st.maxCachedEntries ? { maxCachedEntries: st.maxCachedEntries } : {};
      // A checkpoint completing while rounds run still has to write the changes it captured.
      backends[task] = new KeyedStateBackend({ store, clock, trackChanges, ...maxCached, evictableAfter: () => schedule.whenLanded() });
    }
  }

  async function open(): Promise<void> {
    let restored: Snapshot | undefined;
    if (options.checkpointer) {
      await openBackends(false);
      restored = await options.checkpointer.impl.restore(engineState);
    } else {
      restored = await findRestore();
      await openBackends(restored !== undefined);
    }
    for (const node of graph.nodes) {
      const row = instances[node.id] as Instance[];
      sources.push(
        ...(await openSourceTasks({
          node,
          parallelism,
          clock,
          instances: row,
          meta: restored?.meta,
          active: (t) => active(node.id, t),
          owned: (t) => ownedSet.has(t),
        })),
      );
      for (let task = 0; task < parallelism; task++) {
        if (!active(node.id, task)) continue;
        const i = inst(node.id, task);
        await i.op.open({
          uid: node.uid,
          taskIndex: task,
          parallelism,
          clock,
          output: i,
          backend: backends[task] as KeyedStateBackend,
          ...(restored ? { restoredCheckpoint: restored.meta.id } : {}),
          ...(options.taskServices ? { services: options.taskServices(task) } : {}),
        });
      }
    }
    // State of a previous run in the same LevelDB directories comes with its saved timers.
    if (!restored && !options.checkpointer) for (const b of backends) await b?.loadTimers();
    if (restored) {
      const impl = options.checkpointer?.impl;
      await restoreState(engineState, restored, impl?.recordRestore?.bind(impl));
      schedule.restoredFrom(restored.meta.id);
      // Re-establish every operator's watermark (all were propagated when the checkpoint was taken).
      for (const s of sources) s.inst.forwardWatermark(s.watermark(), false);
      for (const g of headGroups) await drainGroup(g);
    }
    await options.checkpointer?.impl.restored?.(engineState);
    schedule.startClock();
    opened = true;
  }

  const persistent = options.state?.kind === "level";

  /** Drains one exchange-fed operator, first trading records and watermarks with the peers. */
  async function drainGroup(group: Instance[]): Promise<number> {
    if (peers) await peers.exchange((group[0] as Instance).node);
    return drainNode(group, persistent);
  }

  async function round(): Promise<boolean> {
    rounds++;
    const now = clock.now();
    for (const t of timed) {
      await t.op.prepareProcessingTime?.(now);
      const firing = t.op.onProcessingTime?.(now);
      if (firing) await firing;
    }
    const { read, counted } = await readSourceTasks(sources, batchSize, now);
    recordsIn += counted;
    let moved = read;
    flushHeld();
    for (const g of headGroups) {
      moved += await drainGroup(g);
      flushHeld();
    }
    if (options.tasks) assertNothingRoutedAway();
    // Tasks' sinks write through their own producers or files: one node's flushes run together.
    for (const row of instances) {
      const flushes: Promise<void>[] = [];
      for (const i of row) if (i.op.endRound && active(i.node, i.task)) flushes.push(i.op.endRound());
      if (flushes.length > 0) await Promise.all(flushes);
    }
    for (const b of backends) await b?.maybeEvict();
    if (sources.every((s) => s.done)) sourcesDone = true;
    if (!peers) finished = sourcesDone;
    return moved > 0;
  }

  /** Pre-aggregations hand on what they folded: before the next operator drains and before the round ends. */
  function flushHeld(): void {
    for (let i = 0; i < holding.length; i++) (holding[i] as Instance).op.flush?.();
  }

  /** With a task subset, a record routed to a task another process runs would be lost silently. */
  function assertNothingRoutedAway(): void {
    for (const x of exchanges) {
      for (let t = 0; t < parallelism; t++) {
        if (ownedSet.has(t) || (x.buffers[t] as ExchangeBuffer).size === 0) continue;
        throw new JobDefinitionError(
          `a record was routed to task ${t}, which this process does not run (tasks ${owned.join(",")}): keyed input must arrive partitioned by its key (a source's kafka.partitionedBy must name the field its topic is keyed by, with Kafka's default partitioner)`,
        );
      }
    }
  }

  async function close(): Promise<void> {
    for (const row of instances) for (const i of row) if (active(i.node, i.task)) await i.op.close?.();
    for (const s of sources) await s.reader?.close();
    for (const b of backends) await b?.close();
  }

  /**
   * After a failure with checkpointing on: release files and stores without closing sinks
   * (closing would publish uncommitted output; they abort instead) or flushing state (restore
   * starts from the last checkpoint anyway). Without checkpointing there is nothing to protect:
   * close. Each release is on its own: one that fails (an operator that never opened) does not
   * keep the others open.
   */
  async function abandon(): Promise<void> {
    const quietly = async (release: () => Promise<void> | undefined): Promise<void> => {
      try {
        await release();
      } catch {
        // the failure that ended the run is what gets reported
      }
    };
    for (const row of instances) for (const i of row) if (active(i.node, i.task)) await quietly(() => (checkpointing ? i.op.abort?.() : i.op.close?.()));
    for (const s of sources) await quietly(() => s.reader?.close());
    for (const b of backends) await quietly(() => (checkpointing ? b?.store.close() : b?.close()));
    await quietly(() => options.checkpointer?.impl.abort?.());
  }

  function progress(): Progress {
    let watermark = sinks.length > 0 ? MAX_WATERMARK : MIN_WATERMARK;
    for (const s of sinks) watermark = Math.min(watermark, s.watermark);
    let stateSize = 0;
    // Operators count their state once open (a worker's status may be asked while it restores).
    if (opened) for (const row of instances) for (const i of row) if (active(i.node, i.task)) stateSize += i.op.stateSize?.() ?? 0;
    return {
      rounds,
      recordsIn,
      recordsOut: counters.records,
      lateDropped: counters.lateDropped,
      watermark,
      stateSize,
      finished,
      checkpoints: schedule.count,
      lastCheckpoint: schedule.last,
    };
  }

  return {
    open,
    round,
    async run() {
      try {
        await open();
        while (!stopped && !finished) {
          let moved = await round();
          await options.onRound?.();
          if (peers) {
            // Every engine checkpoints, stops and finishes at the same round.
            const agreed = await peers.endRound({ moved, sourcesDone });
            ({ moved, finished } = agreed);
            if (agreed.stop) stopped = true;
            if (agreed.checkpoint && checkpointing) await schedule.checkpoint();
          } else if (checkpointing) await schedule.between(finished);
          if (!moved && !finished && !stopped) await new Promise((r) => setTimeout(r, idleSleepMs));
        }
        await schedule.settle();
        // Stopped early: a last checkpoint commits the output so far (stop-with-checkpoint; peers agreed on it above).
        if (stopped && !finished && checkpointing && !peers) await schedule.checkpoint();
      } catch (err) {
        // Cleanup must not hide why the run failed (operators that never opened may fail to close).
        await schedule.settle().catch(() => undefined);
        await abandon().catch(() => undefined);
        throw err;
      }
      await close();
      await options.checkpointer?.impl.close?.();
      return progress();
    },
    stop: () => {
      stopped = true;
    },
    progress,
    close,
    checkpoint: () => schedule.checkpoint(),
    savepoint: (dir) => schedule.savepoint(dir),
    backends,
    parallelism,
    state: engineState,
  };
}
