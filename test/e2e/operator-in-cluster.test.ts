// The operator in the cluster: `runnel operator` as a pod with its service account (in-cluster
// configuration, no kubeconfig) and only the namespaced RBAC rules docs/operator.md lists, runs a
// StreamJob to Ready with its output exactly once. A missing rule would fail it: the apiserver
// enforces RBAC for the service account's token.
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCountJob, produce, produceFlush } from "../helpers/distributed.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { createNamespace, kubeConfig, kubectl, waitFor, waitForReadyPod, type TestNamespace } from "../helpers/kube.ts";
import { applyManifest, countStreamJob, expectExactlyOnceWithJava, installCrds, isReady, waitForJob } from "../helpers/operator.ts";

/** The namespaced permissions the operator needs (docs/operator.md). */
function operatorRole(namespace: string): unknown {
  const rw = ["get", "list", "watch", "create", "patch", "update", "delete"];
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "runnel-operator", namespace },
    rules: [
      { apiGroups: ["runnel.dev"], resources: ["streamjobs", "streamsavepoints"], verbs: ["get", "list", "watch", "patch", "update"] },
      {
        apiGroups: ["runnel.dev"],
        resources: ["streamjobs/status", "streamsavepoints/status", "streamjobs/finalizers", "streamsavepoints/finalizers"],
        verbs: ["get", "patch", "update"],
      },
      { apiGroups: ["apps"], resources: ["statefulsets"], verbs: rw },
      { apiGroups: ["apps"], resources: ["statefulsets/scale"], verbs: ["get", "patch", "update"] },
      { apiGroups: [""], resources: ["configmaps", "secrets", "services"], verbs: rw },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
      { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: rw },
      { apiGroups: ["batch"], resources: ["jobs"], verbs: rw },
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
    ],
  };
}

describe("operator: in the cluster, with its service account and least-privilege RBAC", () => {
  const k = kafkaAdminHooks();
  let ns: TestNamespace;

  beforeAll(async () => {
    installCrds();
    ns = await createNamespace("op-incluster");
  });
  afterAll(() => ns?.cleanup());

  it("runs a StreamJob to Ready from a pod", async () => {
    const namespace = ns.name;
    applyManifest({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "runnel-operator", namespace } });
    applyManifest(operatorRole(namespace));
    applyManifest({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "runnel-operator", namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "runnel-operator" },
      subjects: [{ kind: "ServiceAccount", name: "runnel-operator", namespace }],
    });
    applyManifest({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "runnel-operator", namespace },
      spec: {
        serviceAccountName: "runnel-operator",
        containers: [
          {
            name: "operator",
            image: "runnel/runnel:test",
            // Pod IPs are loopback addresses on the test node and ports are shared: listen on the pod's own.
            args: ["operator", "--namespace", namespace, "--listen", "$(POD_IP):8080", "--worker-image", "runnel/runnel:test", "--resync", "3s"],
            env: [
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            ],
            readinessProbe: { httpGet: { path: "/readyz", port: 8080 }, periodSeconds: 2 },
          },
        ],
      },
    });
    const pod = await waitForReadyPod(namespace, "runnel-operator", { timeoutMs: 120_000 });
    const job = await createCountJob(k.admin, 4);
    await produce(k.kafka, job, 1500);
    applyManifest(countStreamJob(job, { namespace, workers: 2 }));
    await waitForJob(namespace, job.name, "Ready", isReady);
    // It holds the Lease in its own namespace ($POD_NAMESPACE), as the pod.
    const holder = kubectl(["get", "lease", "runnel-operator", "-n", namespace, "-o", "jsonpath={.spec.holderIdentity}"]);
    expect(holder).toMatch(/^runnel-operator-/);
    const metrics = await waitFor("the operator's metrics", async () => (await fetch(`http://${pod.status?.podIP}:8080/metrics`)).text());
    expect(metrics).toMatch(/^runnel_operator_leader 1$/m);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
    // No permission errors on the way.
    const log = await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPodLog({ name: "runnel-operator", namespace });
    expect(log).not.toMatch(/HTTP 403|forbidden/i);
  });
});
