/**
 * Runs a reconciler over a work queue. Reconcilers say what happened — done, check again after a
 * delay, or failed (retriable or not) — and the machinery owns what follows: forgetting or
 * counting failures, backoff with jitter, metrics, and a log line per failure carrying the
 * reconcile id. A reconciler never sleeps or retries by itself, and the queue guarantees it never
 * sees one key twice at once, so it may assume it is the only one acting on its object.
 */
import { randomBytes } from "node:crypto";
import { RunnelError } from "../../runtime/errors.ts";
import type { Logger } from "../../runtime/log.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { createWorkQueue, type BackoffOptions, type WorkQueue } from "./queue.ts";

/** What a reconcile ended with. */
export type ReconcileResult = { kind: "done" } | { kind: "requeue"; afterMs: number } | { kind: "error"; error: Error; retriable: boolean };

/** Nothing more to do until something changes. */
export const done = (): ReconcileResult => ({ kind: "done" });
/** Look again after `afterMs` (polling an action in progress). */
export const requeueAfter = (afterMs: number): ReconcileResult => ({ kind: "requeue", afterMs });
/** Failed; retried with backoff when `retriable`. */
export const failed = (error: Error, retriable = error instanceof RunnelError ? error.retriable : true): ReconcileResult => ({
  kind: "error",
  error,
  retriable,
});

/** What a reconciler is handed. */
export interface ReconcileContext {
  /** `namespace/name`. */
  key: string;
  /** A short id for this reconcile, on every log line it writes. */
  reconcileId: string;
  /** A logger carrying the key and reconcile id. */
  log: Logger;
  /** Failures of this key since its last success (0 on a first attempt). */
  attempt: number;
}

/** Reconciles one key. */
export type Reconciler = (ctx: ReconcileContext) => Promise<ReconcileResult>;

/** Options of a controller. */
export interface ControllerOptions {
  /** Name in metrics and logs (`streamjob`). */
  name: string;
  reconcile: Reconciler;
  log: Logger;
  metrics?: OperatorMetrics;
  /** Keys reconciled at once (different keys only; default 4). */
  concurrency?: number;
  backoff?: BackoffOptions;
}

/** A running controller. */
export interface Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  /** Starts the workers; resolves when stop() was called and in-flight reconciles ended. */
  run(): Promise<void>;
  /** Stops handing out keys. */
  stop(): void;
}

/** Creates a controller (call run() to start it). */
export function createController(options: ControllerOptions): Controller {
  const queue = createWorkQueue({
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.metrics ? { observer: options.metrics.queueObserver(options.name) } : {}),
  });
  const log = options.log.child({ controller: options.name });

  async function processOne(key: string): Promise<void> {
    const reconcileId = randomBytes(4).toString("hex");
    const ctx: ReconcileContext = { key, reconcileId, log: log.child({ key, reconcile: reconcileId }), attempt: queue.failures(key) };
    const started = performance.now();
    let result: ReconcileResult;
    try {
      result = await options.reconcile(ctx);
    } catch (err) {
      // An unexpected throw is a bug or an I/O failure we did not classify: retry it with backoff.
      result = failed(err instanceof Error ? err : new Error(String(err)));
    }
    const seconds = (performance.now() - started) / 1000;
    switch (result.kind) {
      case "done":
        queue.forget(key);
        options.metrics?.reconciled(options.name, "done", seconds);
        break;
      case "requeue":
        queue.forget(key);
        queue.addAfter(key, result.afterMs);
        options.metrics?.reconciled(options.name, "requeue", seconds);
        break;
      case "error":
        options.metrics?.reconciled(options.name, result.retriable ? "retry" : "error", seconds);
        if (result.retriable) {
          ctx.log.warn("reconcile failed; retrying with backoff", { error: result.error.message, failures: queue.failures(key) + 1 });
          queue.addRateLimited(key);
        } else {
          ctx.log.error("reconcile failed; not retried until the object changes", { error: result.error.message });
          queue.forget(key);
        }
        break;
    }
  }

  let stopped = false;
  return {
    name: options.name,
    queue,
    async run() {
      const workers = Array.from({ length: options.concurrency ?? 4 }, async () => {
        for (;;) {
          const key = await queue.get();
          if (key === undefined) return;
          try {
            await processOne(key);
          } finally {
            queue.done(key);
          }
        }
      });
      await Promise.all(workers);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      queue.shutdown();
    },
  };
}
