/**
 * How a worker that runs on several threads answers as one: how many threads it runs, and its
 * status and savepoints merged from its threads' (each thread is a worker of its own to the rest
 * of the job, see ADR 33). Pure functions, so the rules are tested without threads.
 */
import { InternalError } from "../../errors.ts";
import type { StreamJobSpec } from "../../spec/generated/types.ts";
import type { SavepointStatus } from "../../observe/savepoint-control.ts";
import type { WorkerStatus } from "../../worker-contract.ts";

/** Cores in a Kubernetes CPU quantity (`2`, `1.5`, `1500m`); undefined when it is not one. */
export function cpuCores(quantity: string | number | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  if (typeof quantity === "number") return quantity > 0 ? quantity : undefined;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity.trim());
  if (!m) return undefined;
  const n = Number(m[1]) / (m[2] === "m" ? 1000 : 1);
  return n > 0 ? n : undefined;
}

/** Threads a worker runs: spec.threadsPerWorker, else the whole cores of its CPU limit (at least 1), else 1. */
export function threadsFor(spec: Pick<StreamJobSpec, "threadsPerWorker" | "resources">): number {
  if (spec.threadsPerWorker !== undefined) return spec.threadsPerWorker;
  const cores = cpuCores(spec.resources?.limits?.cpu);
  return cores === undefined ? 1 : Math.max(1, Math.floor(cores));
}

/**
 * The worker that thread `thread` of worker `ordinal` is to the job: with `threads` threads per
 * worker, `workers` workers are `workers × threads` virtual workers, thread t of worker o being
 * o × threads + t. Tasks are spread over them as over workers (task p mod count).
 */
export function virtualWorker(ordinal: number, workers: number, thread: number, threads: number): { ordinal: number; workers: number } {
  return { ordinal: ordinal * threads + thread, workers: workers * threads };
}

/** What a thread reports to GET /status (a worker's status, with its extras). */
export type ThreadStatus = WorkerStatus & {
  lateDropped?: number;
  stateSize?: number;
  finished?: boolean;
  sourceDeadLetters?: number;
  consumerLagError?: string;
};

const sum = (values: readonly (number | undefined)[]): number => values.reduce<number>((s, v) => s + (v ?? 0), 0);

/**
 * One worker's status from its threads': counts add up, tasks are the union, the watermark and
 * the last checkpoint are the lowest (the worker is as far as its slowest thread), the last
 * checkpoint's duration the longest.
 */
export function mergeStatuses(ordinal: number, statuses: readonly ThreadStatus[]): ThreadStatus {
  const first = statuses[0];
  if (first === undefined) throw new InternalError("mergeStatuses needs the status of at least one thread");
  const checkpoints = statuses.map((s) => s.checkpoint);
  const lagError = statuses.find((s) => s.consumerLagError !== undefined)?.consumerLagError;
  const lags = statuses.map((s) => s.consumerLag).filter((l) => l !== undefined);
  return {
    job: first.job,
    ...(first.generation === undefined ? {} : { generation: first.generation }),
    ordinal,
    threads: statuses.length,
    tasks: statuses.flatMap((s) => s.tasks).sort((a, b) => a - b),
    parallelism: first.parallelism,
    rounds: sum(statuses.map((s) => s.rounds)),
    recordsIn: sum(statuses.map((s) => s.recordsIn)),
    recordsOut: sum(statuses.map((s) => s.recordsOut)),
    lateDropped: sum(statuses.map((s) => s.lateDropped)),
    watermark: Math.min(...statuses.map((s) => s.watermark)),
    stateSize: sum(statuses.map((s) => s.stateSize)),
    finished: statuses.every((s) => s.finished === true),
    checkpoints: sum(statuses.map((s) => s.checkpoints)),
    lastCheckpoint: Math.min(...statuses.map((s) => s.lastCheckpoint)),
    ...(checkpoints.every((c) => c !== undefined)
      ? {
          checkpoint: {
            count: sum(checkpoints.map((c) => c.count)),
            lastDurationMs: Math.max(...checkpoints.map((c) => c.lastDurationMs)),
            lastBytes: sum(checkpoints.map((c) => c.lastBytes)),
            failures: sum(checkpoints.map((c) => c.failures)),
          },
        }
      : {}),
    sourceDeadLetters: sum(statuses.map((s) => s.sourceDeadLetters)),
    ...(lags.length === 0 ? {} : { consumerLag: sum(lags) }),
    ...(lagError === undefined ? {} : { consumerLagError: lagError }),
  };
}

/**
 * A savepoint of a worker from its threads' shares of it: failed as soon as one thread's failed
 * (naming it), completed once every thread's is, else pending; unknown while no thread knows it.
 */
export function mergeSavepointStatuses(id: string, statuses: readonly (SavepointStatus | undefined)[]): SavepointStatus | undefined {
  if (statuses.every((s) => s === undefined)) return undefined;
  const failed = statuses.findIndex((s) => s?.state === "failed");
  if (failed >= 0) return { id, state: "failed", error: `thread ${failed}: ${statuses[failed]?.error ?? "failed"}` };
  if (statuses.every((s) => s?.state === "completed")) {
    const path = statuses[0]?.path;
    return { id, state: "completed", ...(path === undefined ? {} : { path }) };
  }
  return { id, state: "pending" };
}
