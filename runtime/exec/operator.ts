/**
 * The engine's operator contract. Per-record calls are synchronous; the only asynchronous
 * calls are per micro-batch (prefetch, prepare*) or per round (endRound), so no promise is
 * created per record.
 */
import type { Key } from "../api/functions.ts";
import type { TimerSnapshot } from "../checkpoint/format.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import type { Clock } from "../time/clock.ts";
import type { TaskServices } from "./checkpointer.ts";

/** Where an operator instance sends its results. */
export interface Output {
  /** Emits to the main output. */
  emit(value: unknown, ts: number): void;
  /** Emits to the side output `tag` (dropped when nothing consumes it). */
  emitSide(tag: string, value: unknown, ts: number): void;
}

/** What the engine gives an operator instance when it opens. */
export interface OperatorContext {
  /** Operator uid. */
  uid: string;
  /** Task index. */
  taskIndex: number;
  /** Number of tasks. */
  parallelism: number;
  /** Processing time. */
  clock: Clock;
  /** Downstream. */
  output: Output;
  /** Keyed state of the task. */
  backend: KeyedStateBackend;
  /** Id of the checkpoint the job restored from, if any. */
  restoredCheckpoint?: number;
  /** The task's services (its transactional output). */
  services?: TaskServices;
}

/** One parallel instance of an operator. */
export interface Operator {
  /** Creates state handles and user function instances. */
  open(ctx: OperatorContext): Promise<void>;
  /** Handles one record of input `input`; `key` is set on hash-partitioned inputs. */
  processElement(input: number, value: unknown, ts: number, key: Key | undefined): void;
  /** Loads the state of keys[from, from + count) (default from 0), those of the coming batch (keyed operators). */
  prefetch?(keys: readonly Key[], count: number, from?: number): Promise<void>;
  /** Loads what the first `count` values of input `input`, the coming batch, need from outside the job (asynchronous lookups). */
  prepareBatch?(input: number, values: readonly unknown[], count: number): Promise<void>;
  /** Loads what firing timers up to `wm` will touch. */
  prepareWatermark?(wm: number): Promise<void>;
  /** The combined input watermark advanced; fire timers (a promise: keyed, in slices). The engine forwards `wm` after. */
  onWatermark?(wm: number): Promise<void> | undefined | void;
  /** Loads what firing processing-time timers up to `now` will touch. */
  prepareProcessingTime?(now: number): Promise<void>;
  /** The instance's watermark status changed (sinks pass it on). */
  onWatermarkStatus?(wm: number, idle: boolean): void;
  /** Fires processing-time timers up to `now`. */
  onProcessingTime?(now: number): Promise<void> | undefined | void;
  /**
   * Emits what the operator holds back (a pre-aggregation's partials). The engine calls it, in
   * task order, after the sources' records and after each exchange-fed operator ran, so before
   * anything downstream reads the round's output (exchanges and repartition topics deliver a
   * round's records before its watermarks, whenever they were emitted in the round).
   */
  flush?(): void;
  /** Called once per engine round after all records of the round (sinks write here). */
  endRound?(): Promise<void>;
  /** Timers for a checkpoint (keyed operators). */
  snapshotTimers?(): TimerSnapshot;
  /** Re-registers checkpointed timers (keyed operators). */
  restoreTimers?(snapshot: TimerSnapshot): void;
  /** Non-keyed operator state for a checkpoint (broadcast state); structured-clone serialisable. */
  snapshotOperatorState?(): unknown;
  /** Restores what snapshotOperatorState returned (every task gets the same copy). */
  restoreOperatorState?(snapshot: unknown): void;
  /** Checkpoint phase one (sinks): make output durable but invisible; returns commit data. */
  prepareCommit?(checkpointId: number): Promise<unknown>;
  /** Checkpoint phase two (sinks): publish what prepareCommit returned. */
  commit?(checkpointId: number, prepared: unknown): Promise<void>;
  /** Number of keyed state entries and timers (progress line). */
  stateSize?(): number;
  /** Releases resources (after the final watermark of bounded jobs). */
  close?(): Promise<void>;
  /** After a failure: releases resources without publishing uncommitted output. */
  abort?(): Promise<void>;
}
