/**
 * Checkpoints of a distributed job, per task: one Kafka transaction holds the task's outputs
 * (sent during the rounds), its state changes and metadata (changelog) and its input offsets;
 * after the commit the local store applies the same changes with a marker naming the
 * changelog offset it covers. Restore: a clean store with a marker replays the changelog from
 * there, anything else (no store, a crash between evictions and a checkpoint) from the start.
 */
import { deserialize, serialize } from "node:v8";
import type { CheckpointMetadata, TaskSnapshot, TimerSnapshot } from "../checkpoint/format.ts";
import { FORMAT_VERSION } from "../checkpoint/format.ts";
import type { KafkaClient, KafkaConnection } from "../kafka/index.ts";
import { CheckpointError, GenerationSealedError } from "../errors.ts";
import type { Checkpointer } from "../exec/checkpointer.ts";
import { taskTimers, type EngineState } from "../exec/checkpointing.ts";
import type { Key } from "../api/functions.ts";
import { parseStoreKey } from "../checkpoint/format.ts";
import { taskOfKey } from "../exec/hash.ts";
import { DIRTY_KEY, RESERVED_PREFIX, type KeyedStateBackend } from "../state/backend.ts";
import { decodeKey } from "../state/table.ts";
import { changelogMessages, replayChangelog, writeSentinels, type TaskMeta, type TaskReplay } from "./changelog.ts";
import { TaskProducer, type Delivery, type InputOffsets } from "./transactions.ts";
import { transactionalId } from "./topics.ts";

/** Local store key of the checkpoint marker. */
const MARKER_KEY = `${RESERVED_PREFIX}checkpoint`;

interface Marker {
  /** The changelog the marker refers to (another generation's store is rebuilt). */
  changelog: string;
  /** Changelog offset of the metadata record this store state equals. */
  metaOffset: number;
  meta: TaskMeta;
}

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
  savepoint?: () => Promise<{ meta: CheckpointMetadata; tasks: TaskSnapshot[] }>;
  /** Called after every completed checkpoint with its duration and size (bytes of changelog values). */
  onCheckpoint?: (info: { id: number; durationMs: number; bytes: number }) => void;
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

  async function restore(engine: EngineState): Promise<{ meta: CheckpointMetadata; tasks: TaskSnapshot[] } | undefined> {
    for (const t of engine.tasks) await producer(t).connect();
    const sentinels = await writeSentinels(options.changelogTopic, producers);
    const replays: TaskReplay[] = [];
    for (const t of engine.tasks) {
      const backend = engine.backends[t] as KeyedStateBackend;
      const markerBytes = await backend.readReserved(MARKER_KEY);
      const dirty = (await backend.readReserved(DIRTY_KEY)) !== undefined;
      const stored = markerBytes && !dirty ? (deserialize(markerBytes) as Marker) : undefined;
      const marker = stored?.changelog === options.changelogTopic ? stored : undefined;
      if (!marker && backend.store.persistent) await backend.store.clear();
      replays.push({ task: t, from: marker ? marker.metaOffset + 1 : 0, changes: new Map(), meta: marker?.meta, metaOffset: marker?.metaOffset ?? -1 });
    }
    await replayChangelog({
      connection: options.connection,
      topic: options.changelogTopic,
      readerGroup: `${prefix}.restore.${options.workerId}`,
      replays,
      sentinels,
    });
    refuseSealed(replays);
    const fromSavepoint = new Set(replays.filter((r) => r.meta === undefined).map((r) => r.task));
    if (fromSavepoint.size === replays.length && !options.savepoint) return undefined;
    const savepoint = fromSavepoint.size > 0 ? await options.savepoint?.() : undefined;
    const tasks: TaskSnapshot[] = [];
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
    for (const r of replays) {
      const backend = engine.backends[r.task] as KeyedStateBackend;
      const puts: [string, Uint8Array][] = [];
      const dels: string[] = [];
      for (const [k, v] of r.changes)
        if (v === null) dels.push(k);
        else puts.push([k, v]);
      if (r.meta && r.meta.job !== engine.graph.name)
        throw new CheckpointError(`changelog '${options.changelogTopic}' belongs to job '${r.meta.job}', not '${engine.graph.name}'`, false);
      // A persistent store takes the replay directly (with its new marker); heap state goes through the snapshot.
      if (backend.store.persistent) {
        const marker: [string, Uint8Array][] = r.meta
          ? [[MARKER_KEY, serialize({ changelog: options.changelogTopic, metaOffset: r.metaOffset, meta: r.meta } satisfies Marker)]]
          : [];
        await backend.applyChanges({ puts, dels }, marker);
      }
      tasks[r.task] = { entries: backend.store.persistent ? [] : puts, timers: r.meta?.timers ?? {}, operators: r.meta?.operators ?? {} };
      if (!r.meta) continue;
      meta.id = Math.max(meta.id, r.meta.id);
      for (const [uid, pos] of Object.entries(r.meta.positions)) (meta.sources[uid] ??= [])[r.task] = pos;
      for (const [uid, ts] of Object.entries(r.meta.maxTimestamps)) (meta.sourceMaxTimestamps[uid] ??= [])[r.task] = ts;
      for (const [uid, p] of Object.entries(r.meta.sinks)) (meta.sinks[uid] ??= [])[r.task] = p;
    }
    if (savepoint) addSavepointShare(savepoint, fromSavepoint, engine.parallelism, meta, tasks);
    return { meta, tasks };
  }

  /** Checkpoints one task: prepare sinks, send changes and metadata, commit with offsets, apply locally. */
  async function checkpointTask(engine: EngineState, t: number, id: number): Promise<number> {
    const sinks: Record<string, unknown> = {};
    for (const node of engine.graph.nodes) {
      const op = engine.instances[node.id]?.[t]?.op;
      if (node.spec.kind !== "sink" || !op?.prepareCommit) continue;
      const prepared = await op.prepareCommit(id);
      if (prepared !== undefined && prepared !== null) sinks[node.uid] = prepared;
    }
    const timers = taskTimers(engine, t);
    const positions: Record<string, unknown> = {};
    const maxTimestamps: Record<string, number> = {};
    const offsets: InputOffsets = [];
    for (const s of engine.sources) {
      if (s.partition !== t || !s.reader) continue;
      const pos = s.reader.position();
      positions[s.uid] = pos;
      maxTimestamps[s.uid] = s.gen.maxTimestamp;
      const topic = options.inputTopics.get(s.uid);
      if (topic !== undefined && typeof pos === "number") offsets.push({ topic, partition: t, offset: pos });
    }
    const backend = engine.backends[t] as KeyedStateBackend;
    const changes = backend.drainChanges();
    // Broadcast state (rules) is the same in every task: the worker's first task carries it, so a
    // restarted worker applies its rules from the first record on, not once it has read them again.
    const operators: Record<string, unknown> = {};
    if (t === engine.tasks[0])
      for (const node of engine.graph.nodes) {
        const op = engine.instances[node.id]?.[t]?.op;
        if (op?.snapshotOperatorState) operators[node.uid] = op.snapshotOperatorState();
      }
    const meta: TaskMeta = {
      id,
      job: engine.graph.name,
      positions,
      maxTimestamps,
      timers,
      sinks,
      ...(Object.keys(operators).length > 0 ? { operators } : {}),
      ...(sealed ? { sealed } : {}),
    };
    const messages = changelogMessages(t, changes, meta);
    const p = producer(t);
    const metaOffset = await p.sendToPartition(options.changelogTopic, t, messages);
    await p.commit(offsets);
    options.onCommitted?.(t, positions);
    await backend.applyChanges(changes, [[MARKER_KEY, serialize({ changelog: options.changelogTopic, metaOffset, meta } satisfies Marker)]]);
    for (const node of engine.graph.nodes) {
      const prepared = sinks[node.uid];
      if (prepared !== undefined) await engine.instances[node.id]?.[t]?.op.commit?.(id, prepared);
    }
    let bytes = 0;
    for (const m of messages) bytes += m.value === null ? 0 : m.value.length;
    return bytes;
  }

  /** A task sealed by a stop-with-savepoint runs nothing in this generation: the worker ends (exit 0). */
  function refuseSealed(replays: TaskReplay[]): void {
    const done = replays.filter((r) => r.meta?.sealed !== undefined);
    const seal = done[0]?.meta?.sealed;
    if (!seal) return;
    const open = replays.filter((r) => r.meta?.sealed === undefined).map((r) => r.task);
    const detail = open.length > 0 ? ` (tasks ${open.join(",")} were not sealed: that stop did not finish everywhere)` : "";
    throw new GenerationSealedError(options.generation, { id: seal.savepoint, path: seal.path }, detail);
  }

  return {
    producer: (task) => producer(task),
    seal: (info) => void (sealed = info),
    restore,
    async checkpoint(engine, id) {
      const t0 = performance.now();
      const sizes = await Promise.all(engine.tasks.map((t) => checkpointTask(engine, t, id)));
      options.onCheckpoint?.({ id, durationMs: performance.now() - t0, bytes: sizes.reduce((a, b) => a + b, 0) });
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
 * Adds to a restore the savepoint's share of the tasks that have no checkpoint of their own yet:
 * their keys' state and timers (the engine re-splits by key) and their input positions.
 */
function addSavepointShare(
  sp: { meta: CheckpointMetadata; tasks: TaskSnapshot[] },
  share: Set<number>,
  parallelism: number,
  meta: CheckpointMetadata,
  tasks: TaskSnapshot[],
): void {
  const mine = (key: Key): boolean => share.has(taskOfKey(key, parallelism));
  const entries: [string, Uint8Array][] = [];
  const timers: Record<string, TimerSnapshot> = {};
  for (const snap of sp.tasks) {
    if (!snap) continue;
    for (const e of snap.entries) if (mine(decodeKey(parseStoreKey(e[0]).encodedKey))) entries.push(e);
    for (const [uid, t] of Object.entries(snap.timers)) {
      const into = (timers[uid] ??= { event: [], processing: [] });
      into.event.push(...t.event.filter(([, k]) => mine(k)));
      into.processing.push(...t.processing.filter(([, k]) => mine(k)));
    }
  }
  tasks.push({ entries, timers, operators: {} });
  for (const t of share) {
    for (const [uid, positions] of Object.entries(sp.meta.sources)) if (positions[t] !== undefined) (meta.sources[uid] ??= [])[t] = positions[t];
    for (const [uid, ts] of Object.entries(sp.meta.sourceMaxTimestamps)) if (ts[t] !== undefined) (meta.sourceMaxTimestamps[uid] ??= [])[t] = ts[t];
  }
  meta.id = Math.max(meta.id, 0);
}
