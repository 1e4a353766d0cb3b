/**
 * The objects a StreamJob runs as, built from one worker plan: the manifest ConfigMap (one per
 * spec, immutable), the admin-token Secret, a headless Service, the worker StatefulSet and a
 * PodDisruptionBudget. Worker flags, environment, admin port and paths all come from the worker
 * contract (runtime/worker-contract.ts), so the pods start exactly as `runnel worker` expects.
 */
import { randomBytes } from "node:crypto";
import type { V1ConfigMap, V1PodDisruptionBudget, V1Secret, V1Service, V1StatefulSet, V1Volume, V1VolumeMount, V1EnvVar } from "@kubernetes/client-node";
import { stringify } from "yaml";
import type { StreamJob, StreamJobSpec } from "../../runtime/spec/generated/types.ts";
import { ADMIN_PATHS, ADMIN_PORT, WORKER_ENV, workerArgs, type JobGeneration } from "../../runtime/worker-contract.ts";
import { RUNNEL_API_VERSION } from "../kube/client.ts";
import { ANNOTATIONS, childNames, jobLabels, LABELS, WORKER_CONTAINER, WORKER_PATHS, workerSelector } from "./names.ts";
import { workerSpec } from "./spec.ts";

/** Everything the children of one job generation are built from. */
export interface WorkerPlan {
  /** The validated spec (with defaults) the workers run. */
  spec: StreamJobSpec;
  specHash: string;
  jobGeneration: JobGeneration;
  /** The savepoint the generation starts from (passed to every start of the generation). */
  restoreFrom?: string;
  allowNonRestoredState?: boolean;
  replicas: number;
}

/** Operator-wide defaults for children. */
export interface ChildDefaults {
  /** Worker image when spec.image is absent. */
  image: string;
  /** State volume size when spec.stateStorage.size is absent. */
  stateSize: string;
}

type Owned = { metadata?: { ownerReferences?: unknown[] } };

/** The ownerReference that makes the garbage collector delete a child with its job. */
export function ownerReference(job: StreamJob): NonNullable<V1ConfigMap["metadata"]>["ownerReferences"] {
  return [
    {
      apiVersion: RUNNEL_API_VERSION,
      kind: "StreamJob",
      name: job.metadata?.name ?? "",
      uid: job.metadata?.uid ?? "",
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

function meta(job: StreamJob, name: string, component = "worker"): NonNullable<V1ConfigMap["metadata"]> {
  const jobName = job.metadata?.name ?? "";
  return { name, namespace: job.metadata?.namespace ?? "default", labels: jobLabels(jobName, component), ownerReferences: ownerReference(job) };
}

/** The manifest the workers read: the job with the worker part of the spec (parallelism is the worker count, a flag). */
export function manifestConfigMap(job: StreamJob, plan: WorkerPlan): V1ConfigMap {
  const name = job.metadata?.name ?? "";
  const manifest = { apiVersion: RUNNEL_API_VERSION, kind: "StreamJob", metadata: { name, namespace: job.metadata?.namespace }, spec: workerSpec(plan.spec) };
  const m = meta(job, childNames.manifest(name, plan.specHash));
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { ...m, annotations: { [ANNOTATIONS.specHash]: plan.specHash } },
    immutable: true,
    data: { [WORKER_PATHS.manifestKey]: stringify(manifest) },
  };
}

/** The admin-token Secret (created once; the token is never rotated by re-applying). */
export function adminTokenSecret(job: StreamJob): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(job, childNames.adminSecret(job.metadata?.name ?? "")),
    type: "Opaque",
    stringData: { [WORKER_PATHS.adminTokenKey]: randomBytes(32).toString("hex") },
  };
}

/** The headless Service the StatefulSet requires (no cluster IP: workers are reached by pod IP). */
export function workerService(job: StreamJob): V1Service {
  const name = job.metadata?.name ?? "";
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(job, childNames.service(name)),
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: workerSelector(name),
      ports: [{ name: "admin", port: ADMIN_PORT, targetPort: ADMIN_PORT }],
    },
  };
}

/** At most one worker down at a time for voluntary disruptions (drains): each worker owns a share of the tasks. */
export function workerDisruptionBudget(job: StreamJob): V1PodDisruptionBudget {
  const name = job.metadata?.name ?? "";
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta(job, childNames.podDisruptionBudget(name)),
    spec: { maxUnavailable: 1, selector: { matchLabels: workerSelector(name) } },
  };
}

/** The savepoint volume and mount, when the storage is a claim. */
function savepointVolume(spec: StreamJobSpec): { volume: V1Volume; mount: V1VolumeMount } | undefined {
  const storage = spec.savepoint?.storage;
  if (!storage?.claimName) return undefined;
  return { volume: { name: "savepoints", persistentVolumeClaim: { claimName: storage.claimName } }, mount: { name: "savepoints", mountPath: storage.path } };
}

/** Volumes and mounts every pod that reads or writes savepoints needs (workers and disposers). */
export function savepointMounts(spec: StreamJobSpec): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const sp = savepointVolume(spec);
  const pt = spec.podTemplate;
  return {
    volumes: [...(sp ? [sp.volume] : []), ...((pt?.volumes ?? []) as unknown as V1Volume[])],
    mounts: [...(sp ? [sp.mount] : []), ...((pt?.volumeMounts ?? []) as unknown as V1VolumeMount[])],
  };
}

/** The restricted Pod Security settings of every container the operator runs. */
export const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};
export const restrictedPod = { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } };

/** The worker StatefulSet of a plan. */
export function workerStatefulSet(job: StreamJob, plan: WorkerPlan, defaults: ChildDefaults): V1StatefulSet {
  const name = job.metadata?.name ?? "";
  const namespace = job.metadata?.namespace ?? "default";
  const { spec } = plan;
  const pt = spec.podTemplate;
  const args = workerArgs({
    manifest: WORKER_PATHS.manifest,
    namespace,
    workers: plan.replicas,
    stateDir: WORKER_PATHS.stateDir,
    generation: plan.jobGeneration,
    ...(plan.restoreFrom === undefined ? {} : { restoreFrom: plan.restoreFrom }),
    ...(plan.allowNonRestoredState ? { allowNonRestoredState: true } : {}),
    adminTokenFile: WORKER_PATHS.adminToken,
  });
  const env: V1EnvVar[] = [
    { name: WORKER_ENV.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: WORKER_ENV.podNamespace, valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: WORKER_ENV.podIp, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
    { name: WORKER_ENV.logFormat, value: "json" },
    { name: "TMPDIR", value: WORKER_PATHS.tmpDir },
    ...((pt?.env ?? []) as unknown as V1EnvVar[]),
  ];
  const storage = savepointMounts(spec);
  const probe = (path: string, period: number, failures: number) => ({
    httpGet: { path, port: ADMIN_PORT },
    periodSeconds: period,
    failureThreshold: failures,
    timeoutSeconds: 3,
  });
  const labels = { ...(pt?.metadata?.labels ?? {}), ...jobLabels(name), [LABELS.jobGeneration]: plan.jobGeneration };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta(job, childNames.statefulSet(name)),
    spec: {
      replicas: plan.replicas,
      serviceName: childNames.service(name),
      // Workers do not depend on each other: start and stop them all at once.
      podManagementPolicy: "Parallel",
      // Only the operator replaces workers (scaled to zero first): the StatefulSet never rolls pods itself.
      updateStrategy: { type: "OnDelete" },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
      selector: { matchLabels: workerSelector(name) },
      template: {
        metadata: {
          labels,
          annotations: { ...(pt?.metadata?.annotations ?? {}), [ANNOTATIONS.specHash]: plan.specHash },
        },
        spec: {
          ...(pt?.serviceAccountName ? { serviceAccountName: pt.serviceAccountName } : { automountServiceAccountToken: false }),
          ...(pt?.priorityClassName ? { priorityClassName: pt.priorityClassName } : {}),
          ...(pt?.nodeSelector ? { nodeSelector: pt.nodeSelector } : {}),
          ...(pt?.affinity ? { affinity: pt.affinity } : {}),
          ...(pt?.tolerations ? { tolerations: pt.tolerations } : {}),
          ...(pt?.topologySpreadConstraints ? { topologySpreadConstraints: pt.topologySpreadConstraints as never } : {}),
          ...(pt?.imagePullSecrets ? { imagePullSecrets: pt.imagePullSecrets } : {}),
          terminationGracePeriodSeconds: pt?.terminationGracePeriodSeconds ?? 60,
          securityContext: { ...restrictedPod },
          containers: [
            {
              name: WORKER_CONTAINER,
              image: spec.image ?? defaults.image,
              ...(spec.imagePullPolicy ? { imagePullPolicy: spec.imagePullPolicy } : {}),
              args,
              env,
              ports: [{ name: "admin", containerPort: ADMIN_PORT }],
              readinessProbe: probe(ADMIN_PATHS.readyz, 2, 3),
              livenessProbe: { ...probe(ADMIN_PATHS.healthz, 10, 6), initialDelaySeconds: 10 },
              ...(spec.resources ? { resources: spec.resources as never } : {}),
              securityContext: restrictedContainer,
              volumeMounts: [
                { name: "manifest", mountPath: WORKER_PATHS.manifestDir, readOnly: true },
                { name: "admin-token", mountPath: WORKER_PATHS.adminTokenDir, readOnly: true },
                { name: "state", mountPath: WORKER_PATHS.stateDir },
                { name: "tmp", mountPath: WORKER_PATHS.tmpDir },
                ...storage.mounts,
              ],
            },
          ],
          volumes: [
            { name: "manifest", configMap: { name: childNames.manifest(name, plan.specHash) } },
            // The root filesystem is read-only: scratch space is an emptyDir, named by $TMPDIR.
            { name: "tmp", emptyDir: {} },
            { name: "admin-token", secret: { secretName: childNames.adminSecret(name), items: [{ key: WORKER_PATHS.adminTokenKey, path: "token" }] } },
            ...storage.volumes,
          ],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: "state", labels: jobLabels(name) },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(spec.stateStorage?.storageClassName ? { storageClassName: spec.stateStorage.storageClassName } : {}),
            resources: { requests: { storage: String(spec.stateStorage?.size ?? defaults.stateSize) } },
          },
        },
      ],
    },
  };
}

/** Marks a child with the hash of its desired content (the operator re-applies it when this differs). */
export function withAppliedHash<T extends Owned & { metadata?: { annotations?: Record<string, string> } }>(obj: T, hash: string): T {
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...(obj.metadata?.annotations ?? {}), [ANNOTATIONS.appliedHash]: hash } } };
}
