/**
 * What the StreamJob reconciler needs from the world, as one interface: the observed state of a
 * job (from the informer caches), and the few things it does (apply the workers of a plan, scale
 * them, write status, talk to workers, dispose savepoints, record events). The real
 * implementation is kube-cluster.ts; the reconciler's decisions are tested against an in-memory
 * one, so every step of the write-ahead log can be interrupted and resumed in a unit test.
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { StreamJob, StreamJobStatus, StreamSavepoint, StreamSavepointStatus } from "../../runtime/spec/generated/types.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { WorkerPlan } from "./children.ts";
import { LABELS, ordinalOf, WORKER_CONTAINER } from "./names.ts";
import type { WorkerAdmin } from "./worker-admin.ts";

/** A container termination. */
export interface Termination {
  exitCode: number;
  finishedAt?: string;
  reason?: string;
}

/** One worker pod as the reconciler sees it. */
export interface PodView {
  name: string;
  uid: string;
  ordinal: number;
  ip?: string;
  /** Ready condition True. */
  ready: boolean;
  /** Being deleted. */
  deleting: boolean;
  /** The job generation label of the pod. */
  jobGeneration?: string;
  /** Container restarts. */
  restarts: number;
  /** The container's current termination (it exited and waits to be restarted). */
  terminated?: Termination;
  /** The container's previous termination. */
  lastTerminated?: Termination;
  /** Why the container waits (CrashLoopBackOff, ErrImagePull, …). */
  waitingReason?: string;
  waitingMessage?: string;
  /** Pod phase. */
  phase?: string;
}

/** The StatefulSet as observed. */
export interface StatefulSetView {
  replicas: number;
  readyReplicas: number;
  appliedHash?: string;
}

/** Everything observed about one job. */
export interface Observed {
  job: StreamJob;
  statefulSet?: StatefulSetView;
  pods: PodView[];
  /** The admin bearer token (from the job's Secret), once it exists. */
  adminToken?: string;
  /** StreamSavepoints of this job waiting to be taken (state Pending), oldest first. */
  savepointRequests: StreamSavepoint[];
  /** Looks up a StreamSavepoint in the job's namespace. */
  savepointObject(name: string): StreamSavepoint | undefined;
}

/** Where a disposal stands. */
export type DisposalState = { state: "pending" } | { state: "done" } | { state: "failed"; message: string };

/** Deletes savepoints from their storage, whether or not the job runs. */
export interface SavepointDisposer {
  /** Starts (idempotently) or checks the disposal of `location` for `job`'s storage; `owner` owns the disposal's objects. */
  dispose(job: StreamJob, location: string, owner: { kind: "StreamJob" | "StreamSavepoint"; name: string; uid: string }): Promise<DisposalState>;
}

/** The StreamJob reconciler's world. */
export interface JobCluster {
  now(): Date;
  /** The job and its children as the caches see them; undefined when the job is gone. */
  observe(namespace: string, name: string): Observed | undefined;
  /** Applies the plan's children (unchanged ones are skipped); the StatefulSet gets the plan's replicas. */
  applyWorkers(job: StreamJob, plan: WorkerPlan): Promise<void>;
  /** Sets the worker count through the StatefulSet's scale subresource (the template is untouched). */
  scaleWorkers(job: StreamJob, replicas: number): Promise<void>;
  /** Deletes the job's manifest ConfigMaps except those of `keepHashes`. */
  pruneManifests(job: StreamJob, keepHashes: string[]): Promise<void>;
  /** Writes the status, failing with a conflict if the job changed since it was observed. */
  writeStatus(job: StreamJob, status: StreamJobStatus): Promise<StreamJob>;
  /** The last lines of a worker's previous (or current) container log. */
  lastLogLines(job: StreamJob, pod: PodView, lines: number): Promise<string[]>;
  /** Writes a StreamSavepoint's status. */
  writeSavepointStatus(savepoint: StreamSavepoint, status: StreamSavepointStatus): Promise<void>;
  admin: WorkerAdmin;
  disposer: SavepointDisposer;
  events: EventRecorder;
}

function termination(t: { exitCode?: number; finishedAt?: Date | string; reason?: string } | undefined): Termination | undefined {
  if (!t || typeof t.exitCode !== "number") return undefined;
  const finishedAt = t.finishedAt instanceof Date ? t.finishedAt.toISOString() : t.finishedAt;
  return { exitCode: t.exitCode, ...(finishedAt ? { finishedAt } : {}), ...(t.reason ? { reason: t.reason } : {}) };
}

/** A worker pod as the reconciler sees it (undefined for a pod that is not a StatefulSet worker). */
export function podView(pod: V1Pod): PodView | undefined {
  const name = pod.metadata?.name ?? "";
  const ordinal = ordinalOf(name);
  if (ordinal === undefined) return undefined;
  const cs = pod.status?.containerStatuses?.find((c) => c.name === WORKER_CONTAINER) ?? pod.status?.containerStatuses?.[0];
  const terminated = termination(cs?.state?.terminated);
  const lastTerminated = termination(cs?.lastState?.terminated);
  const generation = pod.metadata?.labels?.[LABELS.jobGeneration];
  return {
    name,
    uid: pod.metadata?.uid ?? "",
    ordinal,
    ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}),
    ready: pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    ...(generation ? { jobGeneration: generation } : {}),
    restarts: cs?.restartCount ?? 0,
    ...(terminated ? { terminated } : {}),
    ...(lastTerminated ? { lastTerminated } : {}),
    ...(cs?.state?.waiting?.reason ? { waitingReason: cs.state.waiting.reason } : {}),
    ...(cs?.state?.waiting?.message ? { waitingMessage: cs.state.waiting.message } : {}),
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
  };
}
