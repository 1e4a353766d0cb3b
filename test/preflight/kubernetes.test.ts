// The Kubernetes side of the test environment, for real: kube-apiserver, kube-controller-manager
// and kube-scheduler with the node agent (test/env/node-agent) running pods as local processes.
// Every test needs all of them: with the agent or the apiserver stopped, pods never run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { CoreV1Api, Watch, type V1Pod } from "@kubernetes/client-node";
import { repoRoot } from "../env/lib/layout.ts";
import {
  claimFolder as hostFolder,
  containerPid,
  createNamespace,
  expectNodeAgentAlive,
  isPodReady,
  kubeConfig,
  kubeConfigWithToken,
  kubectl,
  processAlive,
  processCommand,
  waitFor,
  waitForReadyPod,
  type TestNamespace,
} from "../helpers/kube.ts";

const core = kubeConfig().makeApiClient(CoreV1Api);
const namespaces: TestNamespace[] = [];

async function namespace(prefix: string): Promise<string> {
  const ns = await createNamespace(prefix);
  namespaces.push(ns);
  return ns.name;
}

/** A StatefulSet whose pods append "<hostname> <pod IP>" to their volume, then report ready. */
function statefulSet(name: string, replicas: number): string {
  return `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}}
spec:
  serviceName: ${name}
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: app
        image: busybox
        command: [sh, -c]
        args:
        - |
          if [ -f /data/info ]; then cp /data/info /data/seen-at-start; fi
          echo "$(cat /proc/sys/kernel/hostname) $(POD_IP)" >> /data/info
          touch /data/ready
          exec sleep 3600
        env:
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        readinessProbe:
          exec: {command: [test, -f, /data/ready]}
          periodSeconds: 1
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`;
}

/** The host folder behind a bound claim (the node agent's provisioner makes hostPath PVs). */
async function claimFolder(ns: string, claim: string): Promise<string> {
  const pvc = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns });
  expect(pvc.spec?.storageClassName).toBe("runnel-local");
  return hostFolder(ns, claim);
}

/** Records, in watch order, each pod event in a namespace as (name, ready). */
async function recordPodEvents(ns: string): Promise<{ events: Array<{ name: string; ready: boolean }>; stop: () => void }> {
  const events: Array<{ name: string; ready: boolean }> = [];
  const ctl = await new Watch(kubeConfig()).watch(
    `/api/v1/namespaces/${ns}/pods`,
    {},
    (_type: string, pod: V1Pod) => events.push({ name: pod.metadata?.name ?? "", ready: isPodReady(pod) }),
    () => undefined,
  );
  return { events, stop: () => ctl.abort() };
}

afterAll(() => {
  for (const ns of namespaces) ns.cleanup();
});

describe("node agent with the real control plane", () => {
  // Fail fast, and say why, when the agent (or the apiserver) is not running.
  beforeEach(() => expectNodeAgentAlive());

  it("runs a StatefulSet's pods as local processes and makes them Ready in order", async () => {
    const ns = await namespace("sts-order");
    const recorder = await recordPodEvents(ns);
    kubectl(["apply", "-n", ns, "-f", "-"], statefulSet("web", 2));
    const pod0 = await waitForReadyPod(ns, "web-0");
    const pod1 = await waitForReadyPod(ns, "web-1");
    recorder.stop();

    // OrderedReady: web-1 appears only after web-0 was reported Ready.
    const ready0 = recorder.events.findIndex((e) => e.name === "web-0" && e.ready);
    const first1 = recorder.events.findIndex((e) => e.name === "web-1");
    expect(ready0).toBeGreaterThanOrEqual(0);
    expect(first1).toBeGreaterThan(ready0);

    const ips = new Set<string>();
    for (const pod of [pod0, pod1]) {
      const name = pod.metadata?.name ?? "";
      // A real local process tree, in its own namespaces, with its own loopback pod IP.
      const pid = containerPid(pod);
      expect(processAlive(pid)).toBe(true);
      expect(processCommand(pid)).toMatch(/^(\S*\/)?unshare .*--mount/);
      const ip = pod.status?.podIP ?? "";
      expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
      expect(pod.status?.podIPs?.[0]?.ip).toBe(ip);
      ips.add(ip);
      // The process wrote its hostname (the pod name) and pod IP into its claim's folder.
      const folder = await claimFolder(ns, `data-${name}`);
      expect(readFileSync(join(folder, "info"), "utf8")).toBe(`${name} ${ip}\n`);
    }
    expect(ips.size).toBe(2);
  });

  it("keeps a claim's data when a StatefulSet pod is deleted and recreated", async () => {
    const ns = await namespace("sts-data");
    kubectl(["apply", "-n", ns, "-f", "-"], statefulSet("keep", 1));
    const before = await waitForReadyPod(ns, "keep-0");
    const oldPid = containerPid(before);
    const oldIp = before.status?.podIP ?? "";
    const folder = await claimFolder(ns, "data-keep-0");

    kubectl(["delete", "pod", "keep-0", "-n", ns, "--timeout=60s"]);
    expect(processAlive(oldPid)).toBe(false);
    const after = await waitForReadyPod(ns, "keep-0", { notUid: before.metadata?.uid ?? "" });
    expect(containerPid(after)).not.toBe(oldPid);

    // Same claim, same folder; the new process found what the old one wrote.
    expect(await claimFolder(ns, "data-keep-0")).toBe(folder);
    expect(readFileSync(join(folder, "seen-at-start"), "utf8")).toBe(`keep-0 ${oldIp}\n`);
    expect(readFileSync(join(folder, "info"), "utf8")).toBe(`keep-0 ${oldIp}\nkeep-0 ${after.status?.podIP}\n`);
  });

  it("garbage-collects a deleted StatefulSet's pods and ends their processes", async () => {
    const ns = await namespace("sts-gc");
    kubectl(["apply", "-n", ns, "-f", "-"], statefulSet("gc", 2));
    const pids = [containerPid(await waitForReadyPod(ns, "gc-0")), containerPid(await waitForReadyPod(ns, "gc-1"))];
    expect(pids.every(processAlive)).toBe(true);

    kubectl(["delete", "statefulset", "gc", "-n", ns, "--wait=true"]);
    await waitFor("the StatefulSet's pods to be gone", async () => (await core.listNamespacedPod({ namespace: ns })).items.length === 0, {
      timeoutMs: 60_000,
    });
    await waitFor("the pods' processes to end", () => pids.every((pid) => !processAlive(pid)), { timeoutMs: 10_000 });
  });

  it("enforces RBAC on a ServiceAccount's token, from the test and from inside a pod", async () => {
    const ns = await namespace("rbac");
    kubectl(["create", "serviceaccount", "limited", "-n", ns]);
    kubectl(["create", "secret", "generic", "hidden", "--from-literal=k=v", "-n", ns]);
    const token = kubectl(["create", "token", "limited", "-n", ns, "--duration=10m"]).trim();
    const asSa = kubeConfigWithToken(token).makeApiClient(CoreV1Api);
    await expect(asSa.listNamespacedSecret({ namespace: ns })).rejects.toMatchObject({ code: 403 });

    // The same ServiceAccount in a pod: projected token, root CA and in-cluster client config.
    const node = join(repoRoot, "node_modules", ".bin", "node");
    const script = [
      'import { readFileSync } from "node:fs";',
      'import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";',
      "const kc = new KubeConfig(); kc.loadFromCluster();",
      "const api = kc.makeApiClient(CoreV1Api);",
      'const namespace = readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8");',
      "for (;;) {",
      '  try { const l = await api.listNamespacedSecret({ namespace }); console.log("status=200 secrets=" + l.items.map((s) => s.metadata.name).join(",")); }',
      '  catch (e) { console.log("status=" + (e.code ?? e.message)); }',
      "  await new Promise((r) => setTimeout(r, 500));",
      "}",
    ].join("\n");
    kubectl(
      ["apply", "-n", ns, "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "client" },
        spec: {
          serviceAccountName: "limited",
          terminationGracePeriodSeconds: 2,
          containers: [{ name: "client", image: "runnel/in-cluster-client", command: [node, "--input-type=module", "-e", script], workingDir: repoRoot }],
        },
      }),
    );
    await waitFor("a 403 from inside the pod", () => kubectl(["logs", "client", "-n", ns]).includes("status=403"), { timeoutMs: 60_000 });

    kubectl(["create", "role", "secret-reader", "--verb=get,list", "--resource=secrets", "-n", ns]);
    kubectl(["create", "rolebinding", "limited-reads-secrets", "--role=secret-reader", `--serviceaccount=${ns}:limited`, "-n", ns]);
    const allowed = await waitFor("the RoleBinding to take effect", () => asSa.listNamespacedSecret({ namespace: ns }), { timeoutMs: 30_000 });
    expect(allowed.items.map((s) => s.metadata?.name)).toContain("hidden");
    await waitFor("a 200 from inside the pod", () => kubectl(["logs", "client", "-n", ns]).includes("status=200 secrets=hidden"), { timeoutMs: 30_000 });
  });

  it("resolves env and configMap/secret volumes, and reports a Never pod's exit code", async () => {
    const ns = await namespace("env");
    kubectl(["create", "configmap", "cfg", "--from-literal=greeting=hello", "--from-literal=colour=blue", "-n", ns]);
    kubectl(["create", "secret", "generic", "sec", "--from-literal=password=s3cret", "-n", ns]);
    const script = [
      'echo "value=$FROM_VALUE name=$POD_NAME ns=$POD_NS ip=$MY_IP node=$NODE uid=$MY_UID tier=$TIER"',
      'echo "greeting=$GREETING password=$PASSWORD combined=$COMBINED cfg=$CFG_colour sec=$SEC_password"',
      'echo "arg=$(GREETING) host=$(cat /proc/sys/kernel/hostname) pwd=$(pwd)"',
      'echo "file=$(cat /etc/cfg/renamed.txt) secretfile=$(cat /etc/sec/password) files=$(ls /etc/cfg | tr "\\n" ,)"',
      "exit 7",
    ].join("\n");
    kubectl(
      ["apply", "-n", ns, "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "envpod", labels: { tier: "backend" } },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "main",
              image: "busybox",
              command: ["sh", "-c"],
              args: [script],
              workingDir: "/etc/cfg",
              env: [
                { name: "FROM_VALUE", value: "plain" },
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "POD_NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: "MY_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
                { name: "MY_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
                { name: "TIER", valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
                { name: "GREETING", valueFrom: { configMapKeyRef: { name: "cfg", key: "greeting" } } },
                { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "sec", key: "password" } } },
                { name: "COMBINED", value: "$(GREETING)-$(POD_NAME)-$(UNKNOWN)" },
              ],
              envFrom: [
                { configMapRef: { name: "cfg" }, prefix: "CFG_" },
                { secretRef: { name: "sec" }, prefix: "SEC_" },
              ],
              volumeMounts: [
                { name: "cfg", mountPath: "/etc/cfg" },
                { name: "sec", mountPath: "/etc/sec", readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: "cfg", configMap: { name: "cfg", items: [{ key: "greeting", path: "renamed.txt" }] } },
            { name: "sec", secret: { secretName: "sec" } },
          ],
        },
      }),
    );
    const pod = await waitFor("envpod to fail", async () => {
      const p = await core.readNamespacedPod({ name: "envpod", namespace: ns });
      return p.status?.phase === "Failed" ? p : undefined;
    });
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(7);
    expect(terminated?.reason).toBe("Error");
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);

    const out = kubectl(["logs", "envpod", "-n", ns]);
    const { podIP, hostIP } = pod.status ?? {};
    expect(hostIP).toBe("127.0.0.1");
    expect(out).toContain(`value=plain name=envpod ns=${ns} ip=${podIP} node=${pod.spec?.nodeName} uid=${pod.metadata?.uid} tier=backend\n`);
    expect(out).toContain("greeting=hello password=s3cret combined=hello-envpod-$(UNKNOWN) cfg=blue sec=s3cret\n");
    expect(out).toContain("arg=hello host=envpod pwd=/etc/cfg\n");
    expect(out).toContain("file=hello secretfile=s3cret files=renamed.txt,\n");
  });

  it("enforces a container's memory limit: past it the kernel kills it, reported as OOMKilled", async () => {
    const ns = await namespace("memory");
    // Reads `mb` MB into a shell variable (held in memory), then exits 0.
    const pod = (name: string, mb: number) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name },
      spec: {
        restartPolicy: "Never",
        containers: [
          {
            name: "main",
            image: "busybox",
            command: ["sh", "-c", `x=$(head -c ${mb}000000 /dev/zero | tr '\\0' a); echo "held \${#x} bytes"`],
            resources: { limits: { memory: "64Mi" } },
          },
        ],
      },
    });
    kubectl(["apply", "-n", ns, "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: [pod("hog", 400), pod("fits", 8)] }));
    const ended = (name: string) =>
      waitFor(`${name} to end`, async () => {
        const p = await core.readNamespacedPod({ name, namespace: ns });
        return p.status?.phase === "Failed" || p.status?.phase === "Succeeded" ? p : undefined;
      });
    const hog = await ended("hog");
    expect(hog.status?.phase).toBe("Failed");
    expect(hog.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 137, reason: "OOMKilled" });
    const fits = await ended("fits");
    expect(fits.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
    expect(kubectl(["logs", "fits", "-n", ns])).toContain("held 8000000 bytes");
  });

  it("restarts a container whose liveness probe fails and counts the restart", async () => {
    const ns = await namespace("liveness");
    kubectl(
      ["apply", "-n", ns, "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "flaky" },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: "main",
              image: "busybox",
              command: ["sh", "-c", "touch /state/healthy; sleep 3; rm -f /state/healthy; exec sleep 3600"],
              livenessProbe: { exec: { command: ["test", "-f", "/state/healthy"] }, periodSeconds: 1, failureThreshold: 1 },
              volumeMounts: [{ name: "state", mountPath: "/state" }],
            },
          ],
          volumes: [{ name: "state", emptyDir: {} }],
        },
      }),
    );
    const first = await waitFor("flaky's first container to run", async () => {
      const p = await core.readNamespacedPod({ name: "flaky", namespace: ns });
      const s = p.status?.containerStatuses?.[0];
      return s?.state?.running && s.restartCount === 0 ? p : undefined;
    });
    const firstPid = containerPid(first);
    const restarted = await waitFor("a liveness restart", async () => {
      const p = await core.readNamespacedPod({ name: "flaky", namespace: ns });
      const s = p.status?.containerStatuses?.[0];
      return (s?.restartCount ?? 0) >= 1 && s?.state?.running ? p : undefined;
    });
    const status = restarted.status?.containerStatuses?.[0];
    expect(status?.lastState?.terminated?.exitCode).toBe(143); // SIGTERM, as the kubelet reports it
    expect(processAlive(firstPid)).toBe(false);
    expect(containerPid(restarted)).not.toBe(firstPid);
    expect(restarted.status?.phase).toBe("Running");
  });
});
