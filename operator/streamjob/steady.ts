/**
 * A job with no action in progress: keep its children as planned (drift is re-applied), stop it
 * per the restart policy when it crash-loops (or roll back an unstable upgrade), read lag and
 * checkpoint progress from the workers, mark the running spec stable once it has been ready with
 * completing checkpoints and no crash for `rollback.stableAfter`, and dispose of savepoints the
 * history no longer keeps.
 */
import type { StreamJobSpec } from "../../runtime/spec/generated/types.ts";
import { parseDuration } from "../../runtime/spec/duration.ts";
import { requeueAfter, type ReconcileResult } from "../machinery/controller.ts";
import { beginRollback, canRollback, runAction } from "./actions.ts";
import { CONDITION, getCondition } from "./conditions.ts";
import { currentPlan, currentPods, desiredSpec, jobRef, readyWorkers, stamp, type JobContext } from "./context.ts";
import { crashLooping, restartPolicy } from "./health.ts";
import { expiredSavepoints, forgetSavepoint } from "./history.ts";
import { specHash } from "./spec.ts";

/** Reads lag and checkpoint counts from the ready workers' /status. */
async function readProgress(ctx: JobContext): Promise<void> {
  const pods = currentPods(ctx).filter((p) => p.ready && p.ip);
  if (pods.length === 0) return;
  const answers = await Promise.allSettled(pods.map((p) => ctx.cluster.admin.status(p.ip as string)));
  let lag: number | undefined;
  let count = 0;
  let answered = 0;
  for (const a of answers) {
    if (a.status !== "fulfilled") continue;
    answered++;
    if (typeof a.value.consumerLag === "number") lag = (lag ?? 0) + a.value.consumerLag;
    count += a.value.checkpoint?.count ?? a.value.checkpoints ?? 0;
  }
  if (answered === 0) return;
  if (lag !== undefined) ctx.status.lag = lag;
  const previous = ctx.status.lastCheckpoint;
  if (previous?.count !== count)
    ctx.status.lastCheckpoint = { count, time: count > (previous?.count ?? 0) || !previous?.time ? stamp(ctx.now) : previous.time };
}

/** Marks the running spec stable when it has earned it. */
function markStable(ctx: JobContext, spec: StreamJobSpec | undefined): void {
  const { status, job } = ctx;
  const stable = status.lastStableSpec;
  const same = stable?.hash === status.currentSpecHash && stable?.parallelism === status.parallelism && stable?.jobGeneration === status.jobGeneration;
  if (same || !status.currentSpecHash) return;
  const ready = getCondition(status.conditions, CONDITION.ready);
  if (ready?.status !== "True") return;
  const readySince = Date.parse(ready.lastTransitionTime);
  if (ctx.now.getTime() - readySince < parseDuration(spec?.rollback?.stableAfter ?? "1m")) return;
  if (status.restarts?.lastRestartTime && Date.parse(status.restarts.lastRestartTime) >= readySince) return;
  if ((status.lastCheckpoint?.count ?? 0) === 0) return;
  // The object's generation, when it still asks for the spec that runs (a rollback runs an older one).
  const asked = ctx.validation.valid && specHash(ctx.validation.spec) === status.currentSpecHash;
  const generation = asked ? (job.metadata?.generation ?? 0) : (stable?.generation ?? 0);
  const savepoint = (status.savepoints ?? []).find((s) => s.specHash === status.currentSpecHash && s.jobGeneration === status.jobGeneration)?.location;
  status.lastStableSpec = {
    hash: status.currentSpecHash,
    generation,
    ...(status.jobGeneration ? { jobGeneration: status.jobGeneration } : {}),
    parallelism: status.parallelism ?? 0,
    ...(savepoint ? { savepoint } : stable?.hash === status.currentSpecHash && stable.savepoint ? { savepoint: stable.savepoint } : {}),
    since: stamp(ctx.now),
    spec: status.currentSpec ?? {},
  };
  ctx.cluster.events.record(
    job,
    "Normal",
    "Stable",
    `job generation ${status.jobGeneration ?? "?"} is stable: ready with checkpoints completing and no crash for ${spec?.rollback?.stableAfter ?? "1m"}`,
  );
}

/** Disposes of savepoints beyond the history's retention. */
async function disposeExpired(ctx: JobContext, spec: StreamJobSpec | undefined): Promise<void> {
  const { job } = ctx;
  for (const record of expiredSavepoints(ctx.status, spec, ctx.now)) {
    const location = record.location as string;
    const state = await ctx.cluster.disposer.dispose(job, location, { kind: "StreamJob", name: jobRef(job).name, uid: job.metadata?.uid ?? "" });
    if (state.state === "pending") continue;
    forgetSavepoint(ctx.status, location);
    if (state.state === "done")
      ctx.cluster.events.record(job, "Normal", "SavepointDisposed", `savepoint ${location} disposed (beyond the history's retention)`);
    else ctx.cluster.events.record(job, "Warning", "SavepointDisposeFailed", `could not dispose savepoint ${location}: ${state.message}`);
  }
}

/** Reconciles a job with no action in progress. */
export async function steady(ctx: JobContext): Promise<ReconcileResult> {
  const { status, cluster, job } = ctx;
  const spec = desiredSpec(ctx);
  const stopped = status.phase === "Failed" || status.phase === "Suspended";
  const plan = currentPlan(status, stopped ? 0 : (status.parallelism ?? 0));
  if (!plan) return requeueAfter(ctx.config.resyncMs);
  await cluster.applyWorkers(job, plan);
  if (stopped) {
    status.parallelism = 0;
    delete status.lag;
  } else {
    if (status.restarts && crashLooping(status.restarts, spec?.restartPolicy)) {
      const { maxRestarts, windowMs } = restartPolicy(spec?.restartPolicy);
      const message = `workers crashed ${status.restarts.inWindow ?? 0} times within ${Math.round(windowMs / 1000)} s (restartPolicy.maxRestarts ${maxRestarts})${status.lastError?.message ? `; last: ${status.lastError.message}` : ""}`;
      if (canRollback(ctx)) {
        beginRollback(ctx, "CrashLoop", message);
        await ctx.write();
        return runAction(ctx);
      }
      status.phase = "Failed";
      status.parallelism = 0;
      status.failedSpec = {
        hash: status.currentSpecHash,
        generation: job.metadata?.generation ?? 0,
        reason: "CrashLoop",
        message: `${message}; the job is stopped: fix it and change the spec, or bump spec.restartNonce`,
        time: stamp(ctx.now),
      };
      cluster.events.record(job, "Warning", "CrashLoop", status.failedSpec.message ?? message);
      await ctx.write();
      await cluster.scaleWorkers(job, 0);
      return requeueAfter(ctx.config.resyncMs);
    }
    // Stability needs a first completed checkpoint as soon as there is one; after that, progress is refreshed at a slower pace.
    if (ctx.progressDue || (status.lastCheckpoint?.count ?? 0) === 0) await readProgress(ctx);
    markStable(ctx, spec);
    const ready = getCondition(status.conditions, CONDITION.ready);
    const notReadyFor = ready?.status === "False" ? ctx.now.getTime() - Date.parse(ready.lastTransitionTime) : 0;
    if (notReadyFor > parseDuration(spec?.rollback?.readinessTimeout ?? "5m") && canRollback(ctx)) {
      beginRollback(ctx, "NotReady", `workers not ready for ${Math.round(notReadyFor / 1000)} s`);
      await ctx.write();
      return runAction(ctx);
    }
  }
  await disposeExpired(ctx, spec);
  const allReady = !stopped && readyWorkers(ctx) >= (status.parallelism ?? 0);
  return requeueAfter(allReady || stopped ? ctx.config.resyncMs : Math.min(ctx.config.resyncMs, 5 * ctx.config.pollMs));
}
