// The operator chart against the real apiserver: it lints strictly, every rendering (cluster-wide,
// namespaced, with monitors) passes a server-side dry run, values outside values.schema.json are
// refused with a message naming the value, and its pods meet the `restricted` Pod Security Standard
// in a namespace that enforces it (the admission plugin judges them; a pod without the settings is
// refused, so the check can fail).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { repoRoot } from "../env/lib/layout.ts";
import { uniqueName } from "../helpers/env.ts";
import { findManifest, OPERATOR_CHART, renderChart, renderChartText, serverVersion, valueArgs, type Manifest } from "../helpers/chart.ts";
import { createNamespace, createRestrictedNamespace, type TestNamespace } from "../helpers/kube.ts";
import { mustRun, runTool } from "../helpers/tools.ts";
import { ADMIN_PORT } from "../../runtime/worker-contract.ts";

/** A server-side apply dry run of objects (each names its namespace); returns kubectl's result. */
function dryRun(objects: Manifest[] | string): ReturnType<typeof runTool> {
  const input = typeof objects === "string" ? objects : objects.map((o) => JSON.stringify(o)).join("\n");
  return runTool("kubectl", ["apply", "--server-side", "--force-conflicts", "--field-manager=helm", "--dry-run=server", "-f", "-"], { input });
}

/** A Pod made from the operator Deployment's pod template. */
function operatorPod(manifests: Manifest[], namespace: string, change?: (spec: Record<string, unknown>) => void): Manifest {
  const template = (findManifest(manifests, "Deployment").spec as { template: { metadata: Manifest["metadata"]; spec: Record<string, unknown> } }).template;
  // The pod is judged for its security settings; the chart's ServiceAccount is not applied here.
  const spec = { ...structuredClone(template.spec), serviceAccountName: "default" };
  change?.(spec);
  return { apiVersion: "v1", kind: "Pod", metadata: { name: "operator-template", namespace, labels: template.metadata.labels ?? {} }, spec };
}

describe("operator chart", () => {
  const release = uniqueName("chart");
  const namespaces: TestNamespace[] = [];
  let own = "";
  let watched = "";
  let restricted = "";

  beforeAll(async () => {
    mustRun("kubectl", ["apply", "--server-side", "--field-manager=runnel-tests", "-f", join(repoRoot, "test/fixtures/crds/monitoring.yaml")]);
    for (const prefix of ["chart-op", "chart-jobs"]) namespaces.push(await createNamespace(prefix));
    namespaces.push(await createRestrictedNamespace("chart-pss"));
    [own, watched, restricted] = namespaces.map((n) => n.name) as [string, string, string];
    mustRun("kubectl", [
      "wait",
      "--for=condition=Established",
      "--timeout=60s",
      "crd/servicemonitors.monitoring.coreos.com",
      "crd/podmonitors.monitoring.coreos.com",
    ]);
  });
  afterAll(() => {
    for (const n of namespaces) n.cleanup();
  });

  it("lints with --strict, with default and with namespaced values", () => {
    expect(mustRun("helm", ["lint", "--strict", OPERATOR_CHART])).toContain("1 chart(s) linted, 0 chart(s) failed");
    const namespaced = mustRun("helm", [
      "lint",
      "--strict",
      OPERATOR_CHART,
      ...valueArgs({ watchNamespaces: ["a", "b"], metrics: { serviceMonitor: { enabled: true } } }),
    ]);
    expect(namespaced).toContain("1 chart(s) linted, 0 chart(s) failed");
  });

  it("passes a server-side dry run cluster-wide, with the Prometheus monitors", () => {
    const text = renderChartText({
      release,
      namespace: own,
      values: {
        metrics: { service: { enabled: true }, serviceMonitor: { enabled: true }, workerPodMonitor: { enabled: true } },
        networkPolicy: { enabled: true, namespaces: [watched] },
      },
    });
    const result = dryRun(text);
    expect(result.stderr).toBe("");
    for (const line of [
      "customresourcedefinition.apiextensions.k8s.io/streamjobs.runnel.dev",
      `deployment.apps/${release}-runnel-operator serverside-applied (server dry run)`,
      `clusterrole.rbac.authorization.k8s.io/${release}-runnel-operator serverside-applied (server dry run)`,
      `servicemonitor.monitoring.coreos.com/${release}-runnel-operator serverside-applied (server dry run)`,
      `podmonitor.monitoring.coreos.com/${release}-runnel-operator-workers serverside-applied (server dry run)`,
      `networkpolicy.networking.k8s.io/${release}-runnel-operator-workers serverside-applied (server dry run)`,
    ])
      expect(result.stdout).toContain(line);
  });

  it("passes a server-side dry run in namespaced mode, with a Role and a NetworkPolicy in each watched namespace", () => {
    const manifests = renderChart({ release, namespace: own, values: { watchNamespaces: [watched] } });
    expect(manifests.filter((m) => m.kind.startsWith("Cluster")).map((m) => m.kind)).toEqual([]);
    expect(manifests.filter((m) => m.kind === "Role").map((m) => m.metadata.namespace)).toEqual([watched, own]);
    const args = (findManifest(manifests, "Deployment").spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]?.args;
    expect(args).toContain(`--namespace=${watched}`);
    const result = dryRun(manifests);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`role.rbac.authorization.k8s.io/${release}-runnel-operator serverside-applied (server dry run)`);
  });

  it("opens the workers' admin port (the worker contract's) to the operator's pods only", () => {
    const manifests = renderChart({ release, namespace: own, values: { watchNamespaces: [watched] } });
    const policy = findManifest(manifests, "NetworkPolicy");
    expect(policy.metadata.namespace).toBe(watched);
    const spec = policy.spec as {
      podSelector: { matchLabels: Record<string, string> };
      ingress: {
        from: { namespaceSelector: { matchLabels: Record<string, string> }; podSelector: { matchLabels: Record<string, string> } }[];
        ports: { port: number }[];
      }[];
    };
    expect(spec.podSelector.matchLabels).toEqual({ "app.kubernetes.io/managed-by": "runnel-operator", "app.kubernetes.io/component": "worker" });
    expect(spec.ingress).toHaveLength(1);
    expect(spec.ingress[0]?.ports).toEqual([{ protocol: "TCP", port: ADMIN_PORT }]);
    expect(spec.ingress[0]?.from).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": own } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "runnel-operator", "app.kubernetes.io/instance": release } },
      },
    ]);
    // Those labels select the operator's pods.
    const pod = operatorPod(manifests, own);
    expect(pod.metadata.labels).toMatchObject(spec.ingress[0]?.from[0]?.podSelector.matchLabels ?? {});
  });

  it("refuses values outside the schema, naming the value", () => {
    const bad = (values: Record<string, unknown>) =>
      runTool("helm", ["template", release, OPERATOR_CHART, "--kube-version", serverVersion(), ...valueArgs(values)]);
    const unknown = bad({ replicas: 3 });
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("additional properties 'replicas' not allowed");
    const nested = bad({ operator: { resync: "often" } });
    expect(nested.stderr).toMatch(/\/operator\/resync.*'often' does not match pattern/);
    const typo = bad({ metrics: { serviceMonitor: { enable: true } } });
    expect(typo.stderr).toMatch(/\/metrics\/serviceMonitor.*additional properties 'enable' not allowed/);
    const ns = bad({ watchNamespaces: ["Team_A"] });
    expect(ns.stderr).toMatch(/\/watchNamespaces\/0.*'Team_A' does not match pattern/);
    const zero = bad({ replicaCount: 0 });
    expect(zero.stderr).toMatch(/\/replicaCount.*minimum: got 0, want 1/);
    const noLease = bad({ leaderElection: { enabled: false } });
    expect(noLease.stderr).toContain("leaderElection.enabled=false runs replicas that all act at once: set replicaCount to 1");
  });

  it("runs the operator under the restricted Pod Security Standard, which refuses a pod without its settings", () => {
    const manifests = renderChart({ release, namespace: restricted });
    const admitted = dryRun([operatorPod(manifests, restricted)]);
    expect(admitted.stderr).toBe("");
    expect(admitted.stdout).toContain("pod/operator-template serverside-applied (server dry run)");
    // The control: the same pod without its security contexts is refused by the admission plugin.
    const bare = operatorPod(manifests, restricted, (spec) => {
      delete spec.securityContext;
      for (const c of spec.containers as Record<string, unknown>[]) delete c.securityContext;
    });
    const refused = dryRun([bare]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "restricted:latest"');
  });

  it("keeps the CRDs on uninstall and lets a second release leave them alone", () => {
    const manifests = renderChart({ release, namespace: own });
    const crds = manifests.filter((m) => m.kind === "CustomResourceDefinition");
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(["streamjobs.runnel.dev", "streamsavepoints.runnel.dev"]);
    for (const crd of crds) expect(crd.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    const second = renderChart({ release, namespace: own, values: { crds: { install: false } } });
    expect(second.filter((m) => m.kind === "CustomResourceDefinition")).toEqual([]);
  });
});
