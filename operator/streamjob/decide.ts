/**
 * Choosing the next action of an idle job, in priority order: the first deployment, suspend and
 * resume, an upgrade (the workers' part of the spec changed), a rescale (only the worker count
 * changed), a restart (restartNonce), and savepoints (savepointTriggerNonce, a StreamSavepoint
 * waiting, the periodic interval). A spec the operator gave up on (failedSpec) is not acted on
 * again until the object's generation moves.
 */
import type { StreamJobSpec } from "../../runtime/spec/generated/types.ts";
import { parseDuration } from "../../runtime/spec/duration.ts";
import { CONDITION, getCondition } from "./conditions.ts";
import { currentSpecOf, type JobContext } from "./context.ts";
import { classifyChange, specHash } from "./spec.ts";

/** An action to begin. */
export interface ActionStart {
  type: "deploy" | "upgrade" | "rescale" | "savepoint" | "suspend" | "resume" | "restart";
  /** Why, for the event. */
  reason: string;
  /** For savepoints: what caused it. */
  trigger?: "manual" | "periodic" | "nonce" | "suspend";
  /** The StreamSavepoint object the action fulfils. */
  request?: string;
}

/** What the restore of a first deployment resolves to (or why it must wait). */
export function restoreSource(ctx: JobContext, spec: StreamJobSpec): { location?: string; waiting?: string } {
  const from = spec.restoreFrom;
  if (!from) return {};
  if (from.path) return { location: from.path };
  const name = from.savepointName ?? "";
  const sp = ctx.obs.savepointObject(name);
  if (sp?.status?.state === "Completed" && sp.status.location) return { location: sp.status.location };
  return { waiting: sp ? `StreamSavepoint ${name} is ${sp.status?.state ?? "Pending"}` : `StreamSavepoint ${name} does not exist` };
}

/** The next action of an idle job, if any. */
export function decideAction(ctx: JobContext, desired: StreamJobSpec | undefined): ActionStart | undefined {
  const { status, job } = ctx;
  const generation = job.metadata?.generation ?? 0;
  const blocked = status.failedSpec?.generation === generation;
  const fromSpec = ctx.validation.valid && !blocked ? desired : undefined;
  const running = status.jobGeneration !== undefined && status.phase !== "Suspended" && status.phase !== "Failed";

  if (!status.jobGeneration) {
    if (!fromSpec || fromSpec.state === "suspended") return undefined;
    return { type: "deploy", reason: "first deployment" };
  }
  if (fromSpec) {
    const stopRequest = ctx.obs.savepointRequests.find((s) => s.spec.type === "stop");
    if (fromSpec.state === "suspended" && status.phase !== "Suspended")
      return { type: "suspend", reason: "spec.state is suspended", trigger: "suspend", ...(stopRequest ? { request: stopRequest.metadata?.name ?? "" } : {}) };
    if (fromSpec.state !== "suspended" && status.phase === "Suspended") return { type: "resume", reason: "spec.state is running" };
    if (status.phase === "Suspended") return undefined;
    // A failed job starts again on any new generation of its spec (the fix may be in the restart policy alone).
    if (status.phase === "Failed")
      return specHash(fromSpec) !== status.currentSpecHash
        ? { type: "upgrade", reason: "the spec changed after the job failed" }
        : { type: "restart", reason: "the spec changed after the job failed" };
    const change = classifyChange({ specHash: status.currentSpecHash ?? "", parallelism: status.parallelism ?? 0 }, fromSpec);
    if (change === "upgrade") return { type: "upgrade", reason: "the job's spec changed" };
    if (change === "scale") return { type: "rescale", reason: `parallelism ${status.parallelism ?? 0} → ${fromSpec.parallelism ?? 1}` };
    if (fromSpec.restartNonce !== undefined && fromSpec.restartNonce !== status.observedRestartNonce)
      return { type: "restart", reason: "restartNonce changed" };
    if (fromSpec.savepointTriggerNonce !== undefined && fromSpec.savepointTriggerNonce !== status.observedSavepointTriggerNonce && running)
      return { type: "savepoint", reason: "savepointTriggerNonce changed", trigger: "nonce" };
  }
  if (!running) return undefined;
  const spec = desired ?? currentSpecOf(status);
  if (!spec?.savepoint) return undefined;
  const request = ctx.obs.savepointRequests.find((s) => s.spec.type !== "stop");
  if (request)
    return { type: "savepoint", reason: `StreamSavepoint ${request.metadata?.name ?? ""}`, trigger: "manual", request: request.metadata?.name ?? "" };
  if (spec.savepoint.interval) {
    const ready = getCondition(status.conditions, CONDITION.ready);
    const last = status.lastSavepoint?.timestamp ?? (ready?.status === "True" ? ready.lastTransitionTime : undefined);
    const since = last ? Date.parse(last) : undefined;
    if (since !== undefined && ctx.now.getTime() - since >= parseDuration(spec.savepoint.interval) && status.phase === "Running")
      return { type: "savepoint", reason: `periodic (every ${spec.savepoint.interval})`, trigger: "periodic" };
  }
  return undefined;
}
