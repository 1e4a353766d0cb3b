// One pod's lifecycle on this node: IP and volumes (the "sandbox"), init containers, then the
// containers; status kept in sync; graceful termination and final deletion of the pod object.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { ContainerRunner, podKey, type PodContext } from "./container.ts";
import type { EventRecorder } from "./events.ts";
import type { ImageMap } from "./image-map.ts";
import type { IpPool } from "./ip-pool.ts";
import { statusCode, type Clients } from "./kube.ts";
import { errorText, log, nowRfc3339, sleep } from "./log.ts";
import type { MountPoints } from "./mounts.ts";
import { buildStatus, podPhase, StatusSyncer, type PodStatusInput } from "./pod-status.ts";
import { PodVolumes } from "./volumes.ts";

/** Agent-wide services shared by all pod workers. */
export interface AgentContext {
  clients: Clients;
  nodeName: string;
  stateDir: string;
  ipPool: IpPool;
  imageMap: ImageMap;
  events: EventRecorder;
  mountPoints: MountPoints;
  nodeCpu: string;
  nodeMemory: string;
}

const HOST_IP = "127.0.0.1";
const VOLUME_REFRESH_MS = 30_000;

/** Runs one pod (identified by uid) from admission to deletion. */
export class PodWorker {
  pod: V1Pod;
  /** Resolves when the worker has nothing left to do (pod deleted or vanished). */
  readonly finished: Promise<void>;
  private readonly agent: AgentContext;
  private readonly syncer: StatusSyncer;
  private readonly podDir: string;
  private volumes: PodVolumes | undefined;
  private readonly stop = new AbortController();
  private podIP: string | undefined;
  private startTime: string;
  private sandboxReady = false;
  private initialized = false;
  private initFailed = false;
  private terminalPhase = false;
  private terminating = false;
  private vanishedFlag = false;
  private initRunners: ContainerRunner[] = [];
  private runners: ContainerRunner[] = [];
  private lifecycle: Promise<void> = Promise.resolve();
  private resolveFinished!: () => void;
  private lastConditions: PodStatusInput["previousConditions"];

  /** Creates the worker for a pod; call start(). */
  constructor(agent: AgentContext, pod: V1Pod) {
    this.agent = agent;
    this.pod = pod;
    this.syncer = new StatusSyncer(agent.clients, pod);
    const md = pod.metadata ?? {};
    this.podDir = path.join(agent.stateDir, "pods", `${md.namespace}_${md.name}_${md.uid}`);
    this.startTime = pod.status?.startTime ? new Date(pod.status.startTime).toISOString().replace(/\.\d+Z$/, "Z") : nowRfc3339();
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  /** Starts the lifecycle in the background. */
  start(): void {
    this.lifecycle = this.run().catch((err: unknown) => log("pod-error", { pod: podKey(this.pod), error: errorText(err) }));
    if (this.pod.metadata?.deletionTimestamp) this.beginTermination();
  }

  /** Takes a newer version of the pod object; starts termination once it has a deletionTimestamp. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp) this.beginTermination();
  }

  /** The pod is gone from the apiserver (force-deleted): kill everything, no more API writes. */
  vanished(): void {
    if (this.vanishedFlag) return;
    this.vanishedFlag = true;
    this.syncer.gone = true;
    this.stop.abort();
    for (const r of this.allRunners()) r.kill();
    log("pod-vanished", { pod: podKey(this.pod) });
    void this.lifecycle.then(() => this.cleanup()).finally(() => this.resolveFinished());
  }

  /** Agent shutdown: stop all containers quickly (SIGTERM, then SIGKILL after `graceMs`). */
  async shutdown(graceMs: number): Promise<void> {
    this.syncer.gone = true;
    this.stop.abort();
    await Promise.all(this.allRunners().map((r) => r.stop(graceMs)));
    await this.lifecycle;
    if (this.podIP && !this.pod.spec?.hostNetwork) this.agent.ipPool.release(this.podIP);
  }

  /** Log file path of a container (current instance, or the previous one). */
  logFile(container: string, previous = false): string {
    return path.join(this.podDir, previous ? `${container}.previous.log` : `${container}.log`);
  }

  private allRunners(): ContainerRunner[] {
    return [...this.runners, ...this.initRunners];
  }

  private async run(): Promise<void> {
    const phase = this.pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      this.terminalPhase = true;
      return;
    }
    mkdirSync(this.podDir, { recursive: true });
    // hostNetwork pods share the node's address; every other pod gets a loopback IP of its own.
    this.podIP = this.pod.spec?.hostNetwork ? HOST_IP : this.agent.ipPool.allocate(this.pod.status?.podIP);
    const volumes = new PodVolumes({
      clients: this.agent.clients,
      pod: this.pod,
      podDir: this.podDir,
      podIP: this.podIP,
      hostIP: HOST_IP,
      nodeCpu: this.agent.nodeCpu,
      nodeMemory: this.agent.nodeMemory,
    });
    this.volumes = volumes;
    log("pod-admitted", { pod: podKey(this.pod), uid: this.pod.metadata?.uid, podIP: this.podIP });
    this.writeHosts();
    // Runners exist from the start so the first status already carries earlier restart counts.
    const ctx = this.podContext(volumes);
    const previous = this.pod.status;
    const restarts = (name: string, init: boolean) => {
      const s = (init ? previous?.initContainerStatuses : previous?.containerStatuses)?.find((c) => c.name === name);
      return s ? s.restartCount + (s.state?.running || s.state?.terminated ? 1 : 0) : 0;
    };
    const waitingReason = (this.pod.spec?.initContainers ?? []).length > 0 ? "PodInitializing" : "ContainerCreating";
    const spec = this.pod.spec;
    this.initRunners = (spec?.initContainers ?? []).map((c) => new ContainerRunner(ctx, c, true, restarts(c.name, true), waitingReason));
    this.runners = (spec?.containers ?? []).map((c) => new ContainerRunner(ctx, c, false, restarts(c.name, false), waitingReason));
    if (spec?.restartPolicy === "Never" && previous?.containerStatuses?.some((c) => c.state?.running || c.state?.terminated)) {
      // Started by an earlier agent run whose processes are gone; Never means no second run.
      for (const r of this.runners) r.markLost();
      this.terminalPhase = true;
      this.sync();
      log("pod-completed", { pod: podKey(this.pod), phase: podPhase(this.statusInput()), reason: "agent restarted" });
      await this.cleanup();
      return;
    }
    this.sync();
    await this.prepareVolumes(volumes);
    if (this.halted()) return;
    this.sandboxReady = true;
    this.sync();
    const refresh = setInterval(() => {
      volumes.refresh().catch((err: unknown) => log("volume-refresh-failed", { pod: podKey(this.pod), error: errorText(err) }));
    }, VOLUME_REFRESH_MS);
    try {
      const sidecars: Array<Promise<unknown>> = [];
      for (const runner of this.initRunners) {
        if (this.halted()) return;
        if (runner.sidecar) {
          sidecars.push(runner.run());
          while (!runner.started && !this.halted()) await sleep(200, this.stop.signal);
          continue;
        }
        const code = await runner.run();
        if (this.halted()) return;
        if (code !== 0) {
          this.initFailed = true;
          this.sync();
          log("pod-init-failed", { pod: podKey(this.pod), container: runner.name, exitCode: code });
          return;
        }
      }
      this.initialized = true;
      this.sync();
      await Promise.all(this.runners.map((r) => r.run()));
      if (this.halted()) return;
      // Every container finished for good: stop sidecars, the pod is complete.
      await Promise.all(this.initRunners.filter((r) => r.sidecar).map((r) => r.stop(5000)));
      await Promise.all(sidecars);
      this.terminalPhase = true;
      this.sync();
      log("pod-completed", { pod: podKey(this.pod), phase: podPhase(this.statusInput()) });
    } finally {
      clearInterval(refresh);
      if (!this.terminating && !this.vanishedFlag && (this.terminalPhase || this.initFailed)) await this.cleanup();
    }
  }

  private halted(): boolean {
    return this.terminating || this.stop.signal.aborted;
  }

  private async prepareVolumes(volumes: PodVolumes): Promise<void> {
    for (let attempt = 1; !this.halted(); attempt++) {
      try {
        await volumes.prepare();
        return;
      } catch (err) {
        const message = errorText(err);
        if (attempt === 1 || attempt % 10 === 0) {
          log("pod-volumes-pending", { pod: podKey(this.pod), error: message });
          this.agent.events.record(this.pod, "Warning", "FailedMount", `MountVolume.SetUp failed: ${message}`);
        }
        await sleep(Math.min(500 * attempt, 3000), this.stop.signal);
      }
    }
  }

  private podContext(volumes: PodVolumes): PodContext {
    const spec = this.pod.spec;
    const hostname = (spec?.hostname || this.pod.metadata?.name || "pod").slice(0, 63);
    return {
      clients: this.agent.clients,
      pod: () => this.pod,
      podDir: this.podDir,
      podIP: this.podIP ?? "",
      hostIP: HOST_IP,
      hostname,
      hostsFile: path.join(this.podDir, "etc-hosts"),
      volumes,
      mountPoints: this.agent.mountPoints,
      imageMap: this.agent.imageMap,
      events: this.agent.events,
      nodeCpu: this.agent.nodeCpu,
      nodeMemory: this.agent.nodeMemory,
      onChange: () => this.sync(),
    };
  }

  private writeHosts(): void {
    const spec = this.pod.spec;
    const md = this.pod.metadata ?? {};
    const hostname = (spec?.hostname || md.name || "pod").slice(0, 63);
    const fqdn = spec?.subdomain ? ` ${hostname}.${spec.subdomain}.${md.namespace}.svc.cluster.local` : "";
    const lines = [
      "# Kubernetes-managed hosts file (runnel node agent).",
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      `${this.podIP}\t${hostname}${fqdn}`,
      ...(spec?.hostAliases ?? []).map((a) => `${a.ip}\t${(a.hostnames ?? []).join(" ")}`),
    ];
    writeFileSync(path.join(this.podDir, "etc-hosts"), lines.join("\n") + "\n");
  }

  private statusInput(): PodStatusInput {
    return {
      pod: this.pod,
      podIP: this.podIP,
      hostIP: HOST_IP,
      startTime: this.startTime,
      sandboxReady: this.sandboxReady,
      initialized: this.initialized,
      initFailed: this.initFailed,
      terminal: this.terminating || this.terminalPhase,
      initRunners: this.initRunners,
      runners: this.runners,
      previousConditions: this.lastConditions,
    };
  }

  private sync(): void {
    if (this.syncer.gone || this.vanishedFlag) return;
    const status = buildStatus(this.statusInput());
    this.lastConditions = status.conditions as PodStatusInput["previousConditions"];
    this.syncer.push(status);
  }

  private beginTermination(): void {
    if (this.terminating || this.vanishedFlag) return;
    this.terminating = true;
    this.stop.abort();
    void this.terminate()
      .catch((err: unknown) => log("pod-terminate-failed", { pod: podKey(this.pod), error: errorText(err) }))
      .finally(() => this.resolveFinished());
  }

  private async terminate(): Promise<void> {
    const md = this.pod.metadata ?? {};
    const graceSeconds = md.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    log("pod-terminating", { pod: podKey(this.pod), graceSeconds });
    const mains = this.runners;
    await Promise.all(mains.map((r) => r.stop(graceSeconds * 1000)));
    await Promise.all(this.initRunners.map((r) => r.stop(2000)));
    await this.lifecycle;
    if (!this.terminalPhase && this.podIP) this.sync();
    await this.syncer.flush();
    await this.cleanup();
    if (this.vanishedFlag) return;
    try {
      await this.agent.clients.core.deleteNamespacedPod({
        name: md.name ?? "",
        namespace: md.namespace ?? "default",
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: md.uid } },
      });
      log("pod-deleted", { pod: podKey(this.pod), uid: md.uid });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 404 && code !== 409) throw err;
    }
  }

  private cleaned = false;

  private async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await this.volumes?.cleanup();
    if (this.podIP && !this.pod.spec?.hostNetwork) this.agent.ipPool.release(this.podIP);
  }
}
