// Node registration: the Node object, its status heartbeat and its Lease in kube-node-lease.
import { readFileSync } from "node:fs";
import os from "node:os";
import { V1MicroTime, type V1Lease, type V1Node } from "@kubernetes/client-node";
import { mergePatch, statusCode, strategicMerge, type Clients } from "./kube.ts";
import { errorText, log, nowRfc3339 } from "./log.ts";

export interface NodeOptions {
  nodeName: string;
  /** Reported capacity (and allocatable). */
  cpu: string;
  memory: string;
  pods: string;
  /** Port of the agent's kubelet API (container logs). */
  kubeletPort: number;
  /** The kubelet version to report (the apiserver's). */
  version: string;
}

const HEARTBEAT_MS = 10_000;
const LEASE_SECONDS = 40;
const CONDITION_TAINTS = new Set(["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]);

/** Registers the Node and keeps its status and Lease fresh. */
export class NodeRegistration {
  private readonly clients: Clients;
  private readonly opts: NodeOptions;
  private timer: NodeJS.Timeout | undefined;
  private nodeUid = "";

  /** Creates the registration for `opts.nodeName`. */
  constructor(clients: Clients, opts: NodeOptions) {
    this.clients = clients;
    this.opts = opts;
  }

  /** Creates the Node if absent, writes its status and Lease, then heartbeats every 10 s. */
  async start(): Promise<void> {
    await this.register();
    await this.heartbeat();
    this.timer = setInterval(() => {
      this.heartbeat().catch((err: unknown) => log("node-heartbeat-failed", { error: errorText(err) }));
    }, HEARTBEAT_MS);
  }

  /** Stops heartbeating and marks the node NotReady (best effort). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.patchStatus(false);
    } catch (err) {
      log("node-status-failed", { error: errorText(err) });
    }
  }

  private async register(): Promise<void> {
    const name = this.opts.nodeName;
    const labels = {
      "kubernetes.io/hostname": name,
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": goArch(),
      "runnel.dev/node-agent": "true",
    };
    let node: V1Node;
    try {
      node = await this.clients.core.createNode({ body: { apiVersion: "v1", kind: "Node", metadata: { name, labels } } });
      log("node-registered", { node: name });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
      node = await this.clients.core.patchNode({ name, body: { metadata: { labels } } }, strategicMerge);
      log("node-reregistered", { node: name });
    }
    this.nodeUid = node.metadata?.uid ?? "";
  }

  private async heartbeat(): Promise<void> {
    await this.renewLease();
    await this.patchStatus(true);
    await this.removeConditionTaints();
  }

  /**
   * Removes the not-ready/unreachable taints: the apiserver adds not-ready at creation and the node
   * lifecycle controller, which would lift it, does not run in the test environment.
   */
  private async removeConditionTaints(): Promise<void> {
    const node = await this.clients.core.readNode({ name: this.opts.nodeName });
    const taints = node.spec?.taints ?? [];
    const keep = taints.filter((t) => !CONDITION_TAINTS.has(t.key));
    if (keep.length === taints.length) return;
    await this.clients.core.patchNode(
      { name: this.opts.nodeName, body: { metadata: { resourceVersion: node.metadata?.resourceVersion }, spec: { taints: keep } } },
      mergePatch,
    );
    log("node-taints-removed", { node: this.opts.nodeName, removed: taints.filter((t) => CONDITION_TAINTS.has(t.key)).map((t) => t.key) });
  }

  private async patchStatus(ready: boolean): Promise<void> {
    const now = nowRfc3339();
    const cond = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
    });
    const capacity = { cpu: this.opts.cpu, memory: this.opts.memory, pods: this.opts.pods, "ephemeral-storage": "100Gi" };
    const status = {
      capacity,
      allocatable: capacity,
      conditions: [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "node agent has sufficient memory"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "node agent has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "node agent has sufficient PID"),
        ready
          ? cond("Ready", "True", "KubeletReady", "runnel node agent is posting ready status")
          : cond("Ready", "False", "KubeletNotReady", "runnel node agent stopped"),
      ],
      addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
      daemonEndpoints: { kubeletEndpoint: { Port: this.opts.kubeletPort } },
      nodeInfo: {
        machineID: readFirst("/etc/machine-id"),
        systemUUID: readFirst("/etc/machine-id"),
        bootID: readFirst("/proc/sys/kernel/random/boot_id"),
        kernelVersion: os.release(),
        osImage: osImage(),
        containerRuntimeVersion: "runnel-node-agent://0.1.0",
        kubeletVersion: this.opts.version,
        kubeProxyVersion: "",
        operatingSystem: "linux",
        architecture: goArch(),
      },
    };
    await this.setConditionTimes(status.conditions);
    await this.clients.core.patchNodeStatus({ name: this.opts.nodeName, body: { status } }, strategicMerge);
  }

  /** Keeps lastTransitionTime stable unless a condition's status changes. */
  private async setConditionTimes(conditions: Array<Record<string, string>>): Promise<void> {
    const current = await this.clients.core.readNodeStatus({ name: this.opts.nodeName });
    const now = nowRfc3339();
    for (const c of conditions) {
      const old = current.status?.conditions?.find((o) => o.type === c.type);
      const oldTime = old?.lastTransitionTime;
      c.lastTransitionTime = old && old.status === c.status && oldTime ? new Date(oldTime).toISOString() : now;
    }
  }

  private async renewLease(): Promise<void> {
    const name = this.opts.nodeName;
    const namespace = "kube-node-lease";
    const spec = { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, renewTime: new V1MicroTime() };
    let lease: V1Lease;
    try {
      lease = await this.clients.coord.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      const ownerReferences = this.nodeUid ? [{ apiVersion: "v1", kind: "Node", name, uid: this.nodeUid }] : undefined;
      await this.clients.coord.createNamespacedLease({
        namespace,
        body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace, ownerReferences }, spec },
      });
      return;
    }
    lease.spec = { ...lease.spec, ...spec };
    await this.clients.coord.replaceNamespacedLease({ name, namespace, body: lease });
  }
}

function readFirst(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "unknown";
  }
}

function osImage(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
    return m?.[1] ?? "Linux";
  } catch {
    return "Linux";
  }
}

function goArch(): string {
  return process.arch === "x64" ? "amd64" : process.arch;
}
