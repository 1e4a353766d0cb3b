/**
 * Names, labels and paths of a StreamJob's children, in one place so that builders, observers
 * and tests agree. The StatefulSet is named after the job (pods `<job>-<ordinal>`); its pods
 * carry the job generation they run as a label, so the operator can tell generations apart.
 */
import { MANAGED_BY, MANAGED_BY_LABEL } from "../kube/resources.ts";

export const LABELS = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  managedBy: MANAGED_BY_LABEL,
  /** The StreamJob a child belongs to (the worker selector). */
  job: "runnel.dev/job",
  /** The job generation a worker pod runs. */
  jobGeneration: "runnel.dev/job-generation",
  /** The StreamSavepoint a disposer Job works for. */
  savepoint: "runnel.dev/savepoint",
} as const;

export const ANNOTATIONS = {
  /** Hash of what the operator last applied to a child (re-applied when it differs). */
  appliedHash: "runnel.dev/applied-hash",
  /** The spec hash a worker ConfigMap holds. */
  specHash: "runnel.dev/spec-hash",
} as const;

/** Where things are inside a worker pod. */
export const WORKER_PATHS = {
  manifestDir: "/etc/runnel/job",
  manifest: "/etc/runnel/job/streamjob.yaml",
  manifestKey: "streamjob.yaml",
  adminTokenDir: "/etc/runnel/admin",
  adminToken: "/etc/runnel/admin/token",
  adminTokenKey: "token",
  stateDir: "/var/lib/runnel/state",
  tmpDir: "/var/run/runnel/tmp",
} as const;

/** The worker container's name. */
export const WORKER_CONTAINER = "worker";

/** Labels on every child of a job. */
export function jobLabels(job: string, component = "worker"): Record<string, string> {
  return { [LABELS.name]: "runnel", [LABELS.instance]: job, [LABELS.component]: component, [LABELS.managedBy]: MANAGED_BY, [LABELS.job]: job };
}

/** The worker pods' selector (never includes the generation: StatefulSet selectors are immutable). */
export function workerSelector(job: string): Record<string, string> {
  return { [LABELS.job]: job, [LABELS.component]: "worker" };
}

/** The selector as a string, for status.selector (the scale subresource and HPA). */
export function selectorString(job: string): string {
  return Object.entries(workerSelector(job))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

export const childNames = {
  statefulSet: (job: string): string => job,
  podDisruptionBudget: (job: string): string => job,
  /** Services need a DNS-1035 label (a letter first); job names may start with a digit. */
  service: (job: string): string => `runnel-${job}`,
  adminSecret: (job: string): string => `${job}-admin-token`,
  /** One immutable ConfigMap per spec: a pod restarted mid-upgrade can never read the next spec. */
  manifest: (job: string, specHash: string): string => `${job}-spec-${specHash.slice(0, 10)}`,
  /** A disposer Job per savepoint location. */
  disposer: (owner: string, locationHash: string): string => `${owner.slice(0, 40)}-dispose-${locationHash.slice(0, 10)}`,
  pod: (job: string, ordinal: number): string => `${job}-${ordinal}`,
};

/** The ordinal of a StatefulSet pod (`job-3` → 3). */
export function ordinalOf(podName: string): number | undefined {
  const m = /-(\d+)$/.exec(podName);
  return m ? Number(m[1]) : undefined;
}
