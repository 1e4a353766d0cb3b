/**
 * The StreamSavepoint reconciler. Creating one either registers an existing savepoint (`path`)
 * or files a request its StreamJob's reconciler takes when the job is idle (state Pending → the
 * job's action → Completed or Failed); a `stop` savepoint also sets the job's `spec.state` to
 * suspended, so it stays stopped. With `disposeOnDelete` a finalizer holds the object until its
 * savepoint is disposed (through the job's storage, or the claim recorded in the status when the
 * job is gone).
 */
import type { StreamJob, StreamSavepoint, StreamSavepointStatus } from "../../runtime/spec/generated/types.ts";
import { done, requeueAfter, type ReconcileContext, type ReconcileResult, type Reconciler } from "../machinery/controller.ts";
import type { KindCache } from "../kube/caches.ts";
import { applyStatus, patchRunnelObject, STREAM_JOB, STREAM_SAVEPOINT, type KubeClients } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { SavepointDisposer } from "../streamjob/cluster.ts";
import { stamp } from "../streamjob/context.ts";
import { savepointStatus } from "./status.ts";

/** The finalizer that holds a StreamSavepoint with disposeOnDelete until its files are gone. */
export const DISPOSE_FINALIZER = "runnel.dev/dispose-savepoint";

/** Options of the StreamSavepoint reconciler. */
export interface SavepointReconcilerOptions {
  clients: KubeClients;
  savepoints: KindCache<StreamSavepoint>;
  jobs: KindCache<StreamJob>;
  disposer: SavepointDisposer;
  events: EventRecorder;
  /** Asks the StreamJob controller to look at a job (`namespace/name`). */
  enqueueJob(key: string): void;
  now?: () => Date;
}

/** A stand-in job carrying only the storage a savepoint was written to (its job is gone). */
function storageOnlyJob(sp: StreamSavepoint): StreamJob | undefined {
  if (!sp.status?.claimName || !sp.status.storagePath) return undefined;
  return {
    metadata: { name: sp.spec.jobName, namespace: sp.metadata?.namespace ?? "default" },
    spec: { savepoint: { storage: { path: sp.status.storagePath, claimName: sp.status.claimName } } },
  };
}

/** Creates the StreamSavepoint reconciler. */
export function createSavepointReconciler(options: SavepointReconcilerOptions): Reconciler {
  const now = options.now ?? (() => new Date());

  async function write(sp: StreamSavepoint, status: StreamSavepointStatus): Promise<void> {
    await applyStatus(
      options.clients,
      STREAM_SAVEPOINT,
      { namespace: sp.metadata?.namespace ?? "default", name: sp.metadata?.name ?? "" },
      savepointStatus(sp, status, now()),
    );
  }

  async function setFinalizers(sp: StreamSavepoint, finalizers: string[]): Promise<void> {
    await patchRunnelObject(
      options.clients,
      STREAM_SAVEPOINT,
      { namespace: sp.metadata?.namespace ?? "default", name: sp.metadata?.name ?? "" },
      { metadata: { finalizers } },
    );
  }

  return async (rc: ReconcileContext): Promise<ReconcileResult> => {
    const [namespace = "", name = ""] = rc.key.split("/");
    const sp = options.savepoints.get(namespace, name);
    if (!sp) return done();
    const finalizers = (sp.metadata?.finalizers as string[] | undefined) ?? [];
    const job = options.jobs.get(namespace, sp.spec.jobName);
    const jobKey = `${namespace}/${sp.spec.jobName}`;

    if (sp.metadata?.deletionTimestamp) {
      if (!finalizers.includes(DISPOSE_FINALIZER)) return done();
      const location = sp.status?.location;
      const target = job ?? storageOnlyJob(sp);
      if (sp.spec.disposeOnDelete && location && sp.status?.state === "Completed" && target) {
        const state = await options.disposer.dispose(target, location, { kind: "StreamSavepoint", name, uid: String(sp.metadata.uid ?? "") });
        if (state.state === "pending") return requeueAfter(2_000);
        if (state.state === "failed") options.events.record(sp, "Warning", "DisposeFailed", `${state.message}; the files at ${location} remain`);
        else options.events.record(sp, "Normal", "Disposed", `savepoint ${location} disposed`);
      } else if (sp.spec.disposeOnDelete && location && !target) {
        options.events.record(
          sp,
          "Warning",
          "DisposeSkipped",
          `job ${sp.spec.jobName} is gone and no storage claim was recorded: the files at ${location} remain`,
        );
      }
      await setFinalizers(
        sp,
        finalizers.filter((f) => f !== DISPOSE_FINALIZER),
      );
      return done();
    }

    if (sp.spec.disposeOnDelete && !finalizers.includes(DISPOSE_FINALIZER)) await setFinalizers(sp, [...finalizers, DISPOSE_FINALIZER]);

    if (!sp.status?.state) {
      if (sp.spec.path) {
        await write(sp, { state: "Completed", location: sp.spec.path, timestamp: stamp(now()) });
        options.events.record(sp, "Normal", "Registered", `existing savepoint at ${sp.spec.path} registered`);
        return done();
      }
      if (!job) {
        await write(sp, {
          state: "Failed",
          error: `StreamJob ${sp.spec.jobName} not found in namespace ${namespace}; create the job first, or set spec.path to register an existing savepoint`,
        });
        return done();
      }
      if (!job.spec.savepoint) {
        await write(sp, {
          state: "Failed",
          error: `StreamJob ${sp.spec.jobName} has no savepoint storage: set its spec.savepoint.storage (path, and claimName for a shared volume)`,
        });
        return done();
      }
      const phase = job.status?.phase;
      if (!job.status?.jobGeneration || phase === "Suspended" || phase === "Failed") {
        await write(sp, {
          state: "Failed",
          error: `StreamJob ${sp.spec.jobName} is not running (${phase ?? "not deployed yet"}): a savepoint needs its workers; to keep an existing savepoint, create a StreamSavepoint with spec.path`,
        });
        return done();
      }
      await write(sp, { state: "Pending" });
      if (sp.spec.type === "stop" && job.spec.state !== "suspended") {
        await patchRunnelObject(options.clients, STREAM_JOB, { namespace, name: sp.spec.jobName }, { spec: { state: "suspended" } });
        options.events.record(job, "Normal", "StopRequested", `StreamSavepoint ${name} stops the job with a savepoint: spec.state set to suspended`);
      }
      options.enqueueJob(jobKey);
      return done();
    }
    if (sp.status.state === "Pending" || sp.status.state === "InProgress") options.enqueueJob(jobKey);
    return done();
  };
}
