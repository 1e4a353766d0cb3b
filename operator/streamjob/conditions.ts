/**
 * Conditions in the metav1.Condition shape. `Ready`, `Progressing`, `Degraded` and
 * `SavepointInProgress` are for people and `kubectl wait`; `Reconciling` and `Stalled` are the
 * abnormal-true pair kstatus (Argo CD, Flux, `kubectl wait --for=jsonpath`) reads. A condition's
 * lastTransitionTime moves only when its status does.
 */
import type { Condition } from "../../runtime/spec/generated/types.ts";

/** Condition types the operator sets on a StreamJob. */
export const CONDITION = {
  ready: "Ready",
  progressing: "Progressing",
  degraded: "Degraded",
  savepointInProgress: "SavepointInProgress",
  reconciling: "Reconciling",
  stalled: "Stalled",
} as const;

/** A condition to set (the time and generation are filled in). */
export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/** Returns `conditions` with `input` set for `generation` at `now`. */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, generation: number, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const old = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message.slice(0, 32768),
    observedGeneration: generation,
    lastTransitionTime: old && old.status === input.status ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** The condition of `type`, if set. */
export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of `type` is True. */
export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === "True";
}
