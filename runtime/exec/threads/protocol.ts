/**
 * Messages of a local run on threads (ADR 36): between the main thread (coordinator.ts) and the
 * threads that each run an engine for a subset of the tasks, and between the threads themselves
 * (port-peers.ts, one MessageChannel per pair). Everything here is structured-cloneable.
 */
import type { CheckpointMetadata } from "../../checkpoint/format.ts";
import type { ErrorClass } from "../../errors.ts";
import type { Progress } from "../engine.ts";
import type { RoundAgreement } from "../peers.ts";
import type { ColumnBatch } from "./columns.ts";

/** A thread's failure as the command reports it (cli/failure.ts). */
export interface ThreadFailure {
  errorClass: ErrorClass | "usage";
  message: string;
  stack?: string;
}

/** Counters a manifest's pipeline keeps (dead letters and drops by reason). */
export interface PipelineCounts {
  deadLetters: Record<string, number>;
  dropped: Record<string, number>;
  /** One dead letter per reason, as printed in the run's summary. */
  deadLetterSamples?: Record<string, unknown>;
}

/** Thread → main thread. */
export type FromRunThread =
  | { type: "round"; moved: boolean; sourcesDone: boolean; progress: Progress; pipeline?: PipelineCounts }
  | { type: "snapshot"; dir: string; part: CheckpointMetadata }
  | { type: "done"; progress: Progress; pipeline?: PipelineCounts }
  | { type: "failed"; failure: ThreadFailure };

/** Main thread → thread. */
export type ToRunThread =
  | { type: "agreed"; agreement: RoundAgreement }
  | { type: "snapshotDone"; dir: string }
  | { type: "snapshotFailed"; dir: string; message: string; retriable: boolean };

/** Records one engine routed to another's task `task` over exchange `exchange` (wiring order). */
export interface RecordBatch {
  exchange: number;
  task: number;
  /** The records, in columns (columns.ts). */
  values: ColumnBatch;
  /** [index, the record's registered-symbol properties] of the records that had some (a declarative pipeline's key travels on one). */
  symbols: [number, [string, unknown][]][];
  timestamps: Float64Array;
  /** The records' keys: numbers in a Float64Array when all are. */
  keys: (string | number | undefined)[] | Float64Array;
}

/** Thread → thread, once per exchange-fed operator per round: records for the receiver's tasks and the sender's upstream watermarks. */
export interface PeerExchange {
  /** The operator about to drain. */
  node: number;
  /** The sender's count of steps of that operator, this one included (a check that both sides take the same steps). */
  step: number;
  batches: RecordBatch[];
  /** [exchange, upstream task, watermark, idle (1) or not (0)] for each upstream task the sender runs. */
  watermarks: [number, number, number, number][];
}
