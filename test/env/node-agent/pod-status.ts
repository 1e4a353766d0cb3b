// Pod status as the kubelet writes it: phase, conditions, IPs and container statuses, and the
// syncer that patches it (strategic merge, uid precondition, coalesced, only when changed).
import type { V1Pod } from "@kubernetes/client-node";
import type { ContainerRunner } from "./container.ts";
import { statusCode, strategicMerge, type Clients } from "./kube.ts";
import { errorText, log, nowRfc3339, sleep } from "./log.ts";

export interface PodStatusInput {
  pod: V1Pod;
  podIP: string | undefined;
  hostIP: string;
  startTime: string;
  sandboxReady: boolean;
  initialized: boolean;
  initFailed: boolean;
  /** The pod is being deleted or has finished: stopped containers will not restart. */
  terminal: boolean;
  initRunners: ContainerRunner[];
  runners: ContainerRunner[];
  /** Conditions this agent wrote last (their transition times are kept while unchanged). */
  previousConditions?: Array<{ type: string; status: string; lastTransitionTime?: Date | string }>;
}

/** Computes the pod phase like the kubelet's getPhase. */
export function podPhase(input: PodStatusInput): string {
  const policy = input.pod.spec?.restartPolicy ?? "Always";
  if (input.initFailed) return "Failed";
  if (!input.initialized) return input.terminal ? "Failed" : "Pending";
  let running = 0,
    waiting = 0,
    stopped = 0,
    failed = 0;
  for (const r of input.runners) {
    const s = r.status() as { state: Record<string, { exitCode?: number }>; lastState: Record<string, { exitCode?: number }> };
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode !== 0) failed++;
    } else if (s.lastState.terminated) {
      stopped++;
      if (s.lastState.terminated.exitCode !== 0) failed++;
    } else waiting++;
  }
  if (input.runners.length === 0) return "Pending";
  if (waiting > 0 && !input.terminal) return "Pending";
  if (running > 0 && !input.terminal) return "Running";
  if (input.terminal || policy === "Never") return failed > 0 || waiting > 0 || running > 0 ? "Failed" : "Succeeded";
  if (policy === "Always") return "Running";
  return stopped > 0 && failed === 0 ? "Succeeded" : "Running";
}

/** Builds the status subresource body for a pod. */
export function buildStatus(input: PodStatusInput): Record<string, unknown> {
  const pod = input.pod;
  const phase = podPhase(input);
  const old = pod.status?.conditions ?? [];
  const previous = input.previousConditions ?? old;
  const condition = (type: string, ok: boolean, reason?: string, message?: string) => {
    const prev = previous.find((c) => c.type === type);
    const status = ok ? "True" : "False";
    const since = prev && prev.status === status && prev.lastTransitionTime ? toRfc3339(prev.lastTransitionTime) : nowRfc3339();
    // Explicit nulls: a strategic merge patch would otherwise keep an earlier reason/message.
    return { type, status, lastProbeTime: null, lastTransitionTime: since, reason: ok ? null : (reason ?? null), message: ok ? null : (message ?? null) };
  };
  const unready = input.runners.filter((r) => !r.ready).map((r) => r.name);
  const incompleteInit = input.initRunners.filter((r) => !isDone(r)).map((r) => r.name);
  const completed = phase === "Succeeded" || phase === "Failed";
  const gatesOk = (pod.spec?.readinessGates ?? []).every((g) => old.some((c) => c.type === g.conditionType && c.status === "True"));
  const containersReady = input.initialized && input.runners.length > 0 && unready.length === 0 && !completed;
  const conditions = [
    condition("PodReadyToStartContainers", input.sandboxReady && !completed),
    condition("Initialized", input.initialized, "ContainersNotInitialized", `containers with incomplete status: [${incompleteInit.join(" ")}]`),
    condition(
      "Ready",
      containersReady && gatesOk,
      completed ? "PodCompleted" : "ContainersNotReady",
      completed ? "" : `containers with unready status: [${unready.join(" ")}]`,
    ),
    condition(
      "ContainersReady",
      containersReady,
      completed ? "PodCompleted" : "ContainersNotReady",
      completed ? "" : `containers with unready status: [${unready.join(" ")}]`,
    ),
  ];
  const scheduled = old.find((c) => c.type === "PodScheduled");
  if (scheduled) conditions.push({ ...condition("PodScheduled", true), lastTransitionTime: toRfc3339(scheduled.lastTransitionTime) });
  const specNames = (pod.spec?.containers ?? []).map((c) => c.name);
  const statuses = specNames.map((name) => input.runners.find((r) => r.name === name)?.status() ?? waitingStatus(pod, name, false));
  const initNames = (pod.spec?.initContainers ?? []).map((c) => c.name);
  const initStatuses = initNames.map((name) => input.initRunners.find((r) => r.name === name)?.status() ?? waitingStatus(pod, name, true));
  return {
    phase,
    conditions,
    hostIP: input.hostIP,
    // "$patch: replace": a strategic merge would otherwise add to the lists (merge key ip).
    hostIPs: [{ ip: input.hostIP }, { $patch: "replace" }],
    ...(input.podIP ? { podIP: input.podIP, podIPs: [{ ip: input.podIP }, { $patch: "replace" }] } : {}),
    startTime: input.startTime,
    containerStatuses: statuses,
    ...(initNames.length > 0 ? { initContainerStatuses: initStatuses } : {}),
  };
}

function isDone(r: ContainerRunner): boolean {
  const s = r.status() as { state: { terminated?: { exitCode: number } } };
  return r.sidecar ? r.started : s.state.terminated?.exitCode === 0;
}

function waitingStatus(pod: V1Pod, name: string, init: boolean): Record<string, unknown> {
  const spec = (init ? pod.spec?.initContainers : pod.spec?.containers)?.find((c) => c.name === name);
  return {
    name,
    image: spec?.image ?? "",
    imageID: "",
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason: init ? "PodInitializing" : "ContainerCreating" } },
    lastState: {},
  };
}

function toRfc3339(t: Date | string | undefined): string {
  if (!t) return nowRfc3339();
  return new Date(t).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Patches a pod's status when it changes; one request in flight, later changes coalesced. */
export class StatusSyncer {
  private readonly clients: Clients;
  private readonly namespace: string;
  private readonly name: string;
  private readonly uid: string;
  private lastSent = "";
  private pending: Record<string, unknown> | undefined;
  private inFlight: Promise<void> | undefined;
  /** Set once the pod is gone or replaced: nothing more is sent. */
  gone = false;

  /** Creates a syncer for one pod (by uid). */
  constructor(clients: Clients, pod: V1Pod) {
    this.clients = clients;
    this.namespace = pod.metadata?.namespace ?? "default";
    this.name = pod.metadata?.name ?? "";
    this.uid = pod.metadata?.uid ?? "";
  }

  /** Queues `status` to be written (dropped if it equals the last written one). */
  push(status: Record<string, unknown>): void {
    this.pending = status;
    this.inFlight ??= this.drain().finally(() => (this.inFlight = undefined));
  }

  /** Resolves once every queued status has been written (or given up on), or after `timeoutMs`. */
  async flush(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight && Date.now() < deadline) {
      await Promise.race([this.inFlight, sleep(Math.max(0, deadline - Date.now()))]);
    }
  }

  private async drain(): Promise<void> {
    let failures = 0;
    while (this.pending && !this.gone) {
      const status = this.pending;
      const text = JSON.stringify(status);
      if (text === this.lastSent) {
        if (this.pending === status) this.pending = undefined;
        continue;
      }
      try {
        await this.clients.core.patchNamespacedPodStatus(
          { name: this.name, namespace: this.namespace, body: { metadata: { uid: this.uid }, status } },
          strategicMerge,
        );
        this.lastSent = text;
        failures = 0;
        if (this.pending === status) this.pending = undefined;
      } catch (err) {
        const code = statusCode(err);
        if (code === 404 || code === 409) {
          this.gone = true;
          return;
        }
        if (code === 400 || code === 422) {
          // Rejected as invalid: retrying the same body cannot help; wait for the next change.
          log("pod-status-rejected", { pod: `${this.namespace}/${this.name}`, error: errorText(err) });
          if (this.pending === status) this.pending = undefined;
          continue;
        }
        failures++;
        log("pod-status-failed", { pod: `${this.namespace}/${this.name}`, error: errorText(err) });
        await sleep(Math.min(500 * failures, 5000));
      }
    }
  }
}
