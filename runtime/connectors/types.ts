/** The contracts between the engine and sources and sinks. */
import type { OutgoingMessage } from "../kafka/messages.ts";

export type { OutgoingMessage };

/** What one read of a source partition returned. */
export interface ReadResult<T> {
  /** Records in partition order (may be empty when nothing is available yet). */
  records: T[];
  /** Event timestamps of the records, when the source knows them (else the job's timestamp assigner runs). */
  timestamps?: number[];
  /** Keys of the records, when the source carries them (a repartition topic): they route the records as is. */
  keys?: (string | number)[];
  /** True when the partition is finished (bounded input); records may still hold the tail. */
  done: boolean;
}

/** Reads one partition of a source, in order, from a replayable position. */
export interface SourceReader<T> {
  /** Returns up to `max` records; one promise per micro-batch, never per record. */
  read(max: number): Promise<ReadResult<T>>;
  /** Position after the last record returned, restorable with Source.open (JSON-serialisable). */
  position(): unknown;
  /**
   * A watermark the source carries itself (a repartition topic's upstream watermarks), replacing
   * the bounded-out-of-orderness generator; read after each read().
   */
  watermark?(): { watermark: number; idle: boolean };
  /** Releases resources. */
  close(): Promise<void>;
}

/** A partitioned input; partition p is read by task p. */
export interface Source<T> {
  /** Human-readable name for progress lines and errors. */
  readonly name: string;
  /** Number of partitions (tasks beyond this count get no input from this source). */
  readonly partitions: number;
  /** Opens a reader for one partition, at `position` when restoring. */
  open(partition: number, position?: unknown): Promise<SourceReader<T>>;
}

/** Writes one task's share of a sink. */
export interface SinkWriter<T> {
  /** Buffers one record (synchronous: I/O happens in flush). */
  write(value: T, timestamp: number): void;
  /** Writes buffered records; called once per engine round. */
  flush(): Promise<void>;
  /** The task's watermark status at this sink changed (repartition topics pass it downstream). */
  onWatermarkStatus?(watermark: number, idle: boolean): void;
  /** Two-phase commit, phase one: make everything written so far durable but invisible. */
  prepareCommit?(checkpointId: number): Promise<unknown>;
  /** Phase two: make the prepared data of a completed checkpoint visible (idempotent). */
  commit?(checkpointId: number, prepared: unknown): Promise<void>;
  /** Flushes and releases resources. */
  close(): Promise<void>;
  /**
   * After a failure: releases resources without publishing anything not yet committed (the
   * restore replays it). Writers without uncommitted state need none.
   */
  abort?(): Promise<void>;
}

/**
 * A task's transactional output: messages sent here become visible together with the task's
 * state changes and input positions when its checkpoint commits, or never.
 */
export interface TaskTransaction {
  /** Sends messages inside the task's current transaction (begun on first use). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
}

/** Where a task's sink writer needs to know its place. */
export interface SinkContext {
  /** uid of the sink operator (one Sink object may back several sink operators). */
  operatorUid: string;
  /** Task index. */
  taskIndex: number;
  /** Number of tasks. */
  parallelism: number;
  /** Checkpoint the job restored from: output epochs must continue after it. */
  restoredCheckpoint?: number;
  /** The task's transactional output, when the job runs exactly once on Kafka. */
  transaction?: TaskTransaction;
}

/** A partitioned output. */
export interface Sink<T> {
  /** Human-readable name. */
  readonly name: string;
  /** Opens the writer of one task. */
  open(ctx: SinkContext): Promise<SinkWriter<T>>;
}
