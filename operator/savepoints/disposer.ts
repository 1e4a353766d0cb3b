/**
 * Savepoint storage, seen from the operator. Savepoints live on a volume every worker mounts
 * (spec.savepoint.storage: a ReadWriteMany claim, or a path from the pod template's volumes); the
 * operator itself mounts nothing, so it disposes of a savepoint with a short-lived Kubernetes Job
 * that mounts the same volume and runs `runnel savepoint dispose --missing-ok <location>`. This
 * works whether or not the job's workers run, and is idempotent (one Job per location, named by
 * its hash; an already deleted folder is fine). Object storage would implement the same
 * `SavepointDisposer` by deleting objects directly.
 */
import type { V1Job } from "@kubernetes/client-node";
import type { StreamJob, StreamJobSpec } from "../../runtime/spec/generated/types.ts";
import type { KindCache } from "../kube/caches.ts";
import { applyObject, RUNNEL_API_VERSION, type KubeClients } from "../kube/client.ts";
import type { DisposalState, SavepointDisposer } from "../streamjob/cluster.ts";
import { restrictedContainer, restrictedPod, savepointMounts } from "../streamjob/children.ts";
import { childNames, jobLabels, LABELS } from "../streamjob/names.ts";
import { hashOf } from "../streamjob/spec.ts";

/** Options of the volume disposer. */
export interface VolumeDisposerOptions {
  clients: KubeClients;
  jobs: KindCache<V1Job>;
  /** Image when the job names none. */
  image: string;
}

/** The Job that disposes of `location` with the volumes of `spec`. */
export function disposerJob(options: {
  namespace: string;
  jobName: string;
  spec: StreamJobSpec;
  location: string;
  image: string;
  owner: { kind: "StreamJob" | "StreamSavepoint"; name: string; uid: string };
}): V1Job {
  const { spec } = options;
  const storage = savepointMounts(spec);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: childNames.disposer(options.owner.name, hashOf(options.location)),
      namespace: options.namespace,
      labels: {
        ...jobLabels(options.jobName, "savepoint-disposer"),
        ...(options.owner.kind === "StreamSavepoint" ? { [LABELS.savepoint]: options.owner.name } : {}),
      },
      annotations: { "runnel.dev/savepoint-location": options.location },
      ownerReferences: [{ apiVersion: RUNNEL_API_VERSION, kind: options.owner.kind, name: options.owner.name, uid: options.owner.uid }],
    },
    spec: {
      backoffLimit: 3,
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: jobLabels(options.jobName, "savepoint-disposer") },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          securityContext: { ...restrictedPod },
          containers: [
            {
              name: "dispose",
              image: spec.image ?? options.image,
              args: ["savepoint", "dispose", "--missing-ok", options.location],
              securityContext: restrictedContainer,
              volumeMounts: storage.mounts,
            },
          ],
          volumes: storage.volumes,
        },
      },
    },
  };
}

/** Disposes of savepoints on a mounted volume through Kubernetes Jobs. */
export function volumeDisposer(options: VolumeDisposerOptions): SavepointDisposer {
  return {
    async dispose(job: StreamJob, location, owner): Promise<DisposalState> {
      const namespace = job.metadata?.namespace ?? "default";
      const spec = (job.status?.currentSpec ?? job.spec) as StreamJobSpec;
      const desired = disposerJob({ namespace, jobName: job.metadata?.name ?? "", spec, location, image: options.image, owner });
      const name = desired.metadata?.name ?? "";
      const existing = options.jobs.get(namespace, name);
      if (!existing) {
        await applyObject(options.clients, desired);
        return { state: "pending" };
      }
      if ((existing.status?.succeeded ?? 0) > 0) return { state: "done" };
      const failed = existing.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
      if (failed) return { state: "failed", message: `disposer Job ${name} failed: ${failed.message ?? failed.reason ?? "see its pod logs"}` };
      return { state: "pending" };
    },
  };
}
