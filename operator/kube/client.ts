/**
 * The operator's cluster access: one KubeConfig (in-cluster service account, or a kubeconfig
 * file out of the cluster), the client-node API clients built from it, and server-side apply
 * under one field manager for every object the operator writes.
 */
import { existsSync } from "node:fs";
import {
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { OperatorUsageError, kubeError } from "../errors.ts";

/** The one field manager of every object and status the operator applies. */
export const FIELD_MANAGER = "runnel-operator";

/** The API group and version of Runnel's resources. */
export const RUNNEL_GROUP = "runnel.dev";
export const RUNNEL_VERSION = "v1alpha1";
export const RUNNEL_API_VERSION = `${RUNNEL_GROUP}/${RUNNEL_VERSION}`;

/** Request options that send the body as a server-side apply patch. */
export const applyPatch = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
/** Request options that send the body as a JSON merge patch. */
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * Loads the cluster configuration: `kubeconfig` when given; else in a pod, the service account
 * ($KUBERNETES_SERVICE_HOST and the mounted token); else $KUBECONFIG or ~/.kube/config.
 */
export function loadKubeConfig(options: { kubeconfig?: string; env?: NodeJS.ProcessEnv } = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig)) throw new OperatorUsageError(`--kubeconfig ${options.kubeconfig}: no such file; pass the path of a kubeconfig`);
    kc.loadFromFile(options.kubeconfig);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster())
    throw new OperatorUsageError("no Kubernetes cluster configured: pass --kubeconfig <file>, set $KUBECONFIG, or run inside a pod with a service account");
  return kc;
}

/** The API clients the operator uses. */
export interface KubeClients {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly policy: PolicyV1Api;
  readonly coordination: CoordinationV1Api;
  readonly events: EventsV1Api;
  readonly custom: CustomObjectsApi;
  readonly objects: KubernetesObjectApi;
  readonly watch: Watch;
}

/** Builds the API clients from a KubeConfig. */
export function makeClients(kc: KubeConfig): KubeClients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    batch: kc.makeApiClient(BatchV1Api),
    policy: kc.makeApiClient(PolicyV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    events: kc.makeApiClient(EventsV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
    watch: new Watch(kc),
  };
}

/** Describes an object for messages: `StatefulSet ns/name`. */
export function describeObject(obj: KubernetesObject): string {
  return `${obj.kind ?? "object"} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ""}${obj.metadata?.name ?? "?"}`;
}

/** Server-side applies `obj` (force: the operator owns every field it sets); returns the object as stored. */
export async function applyObject<T extends KubernetesObject>(clients: KubeClients, obj: T): Promise<T> {
  try {
    return await clients.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  } catch (err) {
    throw kubeError(`apply ${describeObject(obj)}`, err);
  }
}

/** A Runnel custom resource kind. */
export interface RunnelKind {
  kind: "StreamJob" | "StreamSavepoint";
  plural: "streamjobs" | "streamsavepoints";
}

export const STREAM_JOB: RunnelKind = { kind: "StreamJob", plural: "streamjobs" };
export const STREAM_SAVEPOINT: RunnelKind = { kind: "StreamSavepoint", plural: "streamsavepoints" };

/**
 * Server-side applies the status of a Runnel object. With `resourceVersion` the write only
 * succeeds if the object has not changed since it was read (409 otherwise), so a decision taken
 * on a stale copy can never be recorded.
 */
export async function applyStatus<T>(
  clients: KubeClients,
  kind: RunnelKind,
  ref: { namespace: string; name: string; resourceVersion?: string },
  status: unknown,
): Promise<T> {
  const body = {
    apiVersion: RUNNEL_API_VERSION,
    kind: kind.kind,
    metadata: { name: ref.name, namespace: ref.namespace, ...(ref.resourceVersion ? { resourceVersion: ref.resourceVersion } : {}) },
    status,
  };
  try {
    return (await clients.custom.patchNamespacedCustomObjectStatus(
      {
        group: RUNNEL_GROUP,
        version: RUNNEL_VERSION,
        plural: kind.plural,
        namespace: ref.namespace,
        name: ref.name,
        body,
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      applyPatch,
    )) as T;
  } catch (err) {
    throw kubeError(`write the status of ${kind.kind} ${ref.namespace}/${ref.name}`, err);
  }
}

/** Merge-patches the metadata or spec of a Runnel object (finalizers, spec.state). */
export async function patchRunnelObject<T>(clients: KubeClients, kind: RunnelKind, ref: { namespace: string; name: string }, patch: unknown): Promise<T> {
  try {
    return (await clients.custom.patchNamespacedCustomObject(
      { group: RUNNEL_GROUP, version: RUNNEL_VERSION, plural: kind.plural, namespace: ref.namespace, name: ref.name, body: patch, fieldManager: FIELD_MANAGER },
      mergePatch,
    )) as T;
  } catch (err) {
    throw kubeError(`patch ${kind.kind} ${ref.namespace}/${ref.name}`, err);
  }
}
