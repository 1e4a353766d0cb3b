/**
 * One reconcile of one StreamJob: what was observed, the status being written (a draft the steps
 * edit), and how to persist it. Writing the draft is the write-ahead log: a step records what it
 * is about to do, writes, and only then does it — the write carries the resourceVersion that was
 * read, so a decision taken on a stale copy fails with a conflict instead of being recorded.
 */
import type { StreamJob, StreamJobSpec, StreamJobStatus } from "../../runtime/spec/generated/types.ts";
import type { Logger } from "../../runtime/log.ts";
import type { JobGeneration } from "../../runtime/worker-contract.ts";
import type { ChildDefaults, WorkerPlan } from "./children.ts";
import type { JobCluster, Observed, PodView } from "./cluster.ts";
import type { Validation } from "./spec.ts";

/** A test hook: called after every status write (the fault-injection tests stop the operator here). */
export type AfterStatusWrite = (status: StreamJobStatus) => void;

/** Settings of the StreamJob reconciler. */
export interface JobReconcilerConfig {
  defaults: ChildDefaults;
  /** Re-check a steady job this often (lag, periodic savepoints, stability; default 15 s). */
  resyncMs: number;
  /** Re-check a job with an action in progress this often (default 1 s). */
  pollMs: number;
  /** Read lag and checkpoint progress from the workers at most this often (each read may write the status; default 30 s). */
  progressMs?: number;
  afterStatusWrite?: AfterStatusWrite;
}

/** The state of one reconcile. */
export interface JobContext {
  cluster: JobCluster;
  config: JobReconcilerConfig;
  log: Logger;
  now: Date;
  obs: Observed;
  /** The job as last read or written (its resourceVersion is the precondition of the next write). */
  job: StreamJob;
  /** The status being written. */
  status: StreamJobStatus;
  validation: Validation;
  /** Whether lag and checkpoint progress should be read from the workers in this reconcile. */
  progressDue: boolean;
  /** Persists the status draft now (derived fields refreshed first). */
  write(): Promise<void>;
}

/** RFC 3339 without milliseconds, as Kubernetes writes times. */
export function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Name and namespace of the job. */
export function jobRef(job: StreamJob): { name: string; namespace: string } {
  return { name: job.metadata?.name ?? "", namespace: job.metadata?.namespace ?? "default" };
}

/**
 * The next generation token: `g<n>-<first 8 hex of the object's uid>`, so a job deleted and
 * created again under the same name never reuses a token its Kafka topics already know.
 */
export function nextJobGeneration(status: StreamJobStatus, job: StreamJob): { token: JobGeneration; count: number } {
  const count = (status.jobGenerationCount ?? 0) + 1;
  const uid = (job.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8) || "0";
  return { token: `g${count}-${uid}`, count };
}

/** The spec the workers should run now: the valid desired spec, else the one running. */
export function desiredSpec(ctx: JobContext): StreamJobSpec | undefined {
  return ctx.validation.valid ? ctx.validation.spec : currentSpecOf(ctx.status);
}

/** The plan of what runs now, rebuilt from the status (to re-apply children idempotently). */
export function currentPlan(status: StreamJobStatus, replicas = status.parallelism ?? 0): WorkerPlan | undefined {
  const spec = currentSpecOf(status);
  if (!spec || !status.currentSpecHash || !status.jobGeneration) return undefined;
  return {
    spec,
    specHash: status.currentSpecHash,
    jobGeneration: status.jobGeneration,
    ...(status.restoredFrom ? { restoreFrom: status.restoredFrom } : {}),
    ...(spec.allowNonRestoredState ? { allowNonRestoredState: true } : {}),
    replicas,
  };
}

/** Worker pods of the running generation. */
export function currentPods(ctx: JobContext): PodView[] {
  return ctx.obs.pods.filter((p) => !p.deleting && p.jobGeneration === ctx.status.jobGeneration);
}

/** Ready workers of the running generation within the desired count. */
export function readyWorkers(ctx: JobContext): number {
  const want = ctx.status.parallelism ?? 0;
  return currentPods(ctx).filter((p) => p.ready && p.ordinal < want).length;
}

/** `{ restoreFrom }` for a plan when there is a savepoint to restore from. */
export function restoredOrUndefined(location: string | undefined): { restoreFrom?: string } {
  return location ? { restoreFrom: location } : {};
}

/** The spec the workers run (status.currentSpec, stored untyped). */
export function currentSpecOf(status: StreamJobStatus): StreamJobSpec | undefined {
  return status.currentSpec;
}
