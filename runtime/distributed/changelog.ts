/**
 * The changelog: one compacted topic per job, partition = task. A checkpoint appends the
 * task's state changes (store key → encoded value, or a tombstone) and one metadata record
 * (`TASK_META_KEY`: positions, timers, operator state, state schemas, the writing store's id)
 * inside the task's transaction. Restoring a task replays its partition into the store — from
 * the local store's marker when the store is clean and still the one the changelog was written
 * through, else from the beginning — up to a sentinel record written just before, which proves
 * the replay saw everything committed. Replay streams: records go to the store in bounded
 * chunks, and it fails only when it stops making progress, never because a big state takes long.
 */
import { randomUUID } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import type { TimerSnapshot } from "../checkpoint/format.ts";
import type { KafkaConnection } from "../kafka/index.ts";
import { createKafkaSource, type KafkaMessageIn } from "../connectors/kafka/source.ts";
import type { OutgoingMessage, Source } from "../connectors/types.ts";
import { CheckpointError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { RESERVED_PREFIX } from "../state/store-keys.ts";
import type { StateChanges } from "../state/changes.ts";
import type { StateSchema } from "../state/schema.ts";
import { systemClock, type Clock } from "../time/clock.ts";
import type { TaskProducer } from "./transactions.ts";

/** Changelog key of a task's checkpoint metadata. */
export const TASK_META_KEY = `${RESERVED_PREFIX}meta`;
/** Changelog key of restore sentinels. */
export const SENTINEL_KEY = `${RESERVED_PREFIX}sentinel`;

/** Positions and watermark state of the partitions of one replicated (broadcast) source, as one worker read them. */
export interface ReplicatedPositions {
  positions: Record<number, unknown>;
  maxTimestamps: Record<number, number>;
}

/** What a task commits with each checkpoint besides its keyed state. */
export interface TaskMeta {
  /** Checkpoint id. */
  id: number;
  /** Job name (a changelog of another job is refused). */
  job: string;
  /** Source positions of the task by source uid. */
  positions: Record<string, unknown>;
  /** Watermark generator state (max timestamp) by source uid. */
  maxTimestamps: Record<string, number>;
  /** Timers by operator uid. */
  timers: Record<string, TimerSnapshot>;
  /** Prepared output of two-phase sinks (files) by sink uid, re-committed on restore. */
  sinks: Record<string, unknown>;
  /** Operator (broadcast) state by operator uid, with the replicated inputs' positions it reflects. */
  operators?: Record<string, unknown>;
  replicated?: Record<string, ReplicatedPositions>;
  /** State schemas by operator uid (restore migrates or refuses state written under others). */
  schemas?: Record<string, StateSchema>;
  /** Id of the local store the writer kept in step with the changelog: another store's marker before this record is stale. */
  owner?: string;
  /** Set by the checkpoint that ended a stop-with-savepoint: the task's generation is sealed (ADR 16). */
  sealed?: { savepoint: string; path: string };
}

/** The messages of one checkpoint of one task: its state changes, then its metadata (none: state changes a later checkpoint's metadata covers). */
export function changelogMessages(task: number, changes: StateChanges, meta: TaskMeta | undefined): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  for (const [k, v] of changes.puts) out.push({ key: k, value: Buffer.from(v.buffer, v.byteOffset, v.byteLength), partition: task });
  for (const k of changes.dels) out.push({ key: k, value: null, partition: task });
  if (meta) out.push({ key: TASK_META_KEY, value: serialize(meta), partition: task });
  return out;
}

/** Decodes a TaskMeta record. */
export function decodeTaskMeta(bytes: Uint8Array): TaskMeta {
  return deserialize(bytes) as TaskMeta;
}

/** A changelog record as the replay reads it. */
export interface ChangelogRecord {
  offset: number;
  key: string;
  value: Buffer | null;
}

/** Where one task's replay goes. */
export interface ReplaySink {
  task: number;
  /** Changelog offset to replay from. */
  from: number;
  /** State changes in offset order, folded per chunk (a key appears once: its latest value, or a deletion). */
  onChanges(changes: StateChanges): Promise<void>;
  /** A checkpoint's metadata at `offset`; false stops this task's replay (its store turned out stale). */
  onMeta(meta: TaskMeta, offset: number): boolean;
}

/** Writes one sentinel per task, each in its own committed transaction; returns their nonces and offsets. */
export async function writeSentinels(topic: string, producers: Map<number, TaskProducer>): Promise<Map<number, { nonce: string; offset: number }>> {
  const sentinels = new Map<number, { nonce: string; offset: number }>();
  await Promise.all(
    [...producers].map(async ([task, producer]) => {
      const nonce = randomUUID();
      const offset = await producer.sendToPartition(topic, task, [{ key: SENTINEL_KEY, value: nonce, partition: task }]);
      await producer.commit([]);
      sentinels.set(task, { nonce, offset });
    }),
  );
  return sentinels;
}

/**
 * Replays the changelog partitions of `sinks` (read committed) until each reaches its sentinel
 * or its sink stops it. Returns the tasks whose sinks stopped. Fails when no task made progress
 * for `stallTimeoutMs` (default 120 s); logs progress every `progressEveryMs` (default 10 s).
 */
export async function replayChangelog(options: {
  connection: KafkaConnection;
  topic: string;
  readerGroup: string;
  sinks: ReplaySink[];
  sentinels: Map<number, string>;
  stallTimeoutMs?: number;
  progressEveryMs?: number;
  log?: Logger;
  /** The changelog as a source (default: the Kafka topic, read committed); tests pass their own. */
  source?: Source<ChangelogRecord>;
  /** Time for the stall deadline (tests). */
  clock?: Clock;
}): Promise<Set<number>> {
  const stopped = new Set<number>();
  if (options.sinks.length === 0) return stopped;
  const source =
    options.source ??
    (await createKafkaSource<ChangelogRecord>({
      connection: options.connection,
      topic: options.topic,
      readerGroup: options.readerGroup,
      deserialize: (m: KafkaMessageIn) => ({ offset: m.offset, key: m.key?.toString("utf8") ?? "", value: m.value }),
    }));
  const readers = await Promise.all(options.sinks.map(async (sink) => ({ sink, reader: await source.open(sink.task, sink.from), done: false, records: 0 })));
  const stallMs = options.stallTimeoutMs ?? 120_000;
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  let progressAt = started;
  let reportedAt = started;
  try {
    while (readers.some((x) => !x.done)) {
      const now = clock.now();
      if (now - progressAt > stallMs) {
        const waiting = readers.filter((x) => !x.done).map((x) => `${x.sink.task} (${x.records} records so far)`);
        throw new CheckpointError(
          `restoring tasks ${waiting.join(", ")} from '${options.topic}' made no progress for ${Math.round(stallMs / 1000)} s (is the broker reachable?)`,
          true,
        );
      }
      if (now - reportedAt >= (options.progressEveryMs ?? 10_000)) {
        reportedAt = now;
        const total = readers.reduce((n, x) => n + x.records, 0);
        options.log?.info("restoring from the changelog", {
          topic: options.topic,
          records: total,
          perSecond: Math.round((total * 1000) / Math.max(1, now - started)),
          tasksLeft: readers.filter((x) => !x.done).length,
        });
      }
      let any = false;
      for (const x of readers) {
        if (x.done) continue;
        const { records } = await x.reader.read(10_000);
        if (records.length === 0) continue;
        any = true;
        x.records += records.length;
        // Folded per read: records come in offset order, so the last one of a key wins.
        const folded = new Map<string, Uint8Array | null>();
        for (const rec of records) {
          if (rec.key === SENTINEL_KEY) {
            if (rec.value?.toString("utf8") !== options.sentinels.get(x.sink.task)) continue;
            x.done = true;
            break;
          }
          if (rec.key === TASK_META_KEY) {
            if (rec.value && !x.sink.onMeta(decodeTaskMeta(rec.value), rec.offset)) {
              x.done = true;
              stopped.add(x.sink.task);
              break;
            }
            continue;
          }
          folded.set(rec.key, rec.value);
        }
        if (stopped.has(x.sink.task) || folded.size === 0) continue;
        const changes: StateChanges = { puts: [], dels: [] };
        for (const [k, v] of folded) {
          if (v === null) changes.dels.push(k);
          else changes.puts.push([k, v]);
        }
        await x.sink.onChanges(changes);
      }
      if (any) progressAt = clock.now();
      else await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    for (const x of readers) await x.reader.close();
  }
  return stopped;
}
