/** A StreamSavepoint's status with its Ready condition following its state (Completed → True). */
import type { StreamSavepoint, StreamSavepointStatus } from "../../runtime/spec/generated/types.ts";
import { setCondition } from "../streamjob/conditions.ts";

/** The status to write: `status` plus observedGeneration and the Ready condition. */
export function savepointStatus(sp: StreamSavepoint, status: StreamSavepointStatus, now: Date): StreamSavepointStatus {
  const state = status.state ?? "Pending";
  const message =
    state === "Completed"
      ? `savepoint at ${status.location ?? "?"}`
      : state === "Failed"
        ? (status.error ?? "failed")
        : state === "Disposed"
          ? "disposed"
          : `savepoint ${state}`;
  const generation = sp.metadata?.generation ?? 0;
  return {
    ...status,
    observedGeneration: generation,
    conditions: setCondition(
      status.conditions ?? sp.status?.conditions,
      { type: "Ready", status: state === "Completed" ? "True" : "False", reason: state, message },
      generation,
      now,
    ),
  };
}
