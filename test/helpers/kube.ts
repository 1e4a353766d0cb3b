/** Kubernetes helpers for tests: a client on the test apiserver, kubectl, namespaces and bounded waits. */
import { existsSync, readFileSync } from "node:fs";
import { CoordinationV1Api, CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { readEnvInfo } from "../env/lib/layout.ts";
import { uniqueName } from "./env.ts";
import { mustRun, runTool } from "./tools.ts";
import { waitFor } from "./wait.ts";

export { waitFor };

/** The kubeconfig path: env.json's `kubeconfig`, else $KUBECONFIG. */
export function kubeconfigPath(): string {
  const path = readEnvInfo()?.kubeconfig ?? process.env.KUBECONFIG;
  if (!path || !existsSync(path)) throw new Error("No kubeconfig: start the test environment (test/env/up) or set KUBECONFIG.");
  return path;
}

/** A KubeConfig for the test apiserver (admin). */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/** A KubeConfig for the test apiserver that authenticates with a bearer token (e.g. a ServiceAccount's). */
export function kubeConfigWithToken(token: string): KubeConfig {
  const admin = kubeConfig();
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: "token-user", token }],
    contexts: [{ name: "token", cluster: cluster.name, user: "token-user" }],
    currentContext: "token",
  });
  return kc;
}

/** Runs kubectl against the test apiserver and returns stdout; throws with stderr on failure. */
export function kubectl(args: string[], input?: string): string {
  return mustRun("kubectl", args, input === undefined ? {} : { input });
}

/** A namespace of its own for one test; `cleanup()` deletes it without waiting. */
export interface TestNamespace {
  name: string;
  cleanup: () => void;
}

/** Creates a uniquely named namespace and waits until its default ServiceAccount exists. */
export async function createNamespace(prefix: string): Promise<TestNamespace> {
  const name = uniqueName(prefix);
  kubectl(["create", "namespace", name]);
  const core = kubeConfig().makeApiClient(CoreV1Api);
  await waitFor(`ServiceAccount ${name}/default`, () => core.readNamespacedServiceAccount({ name: "default", namespace: name }).then(() => true));
  return { name, cleanup: () => void runTool("kubectl", ["delete", "namespace", name, "--wait=false"]) };
}

/** Creates a namespace (createNamespace) that enforces the `restricted` Pod Security Standard. */
export async function createRestrictedNamespace(prefix: string): Promise<TestNamespace> {
  const ns = await createNamespace(prefix);
  kubectl(["label", "namespace", ns.name, "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest"]);
  return ns;
}

/** True when the pod's Ready condition is True. */
export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Waits until a pod exists, is Running and Ready (optionally a different one than `notUid`). */
export async function waitForReadyPod(namespace: string, name: string, opts: { notUid?: string; timeoutMs?: number } = {}): Promise<V1Pod> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  return waitFor(
    `pod ${namespace}/${name} Ready`,
    async () => {
      const pod = await core.readNamespacedPod({ name, namespace });
      if (opts.notUid && pod.metadata?.uid === opts.notUid) return undefined;
      return pod.status?.phase === "Running" && isPodReady(pod) ? pod : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 90_000 },
  );
}

/** The host folder behind a claim of the test environment's `runnel-local` class (the node agent's hostPath volumes). */
export async function claimFolder(namespace: string, claim: string): Promise<string> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const pvc = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace });
  if (pvc.status?.phase !== "Bound") throw new Error(`claim ${namespace}/${claim} is ${pvc.status?.phase ?? "unknown"}, not Bound`);
  const pv = await core.readPersistentVolume({ name: pvc.spec?.volumeName ?? "" });
  const folder = pv.spec?.hostPath?.path;
  if (!folder) throw new Error(`PV ${pv.metadata?.name} has no hostPath`);
  return folder;
}

/** The host pid of a container started by the node agent (containerID `runnel://<pid>`). */
export function containerPid(pod: V1Pod, container?: string): number {
  const statuses = pod.status?.containerStatuses ?? [];
  const status = container ? statuses.find((s) => s.name === container) : statuses[0];
  const m = /^runnel:\/\/(\d+)$/.exec(status?.containerID ?? "");
  if (!m) throw new Error(`pod ${pod.metadata?.name} has no node-agent container id (${status?.containerID})`);
  return Number(m[1]);
}

/** True when a local process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** The command line of a local process, with arguments joined by spaces. */
export function processCommand(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
}

/** Fails unless the node agent's Node is Ready and its Lease was renewed within `maxAgeMs` (the agent is alive). */
export async function expectNodeAgentAlive(maxAgeMs = 30_000): Promise<void> {
  const nodeName = readEnvInfo()?.nodeName ?? "runnel-node-0";
  const kc = kubeConfig();
  const node = await kc.makeApiClient(CoreV1Api).readNode({ name: nodeName });
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status !== "True") throw new Error(`node ${nodeName} is not Ready (${ready?.message ?? "no Ready condition"}): is the node agent running?`);
  const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: nodeName, namespace: "kube-node-lease" });
  const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
  if (Date.now() - renewed > maxAgeMs) {
    throw new Error(`node ${nodeName}'s Lease was last renewed ${Math.round((Date.now() - renewed) / 1000)} s ago: is the node agent running?`);
  }
}
