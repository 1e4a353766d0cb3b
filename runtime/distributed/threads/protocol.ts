/**
 * Messages between a worker process's main thread and its worker threads (pool.ts and
 * cli/worker-thread.ts). A thread runs one virtual worker (merge.ts); the main thread serves the
 * admin API and asks each thread for its part. A thread's end is its exit code (process.exit in
 * a thread ends that thread only), so no "ended" message can be lost.
 */
import type { LogOptions } from "../../log.ts";
import type { WorkerOptions } from "../worker.ts";

/** What a thread is started with (its workerData: structured-cloneable). */
export interface ThreadData {
  /** The virtual worker's options (ordinal and workers already the virtual ones). */
  options: Omit<WorkerOptions, "signal" | "log">;
  /** This thread's index within its process, and how many there are. */
  thread: number;
  threads: number;
  /** The pod's ordinal (log context). */
  podOrdinal: number;
  /** Brokers the consumer lag is read from. */
  brokers: string[];
  /** Log format and level of the process (a thread's stderr is not a terminal). */
  log: Pick<LogOptions, "format" | "level">;
}

/** What the main thread asks a thread. */
export type ThreadOp = "metrics" | "status" | "progress" | "ready" | "trigger" | "stopWithSavepoint" | "savepointStatus";

/** Main thread → thread. */
export type ToThread = { type: "stop" } | { type: "request"; id: number; op: ThreadOp; arg?: string };

/** Thread → main thread. */
export type FromThread =
  | { type: "started"; tasks: number[]; generation: string; parallelism: number; job: string }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; message: string; httpStatus?: number };
