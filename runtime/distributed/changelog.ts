/**
 * The changelog: one compacted topic per job, partition = task. A checkpoint appends the
 * task's state changes (store key → encoded value, or a tombstone) and one metadata record
 * (`TASK_META_KEY`: positions, timers, watermarks) inside the task's transaction. Restoring a
 * task replays its partition into the store — from the local store's marker when the store is
 * clean, else from the beginning — up to a sentinel record written just before, which proves
 * the replay saw everything committed.
 */
import { randomUUID } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import type { TimerSnapshot } from "../checkpoint/format.ts";
import type { KafkaConnection } from "../kafka/index.ts";
import { createKafkaSource, type KafkaMessageIn } from "../connectors/kafka/source.ts";
import type { OutgoingMessage } from "../connectors/types.ts";
import { CheckpointError } from "../errors.ts";
import { RESERVED_PREFIX, type StateChanges } from "../state/backend.ts";
import type { TaskProducer } from "./transactions.ts";

/** Changelog key of a task's checkpoint metadata. */
export const TASK_META_KEY = `${RESERVED_PREFIX}meta`;
/** Changelog key of restore sentinels. */
const SENTINEL_KEY = `${RESERVED_PREFIX}sentinel`;

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
  /** Set by the checkpoint that ended a stop-with-savepoint: the task's generation is sealed (ADR 16). */
  sealed?: { savepoint: string; path: string };
  /**
   * Non-keyed operator state (broadcast state, e.g. rules) by operator uid: the same in every task,
   * so each worker writes it with its first task only; a restore gives it to all its tasks.
   */
  operators?: Record<string, unknown>;
}

/** The messages of one checkpoint of one task: its state changes, then its metadata. */
export function changelogMessages(task: number, changes: StateChanges, meta: TaskMeta): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  for (const [k, v] of changes.puts) out.push({ key: k, value: Buffer.from(v.buffer, v.byteOffset, v.byteLength), partition: task });
  for (const k of changes.dels) out.push({ key: k, value: null, partition: task });
  out.push({ key: TASK_META_KEY, value: serialize(meta), partition: task });
  return out;
}

/** Decodes a TaskMeta record. */
export function decodeTaskMeta(bytes: Uint8Array): TaskMeta {
  return deserialize(bytes) as TaskMeta;
}

/** One task's replay: where to start, and what it found. */
export interface TaskReplay {
  task: number;
  /** Changelog offset to replay from. */
  from: number;
  /** Latest state of every key seen (null: deleted). */
  changes: Map<string, Uint8Array | null>;
  /** The last metadata seen, and its offset. */
  meta: TaskMeta | undefined;
  metaOffset: number;
}

/** Writes one sentinel per task, each in its own committed transaction; returns the nonces. */
export async function writeSentinels(topic: string, producers: Map<number, TaskProducer>): Promise<Map<number, string>> {
  const nonces = new Map<number, string>();
  await Promise.all(
    [...producers].map(async ([task, producer]) => {
      const nonce = randomUUID();
      nonces.set(task, nonce);
      await producer.send(topic, [{ key: SENTINEL_KEY, value: nonce, partition: task }]);
      await producer.commit([]);
    }),
  );
  return nonces;
}

/**
 * Replays the changelog partitions of `replays` (read committed) until each reaches its
 * sentinel, folding records into the latest value per key.
 */
export async function replayChangelog(options: {
  connection: KafkaConnection;
  topic: string;
  readerGroup: string;
  replays: TaskReplay[];
  sentinels: Map<number, string>;
  timeoutMs?: number;
}): Promise<void> {
  type Rec = { offset: number; key: string; value: Buffer | null };
  const source = await createKafkaSource<Rec>({
    connection: options.connection,
    topic: options.topic,
    readerGroup: options.readerGroup,
    deserialize: (m: KafkaMessageIn) => ({ offset: m.offset, key: m.key?.toString("utf8") ?? "", value: m.value }),
  });
  const readers = await Promise.all(options.replays.map(async (r) => ({ r, reader: await source.open(r.task, r.from), done: false })));
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  try {
    while (readers.some((x) => !x.done)) {
      if (Date.now() > deadline) {
        const waiting = readers.filter((x) => !x.done).map((x) => x.r.task);
        throw new CheckpointError(`restoring tasks ${waiting.join(",")} from '${options.topic}' did not reach the end of the changelog in time`, true);
      }
      let any = false;
      for (const x of readers) {
        if (x.done) continue;
        const { records } = await x.reader.read(10_000);
        if (records.length > 0) any = true;
        for (const rec of records) {
          if (rec.key === SENTINEL_KEY) {
            if (rec.value?.toString("utf8") === options.sentinels.get(x.r.task)) {
              x.done = true;
              break;
            }
            continue;
          }
          if (rec.key === TASK_META_KEY) {
            if (rec.value) {
              x.r.meta = decodeTaskMeta(rec.value);
              x.r.metaOffset = rec.offset;
            }
            continue;
          }
          x.r.changes.set(rec.key, rec.value === null ? null : new Uint8Array(rec.value));
        }
      }
      if (!any) await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    for (const x of readers) await x.reader.close();
  }
}
