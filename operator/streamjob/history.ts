/**
 * Savepoint history: completed savepoints, newest first, and which of them may be disposed —
 * beyond `savepoint.historyMax` or older than `savepoint.historyMaxAge` (the newest is always
 * kept), never one still needed: the rollback target, the savepoint the running generation
 * started from, the one a suspended job resumes from, one an action in progress uses, or one
 * owned by a StreamSavepoint object (disposed with that object, per its policy).
 */
import type { SavepointRecord, StreamJobSpec, StreamJobStatus } from "../../runtime/spec/generated/types.ts";
import { parseDuration } from "../../runtime/spec/duration.ts";

/** Adds a completed savepoint to the history and makes it the last savepoint. */
export function recordSavepoint(status: StreamJobStatus, record: SavepointRecord): void {
  status.lastSavepoint = record;
  status.savepoints = [record, ...(status.savepoints ?? []).filter((s) => s.location !== record.location)].slice(0, 100);
}

/** Savepoint locations that must not be disposed now. */
export function protectedLocations(status: StreamJobStatus): Set<string> {
  const keep = new Set<string>();
  if (status.lastStableSpec?.savepoint) keep.add(status.lastStableSpec.savepoint);
  if (status.restoredFrom) keep.add(status.restoredFrom);
  if (status.pendingAction?.savepoint) keep.add(status.pendingAction.savepoint);
  if (status.lastSavepoint?.trigger === "suspend" && status.lastSavepoint.location) keep.add(status.lastSavepoint.location);
  return keep;
}

/** The history entries to dispose under the spec's retention (oldest last in the list). */
export function expiredSavepoints(status: StreamJobStatus, spec: StreamJobSpec | undefined, now: Date): SavepointRecord[] {
  const history = status.savepoints ?? [];
  const max = spec?.savepoint?.historyMax ?? 5;
  const maxAgeMs = spec?.savepoint?.historyMaxAge ? parseDuration(spec.savepoint.historyMaxAge) : Infinity;
  const keep = protectedLocations(status);
  return history.filter((record, i) => {
    if (!record.location || record.name || keep.has(record.location)) return false;
    const tooMany = i >= max;
    const tooOld = i > 0 && record.timestamp !== undefined && now.getTime() - Date.parse(record.timestamp) > maxAgeMs;
    return tooMany || tooOld;
  });
}

/** Drops one location from the history (after it was disposed). */
export function forgetSavepoint(status: StreamJobStatus, location: string): void {
  status.savepoints = (status.savepoints ?? []).filter((s) => s.location !== location);
}
