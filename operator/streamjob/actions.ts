/**
 * Actions as write-ahead-logged step sequences. An action is written into status.pendingAction
 * with everything it needs fixed up front (target spec and hash, worker count, job generation,
 * the savepoint it takes or restores from, its step list); each step is idempotent, and the
 * status is written before the next step begins. An operator killed anywhere resumes at the
 * recorded step and completes the action once. The steps, per the upgrade protocol:
 *
 *   stopping     stop-with-savepoint on every worker (savepoint mode), polled until all completed
 *   scalingDown  StatefulSet replicas 0, until no worker pod of any generation exists
 *   starting     the target plan applied (new generation token, --restore-from), replicas N
 *   awaitReady   every worker of the new generation ready (else roll back, if enabled)
 *   suspended    a suspend ends here; savepointing: a savepoint while running
 */
import type { PendingAction, SavepointRecord, StreamJobSpec } from "../../runtime/spec/generated/types.ts";
import { parseDuration } from "../../runtime/spec/duration.ts";
import { done, requeueAfter, type ReconcileResult } from "../machinery/controller.ts";
import { currentPods, currentSpecOf, desiredSpec, nextJobGeneration, readyWorkers, restoredOrUndefined, stamp, type JobContext } from "./context.ts";
import { restoreSource, type ActionStart } from "./decide.ts";
import { crashLooping } from "./health.ts";
import { recordSavepoint } from "./history.ts";
import { progressSavepoint, savepointLocation, savepointName } from "./savepointing.ts";
import { specHash } from "./spec.ts";

type Step = "stopping" | "scalingDown" | "starting" | "awaitReady" | "suspended" | "savepointing";

/** Begins an action: fills status.pendingAction (the caller writes it before anything is done). */
export function beginAction(ctx: JobContext, start: ActionStart, desired: StreamJobSpec): void {
  const { status, job } = ctx;
  const current = currentSpecOf(status);
  const keepsSpec = start.type === "savepoint" || start.type === "suspend" || start.type === "restart";
  const spec = keepsSpec && current ? current : desired;
  const mode = desired.upgradeMode ?? "last-state";
  const running = status.jobGeneration !== undefined && status.phase !== "Suspended" && status.phase !== "Failed" && (status.parallelism ?? 0) > 0;
  const stop =
    running && spec.savepoint !== undefined && (mode === "savepoint" || start.request !== undefined) && ["upgrade", "rescale", "suspend"].includes(start.type);
  let token = status.jobGeneration;
  let restore = status.restoredFrom;
  let fresh = false;
  const name = stop || start.type === "savepoint" ? savepointName(job.metadata?.name ?? "job", start.trigger ?? start.type, ctx.now) : undefined;
  const location = name ? savepointLocation(spec, name) : undefined;
  if (start.type === "deploy") {
    fresh = true;
    restore = restoreSource(ctx, spec).location;
  } else if (start.type === "resume") {
    const sp = status.lastSavepoint;
    if (mode === "savepoint" && sp?.trigger === "suspend" && sp.jobGeneration === status.jobGeneration && sp.location) {
      fresh = true;
      restore = sp.location;
    } else if (mode === "stateless") {
      fresh = true;
      restore = undefined;
    }
  } else if (start.type === "upgrade" || start.type === "rescale") {
    if (stop) {
      fresh = true;
      restore = location;
    } else if (mode === "stateless") {
      fresh = true;
      restore = undefined;
    }
  }
  if (fresh || token === undefined) {
    const next = nextJobGeneration(status, job);
    token = next.token;
    status.jobGenerationCount = next.count;
  }
  const steps: Step[] =
    start.type === "savepoint"
      ? ["savepointing"]
      : start.type === "suspend"
        ? [...(stop ? (["stopping"] as Step[]) : []), "scalingDown", "suspended"]
        : start.type === "deploy" || start.type === "resume"
          ? ["starting", "awaitReady"]
          : [...(stop ? (["stopping"] as Step[]) : []), "scalingDown", "starting", "awaitReady"];
  const now = stamp(ctx.now);
  const restoreFrom = start.type === "savepoint" ? location : stop && start.type === "suspend" ? location : restore;
  status.pendingAction = {
    type: start.type,
    step: steps[0] as Step,
    startedAt: now,
    stepStartedAt: now,
    targetGeneration: job.metadata?.generation ?? 0,
    targetSpec: spec as unknown as Record<string, unknown>,
    targetSpecHash: specHash(spec),
    targetParallelism: spec.parallelism ?? 1,
    targetJobGeneration: token,
    mode,
    ...(restoreFrom ? { savepoint: restoreFrom } : {}),
    details: {
      steps: steps.join(","),
      reason: start.reason,
      ...(start.trigger ? { trigger: start.trigger } : {}),
      ...(start.request ? { request: start.request } : {}),
      ...(name ? { name, requestedAt: ctx.now.toISOString() } : {}),
    },
  };
  // Nonces are one-shot: acted on once, whatever the outcome.
  if (desired.restartNonce !== undefined && start.type !== "savepoint") status.observedRestartNonce = desired.restartNonce;
  if (desired.savepointTriggerNonce !== undefined && (start.type === "savepoint" || start.type === "upgrade"))
    status.observedSavepointTriggerNonce = desired.savepointTriggerNonce;
  if (start.type === "upgrade" || start.type === "rescale" || start.type === "deploy" || start.type === "restart") delete status.failedSpec;
  ctx.cluster.events.record(
    job,
    "Normal",
    actionReason(start.type, "Started"),
    `${start.type} started (${start.reason}); steps ${steps.join(" → ")}${token ? `; job generation ${token}` : ""}`,
  );
}

/** True when an unstable spec can be rolled back: enabled, and a different stable spec is known. */
export function canRollback(ctx: JobContext): boolean {
  const spec = desiredSpec(ctx);
  const stable = ctx.status.lastStableSpec;
  if (spec?.rollback?.enabled === false || !stable?.spec || !stable.hash) return false;
  return stable.hash !== ctx.status.currentSpecHash || (stable.parallelism ?? 0) !== (ctx.status.parallelism ?? 0);
}

/** Begins a rollback to the last stable spec (and its savepoint), recording why. */
export function beginRollback(ctx: JobContext, reason: string, message: string): void {
  const { status, job } = ctx;
  const stable = status.lastStableSpec ?? {};
  const spec = stable.spec as unknown as StreamJobSpec;
  const sameGeneration = stable.jobGeneration !== undefined && stable.jobGeneration === status.jobGeneration;
  let token = status.jobGeneration;
  let restore: string | undefined = status.restoredFrom;
  if (!sameGeneration) {
    const next = nextJobGeneration(status, job);
    token = next.token;
    status.jobGenerationCount = next.count;
    restore = stable.savepoint;
  }
  status.failedSpec = {
    hash: status.currentSpecHash,
    generation: job.metadata?.generation ?? 0,
    reason: "RolledBack",
    message: `${message}; rolled back to the last stable spec (generation ${stable.generation ?? "?"})`,
    time: stamp(ctx.now),
  };
  const now = stamp(ctx.now);
  status.pendingAction = {
    type: "rollback",
    step: "scalingDown",
    startedAt: now,
    stepStartedAt: now,
    targetGeneration: stable.generation ?? 0,
    targetSpec: stable.spec ?? {},
    targetSpecHash: stable.hash ?? "",
    targetParallelism: stable.parallelism ?? spec.parallelism ?? 1,
    ...(token ? { targetJobGeneration: token } : {}),
    mode: spec.upgradeMode ?? "last-state",
    ...(restore ? { savepoint: restore } : {}),
    details: { steps: "scalingDown,starting,awaitReady", reason },
  };
  status.lastError = { time: now, reason, message };
  ctx.cluster.events.record(
    job,
    "Warning",
    "RollingBack",
    `${message}; rolling back to generation ${stable.generation ?? "?"}${restore ? ` from savepoint ${restore}` : ""}`,
  );
}

function actionReason(type: string, suffix: string): string {
  return `${type.charAt(0).toUpperCase()}${type.slice(1)}${suffix}`;
}

function nextStep(action: PendingAction): Step | undefined {
  const steps = (action.details?.steps ?? "").split(",") as Step[];
  const i = steps.indexOf(action.step as Step);
  return i >= 0 ? steps[i + 1] : undefined;
}

async function advance(ctx: JobContext): Promise<void> {
  const action = ctx.status.pendingAction as PendingAction;
  const next = nextStep(action);
  if (next === undefined) throw new Error(`action ${action.type} has no step after ${action.step}`);
  action.step = next;
  action.stepStartedAt = stamp(ctx.now);
  await ctx.write();
}

/** Ends the action successfully. */
async function complete(ctx: JobContext, message: string): Promise<ReconcileResult> {
  const action = ctx.status.pendingAction as PendingAction;
  delete ctx.status.pendingAction;
  ctx.cluster.events.record(ctx.job, "Normal", actionReason(action.type, "Completed"), message);
  const keep = [ctx.status.currentSpecHash, ctx.status.lastStableSpec?.hash].filter((h): h is string => h !== undefined);
  await ctx.cluster.pruneManifests(ctx.job, keep);
  await ctx.write();
  return requeueAfter(ctx.config.pollMs);
}

/** Ends the action without reaching its target; the job keeps (or returns to) what ran. */
async function abort(ctx: JobContext, reason: string, message: string, failJob = false): Promise<ReconcileResult> {
  const action = ctx.status.pendingAction as PendingAction;
  delete ctx.status.pendingAction;
  const now = stamp(ctx.now);
  ctx.status.lastError = { time: now, reason, message };
  ctx.status.failedSpec = { hash: action.targetSpecHash, generation: ctx.job.metadata?.generation ?? 0, reason, message, time: now };
  if (failJob) ctx.status.phase = "Failed";
  ctx.cluster.events.record(ctx.job, "Warning", reason, message);
  await settleRequest(ctx, action, { state: "Failed", error: message });
  await ctx.write();
  return requeueAfter(ctx.config.resyncMs);
}

/** Marks the StreamSavepoint an action fulfils as being taken. */
export async function markRequestInProgress(ctx: JobContext): Promise<void> {
  const name = ctx.status.pendingAction?.details?.request;
  const sp = name ? ctx.obs.savepointObject(name) : undefined;
  if (sp) await ctx.cluster.writeSavepointStatus(sp, { ...sp.status, state: "InProgress" });
}

/** Records the outcome in the StreamSavepoint the action fulfils, if any. */
async function settleRequest(
  ctx: JobContext,
  action: PendingAction,
  result: { state: "Completed"; location: string } | { state: "Failed"; error: string },
): Promise<void> {
  const name = action.details?.request;
  const sp = name ? ctx.obs.savepointObject(name) : undefined;
  if (!sp) return;
  const spec = currentSpecOf(ctx.status);
  await ctx.cluster.writeSavepointStatus(sp, {
    ...sp.status,
    ...(result.state === "Completed"
      ? {
          state: "Completed",
          location: result.location,
          timestamp: stamp(ctx.now),
          ...(ctx.status.currentSpecHash ? { specHash: ctx.status.currentSpecHash } : {}),
          ...(ctx.status.jobGeneration ? { jobGeneration: ctx.status.jobGeneration } : {}),
          ...(spec?.savepoint?.storage.claimName ? { claimName: spec.savepoint.storage.claimName, storagePath: spec.savepoint.storage.path } : {}),
        }
      : { state: "Failed", error: result.error }),
  });
}

function savepointRecord(ctx: JobContext, action: PendingAction, location: string): SavepointRecord {
  const trigger = (action.details?.trigger ??
    (action.type === "suspend" ? "suspend" : action.type === "rescale" ? "rescale" : "upgrade")) as SavepointRecord["trigger"];
  return {
    location,
    timestamp: stamp(ctx.now),
    ...(trigger ? { trigger } : {}),
    ...(ctx.status.currentSpecHash ? { specHash: ctx.status.currentSpecHash } : {}),
    ...(ctx.status.jobGeneration ? { jobGeneration: ctx.status.jobGeneration } : {}),
    ...(action.details?.request ? { name: action.details.request } : {}),
  };
}

/** Runs the pending action from its recorded step as far as it can go now. */
export async function runAction(ctx: JobContext): Promise<ReconcileResult> {
  const { status, cluster } = ctx;
  for (let guard = 0; guard < 16; guard++) {
    const action = status.pendingAction;
    if (!action) return requeueAfter(ctx.config.pollMs);
    const step = action.step as Step;
    if (step === "stopping" || step === "savepointing") {
      const progress = await progressSavepoint({
        cluster,
        action,
        pods: currentPods(ctx),
        workers: status.parallelism ?? 0,
        token: ctx.obs.adminToken,
        stop: step === "stopping",
        spec: currentSpecOf(status) ?? (action.targetSpec as unknown as StreamJobSpec),
        now: ctx.now,
      });
      if (progress.state === "waiting") {
        if (progress.changed) await ctx.write();
        return requeueAfter(ctx.config.pollMs);
      }
      if (progress.state === "failed") {
        if (step === "savepointing") return abortSavepoint(ctx, progress.message);
        return progress.partial
          ? abort(ctx, "SavepointIncomplete", `${progress.message}; some workers stopped (their tasks are sealed) and others did not: the job is stopped`, true)
          : abort(ctx, "SavepointFailed", `${action.type} aborted, the job keeps running its current spec: ${progress.message}`);
      }
      recordSavepoint(status, savepointRecord(ctx, action, progress.location));
      if (status.lastStableSpec && status.lastStableSpec.hash === status.currentSpecHash) status.lastStableSpec.savepoint = progress.location;
      cluster.events.record(ctx.job, "Normal", "SavepointCompleted", `savepoint ${progress.location} completed on ${status.parallelism ?? 0} workers`);
      await settleRequest(ctx, action, { state: "Completed", location: progress.location });
      if (step === "savepointing") {
        delete status.pendingAction;
        await ctx.write();
        return requeueAfter(ctx.config.pollMs);
      }
      await advance(ctx);
      continue;
    }
    if (step === "scalingDown") {
      if ((ctx.obs.statefulSet?.replicas ?? 0) !== 0) await cluster.scaleWorkers(ctx.job, 0);
      if (ctx.obs.pods.length > 0) return requeueAfter(ctx.config.pollMs);
      status.parallelism = 0;
      await advance(ctx);
      continue;
    }
    if (step === "starting") {
      const spec = action.targetSpec as unknown as StreamJobSpec;
      await cluster.applyWorkers(ctx.job, {
        spec,
        specHash: action.targetSpecHash ?? specHash(spec),
        jobGeneration: action.targetJobGeneration ?? "",
        ...restoredOrUndefined(action.savepoint),
        ...(spec.allowNonRestoredState ? { allowNonRestoredState: true } : {}),
        replicas: action.targetParallelism ?? 1,
      });
      status.currentSpec = action.targetSpec ?? {};
      status.currentSpecHash = action.targetSpecHash ?? specHash(spec);
      if (action.targetJobGeneration) status.jobGeneration = action.targetJobGeneration;
      if (action.savepoint) status.restoredFrom = action.savepoint;
      else delete status.restoredFrom;
      status.parallelism = action.targetParallelism ?? 1;
      status.phase = "Running";
      // Crashes of what ran before do not count against what starts now.
      if (status.restarts) status.restarts = { ...status.restarts, inWindow: 0, recent: [] };
      await advance(ctx);
      continue;
    }
    if (step === "awaitReady") {
      const want = action.targetParallelism ?? 1;
      if (readyWorkers(ctx) >= want)
        return complete(
          ctx,
          `${action.type} completed: ${want}/${want} workers ready in job generation ${status.jobGeneration ?? "?"}${status.restoredFrom ? ` (restored from ${status.restoredFrom})` : ""}`,
        );
      const spec = desiredSpec(ctx);
      const timeoutMs = parseDuration(spec?.rollback?.readinessTimeout ?? "5m");
      const waited = ctx.now.getTime() - Date.parse(action.stepStartedAt ?? action.startedAt ?? ctx.now.toISOString());
      const crashing = status.restarts !== undefined && crashLooping(status.restarts, spec?.restartPolicy);
      if ((crashing || waited > timeoutMs) && action.type !== "rollback" && canRollback(ctx)) {
        const why = crashing
          ? `workers crash-looping (${status.lastError?.message ?? "see lastError"})`
          : `workers not ready within ${spec?.rollback?.readinessTimeout ?? "5m"}`;
        beginRollback(ctx, "UpgradeNotStable", `the ${action.type} did not become stable: ${why}`);
        await ctx.write();
        continue;
      }
      if (crashing || waited > timeoutMs) return complete(ctx, `${action.type} finished but only ${readyWorkers(ctx)}/${want} workers are ready`);
      return requeueAfter(ctx.config.pollMs);
    }
    if (step === "suspended") {
      delete status.pendingAction;
      status.phase = "Suspended";
      cluster.events.record(
        ctx.job,
        "Normal",
        "Suspended",
        `the job is suspended${status.lastSavepoint?.trigger === "suspend" ? ` (savepoint ${status.lastSavepoint.location})` : ""}`,
      );
      await ctx.write();
      return done();
    }
    throw new Error(`unknown step '${String(step)}' of action ${action.type}`);
  }
  return requeueAfter(ctx.config.pollMs);
}

async function abortSavepoint(ctx: JobContext, message: string): Promise<ReconcileResult> {
  const action = ctx.status.pendingAction as PendingAction;
  delete ctx.status.pendingAction;
  ctx.status.lastError = { time: stamp(ctx.now), reason: "SavepointFailed", message };
  ctx.cluster.events.record(ctx.job, "Warning", "SavepointFailed", message);
  await settleRequest(ctx, action, { state: "Failed", error: message });
  await ctx.write();
  return requeueAfter(ctx.config.resyncMs);
}
