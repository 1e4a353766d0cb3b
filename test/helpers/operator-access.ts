/**
 * What the operator does on the cluster, as `kubectl auth can-i` questions: every request its
 * client makes (operator/kube/, operator/streamjob/, operator/streamsavepoint/,
 * operator/savepoints/), and what it must never be able to do. The chart's RBAC is checked
 * against both lists with the operator's own token (test/integration/chart-rbac.test.ts), and a
 * unit test (test/unit/delivery/operator-access.test.ts) keeps the first list in step with the
 * client calls in operator/.
 */
import type { Access } from "./chart.ts";

/** Requests in each namespace whose StreamJobs the operator runs. */
export function watchedNamespaceAccess(namespace: string): Access[] {
  const at = (verbs: string[], resource: string): Access[] => verbs.map((verb) => ({ verb, resource, namespace }));
  return [
    // Informers (list, watch); finalizers and spec.state by merge patch; status by server-side apply.
    ...at(["list", "watch", "patch"], "streamjobs.runnel.dev"),
    ...at(["list", "watch", "patch"], "streamsavepoints.runnel.dev"),
    ...at(["patch"], "streamjobs.runnel.dev/status"),
    ...at(["patch"], "streamsavepoints.runnel.dev/status"),
    // Children carry blockOwnerDeletion owner references.
    ...at(["update"], "streamjobs.runnel.dev/finalizers"),
    ...at(["update"], "streamsavepoints.runnel.dev/finalizers"),
    // Children: informers, server-side apply (which creates), and the deletes the operator makes.
    ...at(["list", "watch", "create", "patch", "delete"], "statefulsets.apps"),
    ...at(["patch"], "statefulsets.apps/scale"),
    ...at(["list", "watch", "create", "patch", "delete"], "configmaps"),
    ...at(["list", "watch", "create", "patch"], "services"),
    ...at(["list", "watch", "create", "patch"], "poddisruptionbudgets.policy"),
    ...at(["list", "watch", "create", "patch"], "jobs.batch"),
    // The workers' admin-token Secret: created, never read (the token is derived, ADR 28).
    ...at(["create"], "secrets"),
    ...at(["list", "watch"], "pods"),
    // The last log line of a crashed worker goes into the job's status.
    ...at(["get"], "pods/log"),
    ...at(["create"], "events.events.k8s.io"),
  ];
}

/** Requests at cluster scope when it watches every namespace (its informers list and watch across all). */
export function clusterWideAccess(): Access[] {
  const resources = [
    "streamjobs.runnel.dev",
    "streamsavepoints.runnel.dev",
    "statefulsets.apps",
    "configmaps",
    "services",
    "poddisruptionbudgets.policy",
    "jobs.batch",
    "pods",
  ];
  return resources.flatMap((resource) => ["list", "watch"].map((verb) => ({ verb, resource })));
}

/** Requests in its own namespace: its leader Lease and its admin-token key Secret. */
export function ownNamespaceAccess(namespace: string, fullname: string): Access[] {
  return [
    { verb: "create", resource: "leases.coordination.k8s.io", namespace },
    { verb: "get", resource: "leases.coordination.k8s.io", namespace, name: fullname },
    { verb: "update", resource: "leases.coordination.k8s.io", namespace, name: fullname },
    { verb: "create", resource: "secrets", namespace },
    { verb: "get", resource: "secrets", namespace, name: `${fullname}-admin-key` },
  ];
}

/** What it must never be able to do: read Secrets, act outside its namespaces, or grow its own rights. */
export function forbiddenAccess(options: { watched: string; own: string; fullname: string; unwatched?: string }): Access[] {
  const { watched, own, fullname, unwatched } = options;
  return [
    // Secrets it does not own: none can be read, listed or changed.
    ...["get", "list", "watch", "update", "patch", "delete"].map((verb) => ({ verb, resource: "secrets", namespace: watched })),
    { verb: "get", resource: "secrets", namespace: watched, name: "kafka-credentials" },
    { verb: "get", resource: "secrets", namespace: own, name: "some-other-secret" },
    { verb: "list", resource: "secrets", namespace: own },
    { verb: "update", resource: "secrets", namespace: own, name: `${fullname}-admin-key` },
    { verb: "list", resource: "secrets" },
    // Another holder's Lease, and Leases in general.
    { verb: "update", resource: "leases.coordination.k8s.io", namespace: own, name: "kube-controller-manager" },
    { verb: "list", resource: "leases.coordination.k8s.io", namespace: own },
    // Nothing it never does: pods directly, exec, deleting user objects.
    { verb: "create", resource: "pods", namespace: watched },
    { verb: "create", resource: "pods/exec", namespace: watched },
    { verb: "delete", resource: "streamjobs.runnel.dev", namespace: watched },
    { verb: "delete", resource: "pods", namespace: watched },
    { verb: "update", resource: "statefulsets.apps", namespace: watched },
    // Cluster-scoped objects and its own permissions.
    { verb: "list", resource: "namespaces" },
    { verb: "create", resource: "namespaces" },
    { verb: "list", resource: "nodes" },
    { verb: "create", resource: "customresourcedefinitions.apiextensions.k8s.io" },
    { verb: "create", resource: "clusterroles.rbac.authorization.k8s.io" },
    { verb: "create", resource: "rolebindings.rbac.authorization.k8s.io", namespace: watched },
    // A namespace it does not watch (namespaced mode): nothing at all.
    ...(unwatched
      ? [
          { verb: "list", resource: "streamjobs.runnel.dev", namespace: unwatched },
          { verb: "patch", resource: "streamjobs.runnel.dev/status", namespace: unwatched },
          { verb: "create", resource: "statefulsets.apps", namespace: unwatched },
          { verb: "list", resource: "configmaps", namespace: unwatched },
          { verb: "create", resource: "secrets", namespace: unwatched },
          { verb: "list", resource: "pods", namespace: unwatched },
          { verb: "get", resource: "pods/log", namespace: unwatched },
          { verb: "create", resource: "events.events.k8s.io", namespace: unwatched },
          { verb: "list", resource: "streamjobs.runnel.dev" },
          { verb: "list", resource: "pods" },
        ]
      : []),
  ];
}
