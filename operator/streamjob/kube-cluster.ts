/**
 * The StreamJob reconciler's world on a real cluster: observations from the informer caches,
 * children by server-side apply (skipped when the cached child already carries the hash of what
 * would be applied), scaling through the StatefulSet's scale subresource, status through the
 * status subresource with the read resourceVersion as precondition. A StatefulSet whose
 * immutable fields (volume claim templates, selector, service name) changed is deleted with its
 * pods orphaned and created again, which adopts them — never retried blindly on 422.
 */
import type { V1StatefulSet } from "@kubernetes/client-node";
import type { Logger } from "../../runtime/log.ts";
import type { StreamJob, StreamJobStatus, StreamSavepoint } from "../../runtime/spec/generated/types.ts";
import { isNotFound, KubeApiError, kubeError, statusOf } from "../errors.ts";
import { deriveAdminToken } from "../kube/admin-key.ts";
import type { Caches } from "../kube/caches.ts";
import { applyObject, applyStatus, describeObject, mergePatch, STREAM_JOB, STREAM_SAVEPOINT, FIELD_MANAGER, type KubeClients } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { ObjectLike } from "../kube/informer.ts";
import type { KindCache } from "../kube/caches.ts";
import {
  adminTokenSecret,
  manifestConfigMap,
  withAppliedHash,
  workerDisruptionBudget,
  workerService,
  workerStatefulSet,
  type ChildDefaults,
  type WorkerPlan,
} from "./children.ts";
import { podView, type JobCluster, type Observed, type PodView, type SavepointDisposer } from "./cluster.ts";
import { ANNOTATIONS, childNames, LABELS, WORKER_CONTAINER } from "./names.ts";
import { savepointStatus } from "../streamsavepoint/status.ts";
import { compactJson, hashOf, statusForApply } from "./spec.ts";
import type { WorkerAdmin } from "./worker-admin.ts";

/** Options of the cluster-backed JobCluster. */
export interface KubeJobClusterOptions {
  clients: KubeClients;
  caches: Caches;
  defaults: ChildDefaults;
  /** The operator's admin key, from which each job's worker admin token is derived (ADR 28). */
  adminKey: Buffer;
  admin: WorkerAdmin;
  disposer: SavepointDisposer;
  events: EventRecorder;
  log: Logger;
  /**
   * While a job's workers are not all ready, its admin token Secret is created again (a 409 when
   * it exists) at most this often, so a Secret deleted by hand comes back without reading Secrets
   * (ADR 28): new pods wait for it. Default 30 s.
   */
  tokenRecheckMs?: number;
}

/** Creates the JobCluster over the API and the caches. */
export function kubeJobCluster(options: KubeJobClusterOptions): JobCluster {
  const { clients, caches } = options;
  /** When this process last created or found each job's (by uid) admin token Secret: it is never read back. */
  const tokenSecrets = new Map<string, number>();
  const tokenRecheckMs = options.tokenRecheckMs ?? 30_000;

  /** Applies `obj` unless the cached copy already carries its hash. */
  async function ensure<T extends ObjectLike & { metadata?: { annotations?: Record<string, string> } }>(cache: KindCache<T>, obj: T): Promise<T> {
    const hash = hashOf(obj);
    const cached = cache.get(obj.metadata?.namespace ?? "", obj.metadata?.name ?? "");
    if (cached?.metadata?.annotations?.[ANNOTATIONS.appliedHash] === hash) return cached;
    return applyObject(clients, withAppliedHash(obj, hash) as never);
  }

  async function ensureStatefulSet(sts: V1StatefulSet, job: StreamJob): Promise<void> {
    const what = describeObject(sts);
    const cached = caches.statefulsets.get(sts.metadata?.namespace ?? "", sts.metadata?.name ?? "");
    // A replaced StatefulSet is gone only once the garbage collector has orphaned its pods: wait for that.
    if (cached?.metadata?.deletionTimestamp)
      throw new KubeApiError(`${what} is being replaced (an immutable field changed); waiting for the old object to go`, 409);
    try {
      // Scaling goes through the scale subresource, which leaves the applied hash alone: compare replicas too.
      if (cached && cached.spec?.replicas !== sts.spec?.replicas) await applyObject(clients, withAppliedHash(sts, hashOf(sts)) as never);
      else await ensure(caches.statefulsets, sts);
    } catch (err) {
      if (statusOf(err) !== 422) throw err;
      // An immutable field changed (volume claim templates, selector, service name): delete the
      // StatefulSet leaving its pods, and create it again once it is gone — the new one adopts them.
      options.log.warn("StatefulSet fields are immutable; replacing it with its pods orphaned", { statefulSet: what, error: (err as Error).message });
      options.events.record(job, "Normal", "StatefulSetReplaced", `${what}: an immutable field changed; replacing it, its pods are kept and adopted`);
      try {
        await clients.apps.deleteNamespacedStatefulSet({
          name: sts.metadata?.name ?? "",
          namespace: sts.metadata?.namespace ?? "",
          propagationPolicy: "Orphan",
        });
      } catch (e) {
        if (!isNotFound(e)) throw kubeError(`delete ${what}`, e);
      }
      throw new KubeApiError(`${what} is being replaced (an immutable field changed); it is created again once the old object is gone`, 409);
    }
  }

  return {
    now: () => new Date(),
    observe(namespace, name): Observed | undefined {
      const job = caches.streamjobs.get(namespace, name);
      if (!job) return undefined;
      const sts = caches.statefulsets.get(namespace, childNames.statefulSet(name));
      const pods = caches.pods
        .list(namespace)
        .filter((p) => p.metadata?.labels?.[LABELS.job] === name && p.metadata.labels[LABELS.component] === "worker")
        .map(podView)
        .filter((p): p is PodView => p !== undefined)
        .sort((a, b) => a.ordinal - b.ordinal);
      const savepointRequests = caches.streamsavepoints
        .list(namespace)
        .filter((s) => s.spec.jobName === name && s.status?.state === "Pending" && !s.metadata?.deletionTimestamp)
        .sort((a, b) => String(a.metadata?.creationTimestamp ?? "").localeCompare(String(b.metadata?.creationTimestamp ?? "")));
      return {
        job,
        ...(sts
          ? {
              statefulSet: {
                replicas: sts.spec?.replicas ?? 0,
                readyReplicas: sts.status?.readyReplicas ?? 0,
                ...(sts.metadata?.annotations?.[ANNOTATIONS.appliedHash] ? { appliedHash: sts.metadata.annotations[ANNOTATIONS.appliedHash] } : {}),
              },
            }
          : {}),
        pods,
        adminToken: deriveAdminToken(options.adminKey, job),
        savepointRequests,
        savepointObject: (n) => caches.streamsavepoints.get(namespace, n),
      };
    },
    async applyWorkers(job, plan: WorkerPlan) {
      const { namespace, name } = { namespace: job.metadata?.namespace ?? "default", name: job.metadata?.name ?? "" };
      if (!caches.configmaps.get(namespace, childNames.manifest(name, plan.specHash))) await applyObject(clients, manifestConfigMap(job, plan) as never);
      const uid = job.metadata?.uid ?? "";
      const sts = caches.statefulsets.get(namespace, childNames.statefulSet(name));
      const allReady = sts !== undefined && (sts.status?.readyReplicas ?? 0) >= (sts.spec?.replicas ?? 0);
      const checked = tokenSecrets.get(uid);
      if (checked === undefined || (!allReady && Date.now() - checked >= tokenRecheckMs)) {
        try {
          await clients.core.createNamespacedSecret({ namespace, body: adminTokenSecret(job, deriveAdminToken(options.adminKey, job)) });
          if (checked !== undefined)
            options.events.record(
              job,
              "Normal",
              "TokenSecretRecreated",
              `the workers' admin token Secret ${childNames.adminSecret(name)} was missing: created again`,
            );
        } catch (err) {
          // 409: it exists, created earlier from the same key; it is never read nor replaced.
          if (statusOf(err) !== 409) throw kubeError(`create Secret ${namespace}/${childNames.adminSecret(name)}`, err);
        }
        tokenSecrets.set(uid, Date.now());
      }
      await ensure(caches.services, workerService(job));
      await ensureStatefulSet(workerStatefulSet(job, plan, options.defaults), job);
      await ensure(caches.poddisruptionbudgets, workerDisruptionBudget(job));
    },
    async scaleWorkers(job, replicas) {
      const ref = { name: childNames.statefulSet(job.metadata?.name ?? ""), namespace: job.metadata?.namespace ?? "default" };
      try {
        await clients.apps.patchNamespacedStatefulSetScale({ ...ref, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER }, mergePatch);
      } catch (err) {
        if (!isNotFound(err)) throw kubeError(`scale StatefulSet ${ref.namespace}/${ref.name} to ${replicas}`, err);
      }
    },
    async pruneManifests(job, keepHashes) {
      const namespace = job.metadata?.namespace ?? "default";
      const name = job.metadata?.name ?? "";
      const keep = new Set(keepHashes.map((h) => childNames.manifest(name, h)));
      for (const cm of caches.configmaps.list(namespace)) {
        const cmName = cm.metadata?.name ?? "";
        if (cm.metadata?.labels?.[LABELS.job] !== name || !cm.metadata.annotations?.[ANNOTATIONS.specHash] || keep.has(cmName)) continue;
        try {
          await clients.core.deleteNamespacedConfigMap({ name: cmName, namespace });
        } catch (err) {
          if (!isNotFound(err)) throw kubeError(`delete ConfigMap ${namespace}/${cmName}`, err);
        }
      }
    },
    async writeStatus(job, status: StreamJobStatus) {
      const ref = {
        namespace: job.metadata?.namespace ?? "default",
        name: job.metadata?.name ?? "",
        ...(job.metadata?.resourceVersion ? { resourceVersion: job.metadata.resourceVersion } : {}),
      };
      return applyStatus<StreamJob>(clients, STREAM_JOB, ref, statusForApply(status));
    },
    async lastLogLines(job, pod, lines) {
      const ref = { name: pod.name, namespace: job.metadata?.namespace ?? "default", container: WORKER_CONTAINER, tailLines: lines };
      // The crashed container's log is the previous one; a container still terminated has only its current one.
      for (const previous of [true, false]) {
        try {
          const text = await clients.core.readNamespacedPodLog({ ...ref, previous });
          if (text.trim()) return text.split("\n");
        } catch {
          // not available this way: try the other
        }
      }
      return [];
    },
    async writeSavepointStatus(savepoint: StreamSavepoint, status) {
      const ref = { namespace: savepoint.metadata?.namespace ?? "default", name: savepoint.metadata?.name ?? "" };
      await applyStatus(clients, STREAM_SAVEPOINT, ref, compactJson(savepointStatus(savepoint, status, new Date())));
    },
    admin: options.admin,
    disposer: options.disposer,
    events: options.events,
  };
}
