/**
 * Worker health: crashes counted from the pods' restart counts (remembered per pod uid in the
 * status, so an operator restart neither forgets nor double-counts them), the restart policy's
 * sliding window, and what the last crash said (exit code, its class per the worker contract).
 * Exits with code 0 are not crashes: a worker exits 0 after stop-with-savepoint or when its
 * generation was sealed.
 */
import type { RestartCounts, RestartPolicy } from "../../runtime/spec/generated/types.ts";
import { parseDuration } from "../../runtime/spec/duration.ts";
import { exitClassOf, type ExitClass } from "../../runtime/worker-contract.ts";
import type { PodView, Termination } from "./cluster.ts";

/** A worker that crashed since the last look. */
export interface Crash {
  pod: PodView;
  /** New crashes of this pod. */
  count: number;
  exit?: Termination;
  exitClass?: ExitClass;
}

/** The restart policy with defaults. */
export function restartPolicy(policy: RestartPolicy | undefined): { maxRestarts: number; windowMs: number } {
  return { maxRestarts: policy?.maxRestarts ?? 5, windowMs: parseDuration(policy?.window ?? "10m") };
}

/** The most recent termination of a pod's worker container (current, else previous). */
export function lastExit(pod: PodView): Termination | undefined {
  return pod.terminated ?? pod.lastTerminated;
}

/** Updates restart counts from the pods; returns the new counts and the crashes seen now. */
export function countRestarts(
  previous: RestartCounts | undefined,
  pods: readonly PodView[],
  now: Date,
  policy: RestartPolicy | undefined,
): { restarts: RestartCounts; crashes: Crash[] } {
  const { maxRestarts, windowMs } = restartPolicy(policy);
  const seen: Record<string, number> = {};
  const crashes: Crash[] = [];
  let recent = [...(previous?.recent ?? [])];
  let total = previous?.total ?? 0;
  let lastRestartTime = previous?.lastRestartTime;
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  for (const pod of pods) {
    if (!pod.uid) continue;
    const before = previous?.seen?.[pod.uid] ?? 0;
    seen[pod.uid] = pod.restarts;
    const fresh = pod.restarts - before;
    if (fresh <= 0) continue;
    const exit = lastExit(pod);
    if (exit?.exitCode === 0) continue;
    total += fresh;
    lastRestartTime = stamp;
    for (let i = 0; i < fresh; i++) recent.unshift(stamp);
    crashes.push({ pod, count: fresh, ...(exit ? { exit, exitClass: exitClassOf(exit.exitCode) } : {}) });
  }
  recent = recent.filter((t) => now.getTime() - Date.parse(t) <= windowMs).slice(0, maxRestarts + 1);
  return {
    restarts: { total, inWindow: recent.length, recent, seen, ...(lastRestartTime ? { lastRestartTime } : {}) },
    crashes,
  };
}

/** True when the crashes within the window exceed the policy: the job must stop (or roll back). */
export function crashLooping(restarts: RestartCounts, policy: RestartPolicy | undefined): boolean {
  return (restarts.inWindow ?? 0) > restartPolicy(policy).maxRestarts;
}

/** "exit 78 (configuration)" for a termination. */
export function describeExit(exit: Termination | undefined): string {
  if (!exit) return "no exit code recorded";
  const cls = exitClassOf(exit.exitCode);
  return `exit ${exit.exitCode} (${cls}${exit.reason && exit.reason !== "Error" ? `, ${exit.reason}` : ""})`;
}
