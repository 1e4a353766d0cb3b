/** In-memory sources and sinks: fixed collections, push queues (tests, examples), collecting sinks. */
import type { ReadResult, Sink, Source, SourceReader } from "./types.ts";

/** A bounded source over fixed per-partition arrays; replayable by index. */
export function collectionSource<T>(options: { partitions: T[][]; name?: string }): Source<T> {
  const parts = options.partitions;
  return {
    name: options.name ?? "collection",
    partitions: parts.length,
    async open(partition, position) {
      const data = parts[partition] ?? [];
      let at = typeof position === "number" ? position : 0;
      return {
        async read(max) {
          const records = data.slice(at, at + max);
          at += records.length;
          return { records, done: at >= data.length };
        },
        position: () => at,
        close: async () => {},
      };
    },
  };
}

/** An unbounded source fed by the caller: push records per partition, end() to finish. */
export interface QueueSource<T> extends Source<T> {
  /** Appends records to a partition. */
  push(partition: number, ...records: T[]): void;
  /** Ends every partition once its queue drains. */
  end(): void;
}

/** Creates a push-fed source (for step-by-step tests of idleness and watermarks). */
export function queueSource<T>(options: { partitions: number; name?: string }): QueueSource<T> {
  const queues: T[][] = Array.from({ length: options.partitions }, () => []);
  const offsets: number[] = queues.map(() => 0);
  let ended = false;
  return {
    name: options.name ?? "queue",
    partitions: options.partitions,
    push(partition, ...records) {
      (queues[partition] as T[]).push(...records);
    },
    end() {
      ended = true;
    },
    async open(partition): Promise<SourceReader<T>> {
      const q = queues[partition] as T[];
      return {
        async read(max): Promise<ReadResult<T>> {
          const records = q.splice(0, max);
          offsets[partition] = (offsets[partition] ?? 0) + records.length;
          return { records, done: ended && q.length === 0 };
        },
        position: () => offsets[partition],
        close: async () => {},
      };
    },
  };
}

/** A record as a collecting sink saw it. */
export interface Collected<T> {
  /** The value. */
  value: T;
  /** Its event timestamp. */
  ts: number;
  /** Task that wrote it. */
  task: number;
}

/** A sink that keeps everything in memory, in write order. */
export interface CollectSink<T> extends Sink<T> {
  /** Records written so far. */
  readonly records: Collected<T>[];
  /** Just the values. */
  values(): T[];
}

/** Creates a collecting sink. */
export function collectSink<T>(name = "collect"): CollectSink<T> {
  const records: Collected<T>[] = [];
  return {
    name,
    records,
    values: () => records.map((r) => r.value),
    async open(ctx) {
      return {
        write: (value: T, ts: number) => {
          records.push({ value, ts, task: ctx.taskIndex });
        },
        flush: async () => {},
        close: async () => {},
      };
    },
  };
}
