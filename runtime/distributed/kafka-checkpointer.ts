/**
 * Checkpoints of a distributed job, per task: one Kafka transaction holds the task's outputs
 * (sent during the rounds), its state changes and metadata (changelog) and its input offsets;
 * after the commit the local store applies the same changes with a marker naming the
 * changelog offset it covers. The changelog holds the task's whole snapshot — keyed state,
 * timers, operator (broadcast) state with the positions of the broadcast inputs it reflects,
 * state schemas — so restore from it equals restore from a savepoint. Restore: a clean store
 * whose marker is still valid replays the changelog from there, any other from the start (see
 * task-restore.ts); tasks without a checkpoint yet take their share of the savepoint, which is
 * then written into the changelog before the first round.
 */
import type { CheckpointMetadata, Snapshot, TaskSnapshot } from "../checkpoint/format.ts";
import { FORMAT_VERSION } from "../checkpoint/format.ts";
import type { KafkaClient, KafkaConnection } from "../kafka/index.ts";
import { CheckpointError, GenerationSealedError, RunnelError } from "../errors.ts";
import type { Checkpointer } from "../exec/checkpointer.ts";
import { operatorStates, replicatedUids, taskTimers, type EngineState } from "../exec/checkpointing.ts";
import { stateSchemas } from "../exec/state-layouts.ts";
import { createLogger, type Logger } from "../log.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import type { StateChanges } from "../state/changes.ts";
import { changelogMessages, decodeTaskMeta, replayChangelog, writeSentinels, type ReplicatedPositions, type TaskMeta } from "./changelog.ts";
import { addSavepointPositions, savepointShare, setReplicated } from "./savepoint-share.ts";
import { markerEntries, replayStores, TaskRestore } from "./task-restore.ts";
import { TaskProducer, type Delivery, type InputOffsets } from "./transactions.ts";
import { transactionalId } from "./topics.ts";

/** Bytes of savepoint state a task writes into the changelog per transaction while it restores. */
const RESTORE_TRANSACTION_BYTES = 64 * 1024 * 1024;

/** Options of the Kafka checkpointer. */
export interface KafkaCheckpointerOptions {
  kafka: KafkaClient;
  connection: KafkaConnection;
  /** The job's prefix (group id, transactional id stem). */
  prefix: string;
  changelogTopic: string;
  /** The generation the changelog belongs to (named when a sealed task refuses to run). */
  generation: string;
  delivery: Delivery;
  /** Unique per worker process (restore readers). */
  workerId: string;
  /** Kafka topic of a source uid (input offsets committed for lag); absent for other sources. */
  inputTopics: Map<string, string>;
  /**
   * The savepoint to start from: tasks without checkpoints in the changelog take their state and
   * positions from it. Read only when such a task exists, so a savepoint disposed of after every
   * task checkpointed never breaks a later restart.
   */
  savepoint?: () => Promise<Snapshot>;
  /** Called after every completed checkpoint with its duration and size (bytes of changelog values). */
  onCheckpoint?: (info: { id: number; durationMs: number; bytes: number }) => void;
  /** A restore that makes no progress for this long fails (default 120 s). */
  restoreStallTimeoutMs?: number;
  log?: Logger;
  /** Exactly once: the broker's timeout for each task transaction (transactionTimeoutFor). */
  transactionTimeoutMs?: number;
  /** Called when a task's checkpoint committed, with the source positions it holds (repartition purging). */
  onCommitted?: (task: number, positions: Record<string, unknown>) => void;
}

/** The Kafka checkpointer of one worker; producers() are the task outputs for sinks. */
export interface KafkaCheckpointer extends Checkpointer {
  /** The producer (transaction) of each task this worker runs, once restore() connected them. */
  producer(task: number): TaskProducer;
  /** Seals the generation: every later checkpoint marks its tasks stopped with this savepoint (a restarted worker then runs nothing). */
  seal(savepoint: { savepoint: string; path: string }): void;
}

/** Creates the checkpointer for the tasks an engine runs. */
export function kafkaCheckpointer(options: KafkaCheckpointerOptions): KafkaCheckpointer {
  const producers = new Map<number, TaskProducer>();
  const { prefix } = options;
  const log = options.log ?? createLogger("worker.checkpoints", { changelog: options.changelogTopic });
  const restores = new Map<number, TaskRestore>();
  /** Tasks whose restore sent state into their transaction (the restore checkpoint commits it), and the bytes not committed yet. */
  const restoreWrites = new Map<number, number>();
  /** Tasks restored from the savepoint (no checkpoint of their own yet). */
  let fromSavepoint = new Set<number>();
  let restoredId = -1;
  let sealed: TaskMeta["sealed"];

  function producer(task: number): TaskProducer {
    let p = producers.get(task);
    if (!p) {
      p = new TaskProducer({
        kafka: options.kafka,
        delivery: options.delivery,
        transactionalId: transactionalId(prefix, task),
        groupId: prefix,
        ...(options.transactionTimeoutMs === undefined ? {} : { transactionTimeoutMs: options.transactionTimeoutMs }),
      });
      producers.set(task, p);
    }
    return p;
  }

  /**
   * Fences the transactional ids of tasks that no longer exist (the job had more tasks before: a
   * savepoint of more tasks, or an older generation's changelog with more partitions), so no
   * straggler of them can still commit output; each worker takes the retired ids that fold onto its tasks.
   */
  async function fenceRetiredTasks(engine: EngineState, savepoint: Snapshot | undefined): Promise<void> {
    if (options.delivery !== "exactly-once") return;
    let before = savepoint?.meta.parallelism ?? 0;
    const admin = options.kafka.admin();
    await admin.connect();
    try {
      const changelogs = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`) && t.endsWith(".changelog") && t !== options.changelogTopic);
      if (changelogs.length > 0) for (const n of (await admin.partitionCounts(changelogs)).values()) before = Math.max(before, n);
    } finally {
      await admin.disconnect();
    }
    const retired: number[] = [];
    for (let t = engine.parallelism; t < before; t++) if (engine.tasks.includes(t % engine.parallelism)) retired.push(t);
    for (const t of retired) {
      // Connecting registers the id, which fences its older producers and aborts their open transaction.
      const p = options.kafka.transactionalProducer({
        transactionalId: transactionalId(prefix, t),
        transactionTimeoutMs: options.transactionTimeoutMs ?? 60_000,
      });
      try {
        await p.connect();
        await p.abort();
      } finally {
        await p.disconnect();
      }
    }
    if (retired.length > 0) log.info("fenced the transactional ids of tasks the job no longer has", { tasks: retired.join(",") });
  }

  /** Replays the changelog into every task's store; stores that turn out stale are rebuilt from the start. */
  async function replay(engine: EngineState): Promise<void> {
    for (const t of engine.tasks) restores.set(t, await TaskRestore.open(t, engine.backends[t] as KeyedStateBackend, options.changelogTopic));
    const sentinels = await writeSentinels(options.changelogTopic, producers);
    await replayStores({
      restores: [...restores.values()],
      sentinels: new Map([...sentinels].map(([t, s]) => [t, s.offset])),
      log,
      replay: (sinks, pass) =>
        replayChangelog({
          connection: options.connection,
          topic: options.changelogTopic,
          readerGroup: `${prefix}.restore.${options.workerId}.${pass}`,
          sinks,
          sentinels: new Map([...sentinels].map(([t, s]) => [t, s.nonce])),
          ...(options.restoreStallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.restoreStallTimeoutMs }),
          log,
        }),
    });
  }

  async function restore(engine: EngineState): Promise<Snapshot | undefined> {
    for (const t of engine.tasks) await producer(t).connect();
    await replay(engine);
    const replayed = [...restores.values()];
    for (const r of replayed)
      if (r.meta && r.meta.job !== engine.graph.name)
        throw new CheckpointError(`changelog '${options.changelogTopic}' belongs to job '${r.meta.job}', not '${engine.graph.name}'`, false);
    refuseSealed(replayed);
    const unrestored = replayed.filter((r) => r.meta === undefined).map((r) => r.task);
    const savepoint = unrestored.length > 0 ? await options.savepoint?.() : undefined;
    await fenceRetiredTasks(engine, savepoint);
    if (unrestored.length === replayed.length && !savepoint) return undefined;
    fromSavepoint = new Set(savepoint ? unrestored : []);
    const meta: CheckpointMetadata = {
      version: FORMAT_VERSION,
      kind: "checkpoint",
      job: engine.graph.name,
      id: -1,
      createdAt: new Date().toISOString(),
      parallelism: engine.parallelism,
      operators: engine.graph.nodes.map((n) => ({ uid: n.uid, kind: n.spec.kind })),
      sources: {},
      sourceMaxTimestamps: {},
      sinks: {},
    };
    // Broadcast state and the broadcast inputs' positions come together from one checkpoint: the newest.
    const donor = replayed.reduce<TaskRestore | undefined>((best, r) => (r.meta && (!best?.meta || r.meta.id > best.meta.id) ? r : best), undefined);
    const replicated = replicatedUids(engine);
    const tasks: TaskSnapshot[] = [];
    for (const r of replayed) {
      const m = r.meta;
      tasks[r.task] = {
        entries: r.entries(),
        timers: m?.timers ?? {},
        operators: r === donor ? (m?.operators ?? {}) : {},
        ...(m?.schemas ? { schemas: m.schemas } : {}),
        inStore: engine.backends[r.task]?.store.persistent === true,
        durable: true,
      };
      if (!m) continue;
      meta.id = Math.max(meta.id, m.id);
      // Broadcast inputs are positioned by the donor alone (with the state they built).
      for (const [uid, pos] of Object.entries(m.positions)) if (!replicated.has(uid)) (meta.sources[uid] ??= [])[r.task] = pos;
      for (const [uid, ts] of Object.entries(m.maxTimestamps)) if (!replicated.has(uid)) (meta.sourceMaxTimestamps[uid] ??= [])[r.task] = ts;
      for (const [uid, p] of Object.entries(m.sinks)) (meta.sinks[uid] ??= [])[r.task] = p;
    }
    if (donor?.meta?.replicated) setReplicated(meta, donor.meta.replicated);
    if (savepoint && fromSavepoint.size > 0) {
      tasks.push(...savepointShare(savepoint, fromSavepoint, engine.parallelism, donor === undefined));
      addSavepointPositions(savepoint.meta, fromSavepoint, meta, replicated, donor === undefined);
    }
    restoredId = meta.id;
    return { meta, tasks };
  }

  /** Sends state a restore wrote (from the savepoint, or migrated) into the task's transaction, committing large imports in parts. */
  async function recordRestore(task: number, changes: StateChanges): Promise<void> {
    const messages = changelogMessages(task, changes, undefined);
    if (messages.length === 0) return;
    const p = producer(task);
    await p.sendToPartition(options.changelogTopic, task, messages);
    let bytes = restoreWrites.get(task) ?? 0;
    for (const m of messages) bytes += (m.value?.length ?? 0) + String(m.key).length;
    // A task without a checkpoint restores from the savepoint again after a crash, so parts of its
    // import may commit early; a migration must commit whole, with the metadata naming its schema.
    if (fromSavepoint.has(task) && bytes > RESTORE_TRANSACTION_BYTES) {
      await p.commit([]);
      bytes = 0;
    }
    restoreWrites.set(task, bytes);
  }

  /**
   * Takes task t's checkpoint `id` up to what must happen between rounds — sinks prepared, then
   * positions, state changes, timers and operator state captured and encoded, without an await
   * in between — and returns the rest (changelog send, commit, store write) to run. `copyMeta`
   * decodes the metadata again for the store's marker, for a caller that runs rounds meanwhile.
   */
  async function captureTask(engine: EngineState, t: number, id: number, copyMeta: boolean): Promise<() => Promise<number>> {
    const sinks: Record<string, unknown> = {};
    for (const node of engine.graph.nodes) {
      const op = engine.instances[node.id]?.[t]?.op;
      if (node.spec.kind !== "sink" || !op?.prepareCommit) continue;
      const prepared = await op.prepareCommit(id);
      if (prepared !== undefined && prepared !== null) sinks[node.uid] = prepared;
    }
    const replicated = replicatedUids(engine);
    const positions: Record<string, unknown> = {};
    const maxTimestamps: Record<string, number> = {};
    const broadcastPositions: Record<string, ReplicatedPositions> = {};
    const offsets: InputOffsets = [];
    for (const s of engine.sources) {
      if (!s.reader) continue;
      const pos = s.reader.position();
      if (replicated.has(s.uid)) {
        const r = (broadcastPositions[s.uid] ??= { positions: {}, maxTimestamps: {} });
        r.positions[s.partition] = pos;
        r.maxTimestamps[s.partition] = s.gen.maxTimestamp;
      } else if (s.partition === t) {
        positions[s.uid] = pos;
        maxTimestamps[s.uid] = s.gen.maxTimestamp;
      }
      const topic = options.inputTopics.get(s.uid);
      if (s.partition === t && topic !== undefined && typeof pos === "number") offsets.push({ topic, partition: t, offset: pos });
    }
    const backend = engine.backends[t] as KeyedStateBackend;
    const changes = backend.drainChanges();
    const meta: TaskMeta = {
      id,
      job: engine.graph.name,
      positions,
      maxTimestamps,
      timers: taskTimers(engine, t),
      sinks,
      operators: operatorStates(engine, t),
      replicated: broadcastPositions,
      schemas: stateSchemas(engine.graph),
      owner: (restores.get(t) as TaskRestore).owner,
      ...(sealed ? { sealed } : {}),
    };
    const messages = changelogMessages(t, changes, meta);
    return async () => {
      const p = producer(t);
      const metaOffset = await p.sendToPartition(options.changelogTopic, t, messages);
      await p.commit(offsets);
      options.onCommitted?.(t, positions);
      const marked = copyMeta ? decodeTaskMeta((messages.at(-1) as { value: Buffer }).value) : meta;
      await backend.applyChanges(changes, markerEntries(options.changelogTopic, metaOffset, marked));
      for (const node of engine.graph.nodes) {
        const prepared = sinks[node.uid];
        if (prepared !== undefined) await engine.instances[node.id]?.[t]?.op.commit?.(id, prepared);
      }
      let bytes = 0;
      for (const m of messages) bytes += m.value === null ? 0 : m.value.length;
      return bytes;
    };
  }

  /** Takes task t's checkpoint `id` whole. */
  async function checkpointTask(engine: EngineState, t: number, id: number): Promise<number> {
    return (await captureTask(engine, t, id, false))();
  }

  /** Reports a completed checkpoint: its duration since `t0` and the changelog bytes of its tasks. */
  function report(id: number, t0: number, sizes: number[]): void {
    options.onCheckpoint?.({ id, durationMs: performance.now() - t0, bytes: sizes.reduce((a, b) => a + b, 0) });
  }

  /** A task sealed by a stop-with-savepoint runs nothing in this generation: the worker ends (exit 0). */
  function refuseSealed(replayed: TaskRestore[]): void {
    const seal = replayed.find((r) => r.meta?.sealed !== undefined)?.meta?.sealed;
    if (!seal) return;
    const open = replayed.filter((r) => r.meta?.sealed === undefined).map((r) => r.task);
    const detail = open.length > 0 ? ` (tasks ${open.join(",")} were not sealed: that stop did not finish everywhere)` : "";
    throw new GenerationSealedError(options.generation, { id: seal.savepoint, path: seal.path }, detail);
  }

  return {
    producer: (task) => producer(task),
    seal: (info) => void (sealed = info),
    restore,
    recordRestore,
    async restored(engine) {
      // What the restore wrote commits with a checkpoint of the restored positions before any input is read.
      const tasks = engine.tasks.filter((t) => restoreWrites.has(t) || fromSavepoint.has(t));
      await allTasks(tasks.map((t) => checkpointTask(engine, t, Math.max(restoredId, 0))));
      if (tasks.length > 0) log.info("committed the restored state to the changelog", { tasks: tasks.join(",") });
      restoreWrites.clear();
      fromSavepoint.clear();
    },
    async checkpoint(engine, id) {
      const t0 = performance.now();
      report(id, t0, await allTasks(engine.tasks.map((t) => checkpointTask(engine, t, id))));
    },
    // Rounds go on while a checkpoint's sends and commits complete: what it commits was captured
    // first. At least once, output after it is only replayed, never lost; exactly once, it is held
    // unsent by the task producers until the transaction committed, then opens the next one.
    async beginCheckpoint(engine, id) {
      const t0 = performance.now();
      const rest = await allTasks(engine.tasks.map((t) => captureTask(engine, t, id, true)));
      const held = options.delivery === "exactly-once" ? engine.tasks.map((t) => producer(t)) : [];
      for (const p of held) p.hold();
      const completed = rest.map(async (f, i) => {
        const bytes = await f();
        await held[i]?.release();
        return bytes;
      });
      return { done: allTasks(completed).then((sizes) => report(id, t0, sizes)) };
    },
    async close() {
      for (const p of producers.values()) await p.disconnect();
    },
    async abort() {
      for (const p of producers.values()) {
        await p.abort().catch(() => undefined);
        await p.disconnect().catch(() => undefined);
      }
    },
  };
}

/**
 * Waits for every task's part of a checkpoint. When several fail, a fenced one is reported: a
 * duplicate worker fencing this one can make one task's transaction answer "fenced" and another's
 * a retriable "concurrent transactions" in the same round, and the worker must stop as fenced.
 */
export async function allTasks<T>(work: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failures.length > 0) throw failures.find((e) => e instanceof RunnelError && e.errorClass === "fenced") ?? failures[0];
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
