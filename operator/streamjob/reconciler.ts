/**
 * The StreamJob reconciler: observe → validate → reconcile toward the last valid spec. It reads
 * the job and its children from the caches, validates the spec as `runnel validate` does (a bad
 * spec over a running job keeps the last valid one running and names the field in a condition),
 * counts worker crashes, then either resumes the action recorded in the status, begins the next
 * one, or keeps a steady job as it is. Every path ends with the derived status written if it
 * changed.
 */
import type { StreamJobStatus } from "../../runtime/spec/generated/types.ts";
import { done, requeueAfter, type ReconcileContext, type ReconcileResult, type Reconciler } from "../machinery/controller.ts";
import { beginAction, markRequestInProgress, runAction } from "./actions.ts";
import type { JobCluster, PodView } from "./cluster.ts";
import { desiredSpec, stamp, type JobContext, type JobReconcilerConfig } from "./context.ts";
import { decideAction, restoreSource } from "./decide.ts";
import { deriveStatus } from "./derive.ts";
import { countRestarts, describeExit, type Crash } from "./health.ts";
import { canonicalJson, describeErrors, validateJob } from "./spec.ts";
import { steady } from "./steady.ts";

/** The last meaningful line of a worker's log: a JSON line's message (and error), else the text. */
export function lastLogMessage(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? "").trim();
    if (!line) continue;
    if (line.startsWith("{")) {
      try {
        const j = JSON.parse(line) as { msg?: unknown; error?: unknown };
        if (typeof j.msg === "string") return typeof j.error === "string" ? `${j.msg}: ${j.error}` : j.msg;
      } catch {
        // not JSON after all
      }
    }
    return line.slice(0, 2000);
  }
  return undefined;
}

async function recordCrashes(ctx: JobContext, crashes: Crash[]): Promise<void> {
  for (const crash of crashes) {
    const lines = await ctx.cluster.lastLogLines(ctx.job, crash.pod, 20).catch(() => [] as string[]);
    const line = lastLogMessage(lines);
    const message = `worker ${crash.pod.ordinal} (${crash.pod.name}) ${describeExit(crash.exit)}${line ? `: ${line}` : ""}`;
    ctx.status.lastError = {
      time: stamp(ctx.now),
      reason: "WorkerCrashed",
      message,
      worker: crash.pod.ordinal,
      ...(crash.exit ? { exitCode: Math.min(255, crash.exit.exitCode) } : {}),
      ...(crash.exitClass ? { exitClass: crash.exitClass } : {}),
    };
    ctx.cluster.events.record(ctx.job, "Warning", "WorkerCrashed", message);
  }
}

/** Creates the StreamJob reconciler over a cluster. */
export function createJobReconciler(deps: { cluster: JobCluster; config: JobReconcilerConfig }): Reconciler {
  const { cluster, config } = deps;
  /** Per key, the resourceVersion our last status write replaced: a cache still showing it is behind our own write. */
  const superseded = new Map<string, string>();
  /** Per key, when lag and checkpoint progress were last read from the workers. */
  const progressRead = new Map<string, number>();

  return async (rc: ReconcileContext): Promise<ReconcileResult> => {
    const [namespace = "", name = ""] = rc.key.split("/");
    const obs = cluster.observe(namespace, name);
    if (!obs) {
      superseded.delete(rc.key);
      progressRead.delete(rc.key);
      return done();
    }
    // Children go with the job through their ownerReferences.
    if (obs.job.metadata?.deletionTimestamp) return done();
    if (superseded.get(rc.key) === obs.job.metadata?.resourceVersion) return requeueAfter(100);
    const validation = await validateJob(obs.job);
    const status: StreamJobStatus = structuredClone(obs.job.status ?? {});
    const log = rc.log.child({ job: name, namespace, jobGeneration: status.jobGeneration });
    let written = canonicalJson(obs.job.status ?? {});
    const now = cluster.now();
    const progressDue = now.getTime() - (progressRead.get(rc.key) ?? -Infinity) >= (config.progressMs ?? 30_000);
    if (progressDue) progressRead.set(rc.key, now.getTime());
    const ctx: JobContext = {
      cluster,
      config,
      log,
      now,
      obs,
      progressDue,
      job: obs.job,
      status,
      validation,
      async write() {
        deriveStatus(ctx);
        const before = ctx.job.metadata?.resourceVersion;
        ctx.job = await cluster.writeStatus(ctx.job, status);
        if (before) superseded.set(rc.key, before);
        written = canonicalJson(status);
        log.debug("status written", { phase: status.phase, action: status.pendingAction?.type, step: status.pendingAction?.step });
        config.afterStatusWrite?.(status);
      },
    };

    if (!validation.valid && status.observedGeneration !== obs.job.metadata?.generation) {
      const message = describeErrors(validation.errors);
      log.warn("invalid spec", { errors: message });
      cluster.events.record(obs.job, "Warning", "InvalidSpec", status.jobGeneration ? `${message}; the job keeps running its last valid spec` : message);
    }

    const { restarts, crashes } = countRestarts(
      status.restarts,
      obs.pods.filter((p: PodView) => !p.deleting),
      ctx.now,
      desiredSpec(ctx)?.restartPolicy,
    );
    if (crashes.length > 0 || canonicalJson(restarts) !== canonicalJson(status.restarts ?? {})) status.restarts = restarts;
    await recordCrashes(ctx, crashes);

    let result: ReconcileResult;
    if (status.pendingAction) result = await runAction(ctx);
    else {
      const desired = desiredSpec(ctx);
      const start = decideAction(ctx, desired);
      if (start && desired) {
        const waiting = start.type === "deploy" ? restoreSource(ctx, desired).waiting : undefined;
        if (waiting) {
          status.lastError = { time: stamp(ctx.now), reason: "RestoreSavepointNotReady", message: `waiting to start: ${waiting}` };
          result = requeueAfter(config.resyncMs);
        } else {
          log.info("beginning an action", { action: start.type, reason: start.reason });
          beginAction(ctx, start, desired);
          await ctx.write();
          await markRequestInProgress(ctx);
          result = await runAction(ctx);
        }
      } else result = await steady(ctx);
    }
    deriveStatus(ctx);
    if (canonicalJson(status) !== written) await ctx.write();
    return result;
  };
}
