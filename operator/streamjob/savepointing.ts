/**
 * Taking a savepoint across all workers of a job: ask every worker with the same savepoint name
 * (POST /savepoints, or POST /stop for stop-with-savepoint), then poll each until it completed.
 * Progress lives in the pending action's details (which workers were asked, which completed,
 * the savepoint id), written after each pass, so a restarted operator carries on where it was.
 * A worker that exits 0 after a stop request has completed its part (the contract: after /stop
 * completes the worker exits 0; a restart into the sealed generation exits 0 again).
 */
import { join } from "node:path";
import type { PendingAction, StreamJobSpec } from "../../runtime/spec/generated/types.ts";
import { parseDuration } from "../../runtime/spec/duration.ts";
import { WorkerAdminError } from "../errors.ts";
import type { JobCluster, PodView } from "./cluster.ts";
import { describeExit, lastExit } from "./health.ts";

/** Where a savepoint across workers stands after one pass. */
export type SavepointProgress =
  | { state: "waiting"; changed: boolean }
  | { state: "completed"; location: string; changed: boolean }
  /** `partial`: some workers completed a stop (their tasks are sealed), so the job cannot simply resume. */
  | { state: "failed"; message: string; partial: boolean; changed: boolean };

const list = (text: string | undefined): Set<number> => new Set((text ?? "").split(",").filter(Boolean).map(Number));
const join_ = (s: Set<number>): string => [...s].sort((a, b) => a - b).join(",");

/** A savepoint name unique to this action: `<job>/<time>-<trigger>-<random>` under the storage root. */
export function savepointName(job: string, trigger: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${job}/${stamp}-${trigger}-${Math.random().toString(36).slice(2, 6)}`;
}

/** The location a savepoint name resolves to in the job's storage. */
export function savepointLocation(spec: StreamJobSpec, name: string): string {
  return join(spec.savepoint?.storage.path ?? "/savepoints", name);
}

function exitedZeroSince(pod: PodView, since: number): boolean {
  if (pod.terminated?.exitCode === 0) return true;
  const last = pod.lastTerminated;
  return last?.exitCode === 0 && (last.finishedAt === undefined || Date.parse(last.finishedAt) >= since - 1_000);
}

function crashedSince(pod: PodView, since: number): boolean {
  const exit = lastExit(pod);
  return exit !== undefined && exit.exitCode !== 0 && exit.finishedAt !== undefined && Date.parse(exit.finishedAt) >= since - 1_000;
}

/**
 * One pass of a savepoint over `workers` workers. `action.details` holds `name`, `requestedAt`
 * and is updated in place (`asked`, `completed`, `id`, `errors`); `changed` says it must be written.
 */
export async function progressSavepoint(options: {
  cluster: JobCluster;
  action: PendingAction;
  pods: readonly PodView[];
  workers: number;
  token: string | undefined;
  stop: boolean;
  spec: StreamJobSpec;
  now: Date;
}): Promise<SavepointProgress> {
  const { cluster, action, pods, stop } = options;
  const details = (action.details ??= {});
  const name = details.name ?? "";
  const since = Date.parse(details.requestedAt ?? options.now.toISOString());
  const asked = list(details.asked);
  const completed = list(details.completed);
  const failures = new Map<number, string>();
  let changed = false;
  const byOrdinal = new Map(pods.filter((p) => !p.deleting).map((p) => [p.ordinal, p]));
  const timeoutMs = parseDuration(options.spec.savepoint?.timeout ?? "10m");
  const elapsed = options.now.getTime() - Date.parse(action.stepStartedAt ?? action.startedAt ?? options.now.toISOString());

  for (let o = 0; o < options.workers; o++) {
    if (asked.has(o)) continue;
    const pod = byOrdinal.get(o);
    if (!pod?.ip || !pod.ready || options.token === undefined) continue;
    try {
      const id = stop
        ? await cluster.admin.stopWithSavepoint(pod.ip, options.token, { name })
        : await cluster.admin.triggerSavepoint(pod.ip, options.token, { name });
      details.id ??= id;
      asked.add(o);
      changed = true;
    } catch (err) {
      // 409: this worker is already taking (or stopping with) a savepoint — ours, asked before a restart.
      if (err instanceof WorkerAdminError && err.status === 409) {
        asked.add(o);
        changed = true;
      } else failures.set(o, (err as Error).message);
    }
  }

  let path: string | undefined;
  for (const o of asked) {
    if (completed.has(o)) continue;
    const pod = byOrdinal.get(o);
    if (stop && pod && exitedZeroSince(pod, since)) {
      completed.add(o);
      changed = true;
      continue;
    }
    if (!pod?.ip || details.id === undefined) {
      if (pod && crashedSince(pod, since)) failures.set(o, `worker ${o} crashed during the savepoint (${describeExit(lastExit(pod))})`);
      continue;
    }
    try {
      const st = await cluster.admin.savepointStatus(pod.ip, details.id);
      if (st?.state === "completed") {
        completed.add(o);
        path ??= st.path;
        changed = true;
      } else if (st?.state === "failed") failures.set(o, `worker ${o}: ${st.error ?? "savepoint failed"}`);
      else if (st === undefined) failures.set(o, `worker ${o} restarted and no longer knows savepoint ${details.id}`);
    } catch (err) {
      if (pod && crashedSince(pod, since)) failures.set(o, `worker ${o} crashed during the savepoint (${describeExit(lastExit(pod))})`);
      else if (!(err instanceof WorkerAdminError && err.status === 0)) failures.set(o, (err as Error).message);
    }
  }

  details.asked = join_(asked);
  details.completed = join_(completed);
  if (failures.size > 0) details.errors = [...failures.values()].join("; ").slice(0, 4000);
  const location = path ?? savepointLocation(options.spec, name);
  if (completed.size >= options.workers) return { state: "completed", location, changed };
  const partial = stop && completed.size > 0;
  if (elapsed > timeoutMs) {
    const missing = [...Array(options.workers).keys()].filter((o) => !completed.has(o));
    return {
      state: "failed",
      message: `savepoint ${name} not completed within ${options.spec.savepoint?.timeout ?? "10m"} (workers ${missing.join(",")} missing${failures.size ? `: ${details.errors}` : ""})`,
      partial,
      changed: true,
    };
  }
  const askedFailures = [...failures.keys()].filter((o) => asked.has(o));
  if (askedFailures.length > 0) {
    // A stop still pending on some worker may yet complete and seal its tasks: decide only once every asked worker answered.
    const unresolved = [...asked].filter((o) => !completed.has(o) && !failures.has(o));
    if (stop && unresolved.length > 0) return { state: "waiting", changed: true };
    // Workers that completed a stop have sealed their tasks: ask the others again (same name) rather than give up.
    if (partial) {
      for (const o of askedFailures) asked.delete(o);
      details.asked = join_(asked);
      return { state: "waiting", changed: true };
    }
    return { state: "failed", message: details.errors ?? "savepoint failed", partial: false, changed: true };
  }
  return { state: "waiting", changed };
}
