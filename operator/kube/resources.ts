/**
 * The resource kinds the operator watches, as informer sources: Runnel's own StreamJobs and
 * StreamSavepoints, and the children it creates (selected by the managed-by label, so the caches
 * hold the operator's objects only). One source per watched namespace, or one cluster-wide.
 */
import { kubeError, statusOf } from "../errors.ts";
import { RUNNEL_GROUP, RUNNEL_VERSION, type KubeClients } from "./client.ts";
import type { InformerSource, ListResult, ObjectLike } from "./informer.ts";

/** The label every object the operator creates carries (informers select on it). */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "runnel-operator";
const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

interface ListParams {
  namespace?: string;
  labelSelector?: string;
}

/** A watched kind: its API path and how to list it in one namespace or all. */
interface Kind {
  plural: string;
  /** `/api/v1` or `/apis/<group>/<version>`. */
  prefix: string;
  list(clients: KubeClients, params: ListParams): Promise<unknown>;
  labelSelector?: string;
}

/** client-node deserialises typed lists (timestamps become Dates); the cache keeps plain JSON like watch events. */
function plain<T>(list: unknown): ListResult<T> {
  const json = JSON.parse(JSON.stringify(list)) as { items?: T[]; metadata?: { resourceVersion?: string } };
  return { items: json.items ?? [], resourceVersion: json.metadata?.resourceVersion ?? "" };
}

function runnel(plural: string): Kind {
  return {
    plural,
    prefix: `/apis/${RUNNEL_GROUP}/${RUNNEL_VERSION}`,
    list: (c, p) =>
      p.namespace === undefined
        ? c.custom.listClusterCustomObject({ group: RUNNEL_GROUP, version: RUNNEL_VERSION, plural })
        : c.custom.listNamespacedCustomObject({ group: RUNNEL_GROUP, version: RUNNEL_VERSION, plural, namespace: p.namespace }),
  };
}

export const KINDS = {
  streamjobs: runnel("streamjobs"),
  streamsavepoints: runnel("streamsavepoints"),
  statefulsets: {
    plural: "statefulsets",
    prefix: "/apis/apps/v1",
    labelSelector: managed,
    list: (c, p) =>
      p.namespace === undefined ? c.apps.listStatefulSetForAllNamespaces(p) : c.apps.listNamespacedStatefulSet({ ...p, namespace: p.namespace }),
  },
  pods: {
    plural: "pods",
    prefix: "/api/v1",
    labelSelector: managed,
    list: (c, p) => (p.namespace === undefined ? c.core.listPodForAllNamespaces(p) : c.core.listNamespacedPod({ ...p, namespace: p.namespace })),
  },
  configmaps: {
    plural: "configmaps",
    prefix: "/api/v1",
    labelSelector: managed,
    list: (c, p) => (p.namespace === undefined ? c.core.listConfigMapForAllNamespaces(p) : c.core.listNamespacedConfigMap({ ...p, namespace: p.namespace })),
  },
  secrets: {
    plural: "secrets",
    prefix: "/api/v1",
    labelSelector: managed,
    list: (c, p) => (p.namespace === undefined ? c.core.listSecretForAllNamespaces(p) : c.core.listNamespacedSecret({ ...p, namespace: p.namespace })),
  },
  services: {
    plural: "services",
    prefix: "/api/v1",
    labelSelector: managed,
    list: (c, p) => (p.namespace === undefined ? c.core.listServiceForAllNamespaces(p) : c.core.listNamespacedService({ ...p, namespace: p.namespace })),
  },
  poddisruptionbudgets: {
    plural: "poddisruptionbudgets",
    prefix: "/apis/policy/v1",
    labelSelector: managed,
    list: (c, p) =>
      p.namespace === undefined
        ? c.policy.listPodDisruptionBudgetForAllNamespaces(p)
        : c.policy.listNamespacedPodDisruptionBudget({ ...p, namespace: p.namespace }),
  },
  jobs: {
    plural: "jobs",
    prefix: "/apis/batch/v1",
    labelSelector: managed,
    list: (c, p) => (p.namespace === undefined ? c.batch.listJobForAllNamespaces(p) : c.batch.listNamespacedJob({ ...p, namespace: p.namespace })),
  },
} satisfies Record<string, Kind>;

export type KindName = keyof typeof KINDS;

/** Informer sources for `kind` in each namespace (undefined: one cluster-wide source). */
export function sourcesFor<T extends ObjectLike>(clients: KubeClients, kind: KindName, namespaces: string[] | undefined): InformerSource<T>[] {
  const k: Kind = KINDS[kind];
  const scopes: (string | undefined)[] = namespaces ?? [undefined];
  return scopes.map((namespace) => {
    const params: ListParams = { ...(namespace === undefined ? {} : { namespace }), ...(k.labelSelector ? { labelSelector: k.labelSelector } : {}) };
    return {
      name: namespace === undefined ? kind : `${kind}@${namespace}`,
      path: `${k.prefix}${namespace === undefined ? "" : `/namespaces/${namespace}`}/${k.plural}`,
      ...(k.labelSelector ? { labelSelector: k.labelSelector } : {}),
      list: async () => {
        try {
          return plain<T>(await k.list(clients, params));
        } catch (err) {
          const missing = statusOf(err) === 404 && k.prefix.includes(RUNNEL_GROUP);
          throw kubeError(
            `list ${kind}${namespace === undefined ? "" : ` in ${namespace}`}${missing ? " (are the CRDs installed? kubectl apply --server-side -f crds/)" : ""}`,
            err,
          );
        }
      },
    };
  });
}
