/**
 * The parts of a StreamJob's status that follow from the rest: phase, worker counts, the printer
 * column `Ready`, and the conditions. Computed before every status write, so what `kubectl get
 * sj` and `kubectl wait` read always agrees with the recorded action and the observed workers.
 */
import type { StreamJobStatus } from "../../runtime/spec/generated/types.ts";
import { CONDITION, setCondition, type ConditionInput } from "./conditions.ts";
import { jobRef, readyWorkers, type JobContext } from "./context.ts";
import { selectorString } from "./names.ts";
import { describeErrors } from "./spec.ts";

const ACTION_PHASE: Record<string, NonNullable<StreamJobStatus["phase"]>> = {
  deploy: "Deploying",
  resume: "Deploying",
  restart: "Deploying",
  upgrade: "Upgrading",
  rescale: "Rescaling",
  savepoint: "Savepointing",
  suspend: "Suspending",
  rollback: "RollingBack",
  stop: "Suspending",
};

const ACTION_REASON: Record<string, string> = {
  deploy: "Deploying",
  resume: "Resuming",
  restart: "Restarting",
  upgrade: "Upgrading",
  rescale: "Rescaling",
  savepoint: "Savepointing",
  suspend: "Suspending",
  rollback: "RollingBack",
  stop: "Stopping",
};

/** Fills phase, counts and conditions from the rest of the status and the observed workers. */
export function deriveStatus(ctx: JobContext): void {
  const { status } = ctx;
  const generation = ctx.job.metadata?.generation ?? 0;
  const action = status.pendingAction;
  const desired = status.parallelism ?? 0;
  const ready = readyWorkers(ctx);
  if (action) status.phase = ACTION_PHASE[action.type] ?? "Deploying";
  else if (status.phase !== "Failed" && status.phase !== "Suspended") status.phase = status.jobGeneration ? "Running" : "Pending";
  status.workers = { desired, ready };
  status.readyWorkers = `${ready}/${desired}`;
  status.selector = selectorString(jobRef(ctx.job).name);
  status.observedGeneration = generation;

  const set = (c: ConditionInput): void => void (status.conditions = setCondition(status.conditions, c, generation, ctx.now));
  const invalid = ctx.validation.valid ? undefined : describeErrors(ctx.validation.errors);
  const failedHere = status.failedSpec && status.failedSpec.generation === generation ? status.failedSpec : undefined;
  const restartsInWindow = status.restarts?.inWindow ?? 0;

  // Ready: every desired worker of the running generation is ready and nothing is in progress.
  if (action)
    set({
      type: CONDITION.ready,
      status: "False",
      reason: ACTION_REASON[action.type] ?? "Progressing",
      message: `${action.type} in progress (step ${action.step ?? "?"})`,
    });
  else if (status.phase === "Failed")
    set({ type: CONDITION.ready, status: "False", reason: status.failedSpec?.reason ?? "Failed", message: status.failedSpec?.message ?? "the job failed" });
  else if (status.phase === "Suspended")
    set({ type: CONDITION.ready, status: "False", reason: "Suspended", message: "the job is suspended (spec.state: suspended)" });
  else if (!status.jobGeneration)
    set({ type: CONDITION.ready, status: "False", reason: invalid ? "InvalidSpec" : "Pending", message: invalid ?? "not deployed yet" });
  else if (desired > 0 && ready >= desired)
    set({ type: CONDITION.ready, status: "True", reason: "Running", message: `${ready}/${desired} workers ready (job generation ${status.jobGeneration})` });
  else
    set({
      type: CONDITION.ready,
      status: "False",
      reason: "WorkersNotReady",
      message: `${ready}/${desired} workers ready (job generation ${status.jobGeneration})`,
    });

  const progressing: ConditionInput = action
    ? {
        type: CONDITION.progressing,
        status: "True",
        reason: ACTION_REASON[action.type] ?? "Progressing",
        message: `${action.type}: step ${action.step ?? "?"}`,
      }
    : { type: CONDITION.progressing, status: "False", reason: "Idle", message: "no action in progress" };
  set(progressing);
  set({ ...progressing, type: CONDITION.reconciling });

  const savepointing = action?.type === "savepoint" || action?.step === "stopping";
  set(
    savepointing
      ? {
          type: CONDITION.savepointInProgress,
          status: "True",
          reason: action?.step === "stopping" ? "StopWithSavepoint" : "Savepoint",
          message: `savepoint ${action?.details?.name ?? ""}`,
        }
      : {
          type: CONDITION.savepointInProgress,
          status: "False",
          reason: "NoSavepoint",
          message: status.lastSavepoint?.location ? `last: ${status.lastSavepoint.location}` : "none taken yet",
        },
  );

  // Degraded: something a person may need to look at, even while the job runs.
  if (status.phase === "Failed")
    set({
      type: CONDITION.degraded,
      status: "True",
      reason: status.failedSpec?.reason ?? "Failed",
      message: status.failedSpec?.message ?? status.lastError?.message ?? "failed",
    });
  else if (invalid && status.jobGeneration)
    set({
      type: CONDITION.degraded,
      status: "True",
      reason: "InvalidSpec",
      message: `${invalid}; the job keeps running its last valid spec (job generation ${status.jobGeneration})`,
    });
  else if (failedHere) set({ type: CONDITION.degraded, status: "True", reason: failedHere.reason ?? "UpgradeFailed", message: failedHere.message ?? "" });
  else if (restartsInWindow > 0)
    set({
      type: CONDITION.degraded,
      status: "True",
      reason: "WorkerRestarts",
      message: `${restartsInWindow} worker crash${restartsInWindow > 1 ? "es" : ""} within the restart window${status.lastError?.message ? `; last: ${status.lastError.message}` : ""}`,
    });
  else set({ type: CONDITION.degraded, status: "False", reason: "AsExpected", message: "no crashes, valid spec" });

  // Stalled (kstatus): the operator cannot make progress toward this spec without a change.
  if (status.phase === "Failed")
    set({ type: CONDITION.stalled, status: "True", reason: status.failedSpec?.reason ?? "Failed", message: status.failedSpec?.message ?? "failed" });
  else if (invalid) set({ type: CONDITION.stalled, status: "True", reason: "InvalidSpec", message: invalid });
  else if (failedHere) set({ type: CONDITION.stalled, status: "True", reason: failedHere.reason ?? "UpgradeFailed", message: failedHere.message ?? "" });
  else set({ type: CONDITION.stalled, status: "False", reason: "AsExpected", message: "making progress" });
}
