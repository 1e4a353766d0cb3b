// One container of a pod: prepares it (image map, env, mounts), runs it as a process tree,
// restarts it per restart policy with a short kubelet-like backoff, runs its probes, and
// reports its status in the kubelet's containerStatuses shape.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { V1Container, V1LifecycleHandler, V1Pod } from "@kubernetes/client-node";
import { memoryCgroup } from "./cgroup.ts";
import { ConfigError, expandVars, ObjectReader, parseQuantity, resolveEnv } from "./env.ts";
import type { EventRecorder } from "./events.ts";
import { lookupImage, type ImageMap } from "./image-map.ts";
import type { Clients } from "./kube.ts";
import { errorText, log, nowRfc3339, sleep } from "./log.ts";
import { containerMounts, initScript, type MountPoints } from "./mounts.ts";
import { ContainerProcess, type ExitInfo } from "./process.ts";
import { ProbeLoop, runProbe, type ProbeTarget } from "./probes.ts";
import { VolumeError, type PodVolumes } from "./volumes.ts";

/** What every container of a pod shares. */
export interface PodContext {
  clients: Clients;
  pod: () => V1Pod;
  podDir: string;
  podIP: string;
  hostIP: string;
  hostname: string;
  hostsFile: string;
  volumes: PodVolumes;
  mountPoints: MountPoints;
  imageMap: ImageMap;
  events: EventRecorder;
  nodeCpu: string;
  nodeMemory: string;
  /** Called whenever the container's status changes. */
  onChange: () => void;
}

type State =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; message?: string; signal?: number; startedAt: string; finishedAt: string; containerID: string } };

class ImageError extends Error {}

const BACKOFF_CAP_MS = 10_000;

/** Runs one container, restarting it per policy, until it finishes for good or is stopped. */
export class ContainerRunner {
  readonly name: string;
  /** Init containers (not sidecars) run to completion before the next one starts. */
  readonly init: boolean;
  restartCount = 0;
  ready = false;
  started = false;
  state: State = { waiting: { reason: "ContainerCreating" } };
  /** The most recent termination, and the one before it (kubelet's lastState while terminated). */
  private lastExit: State | undefined;
  private prevExit: State | undefined;
  private readonly ctx: PodContext;
  private readonly spec: V1Container;
  private proc: ContainerProcess | undefined;
  private probes: ProbeLoop[] = [];
  private stopping = false;
  private readonly stopSignal = new AbortController();
  private env: Record<string, string> = {};
  private workingDir = "/";

  /** Creates the runner; `restartCount` continues a count from an earlier agent run. */
  constructor(ctx: PodContext, spec: V1Container, init: boolean, restartCount = 0, waitingReason = "ContainerCreating") {
    this.state = { waiting: { reason: waitingReason } };
    this.ctx = ctx;
    this.spec = spec;
    this.name = spec.name;
    this.init = init && spec.restartPolicy !== "Always";
    this.restartCount = restartCount;
  }

  /** True for an init container with restartPolicy Always (a sidecar). */
  get sidecar(): boolean {
    return this.spec.restartPolicy === "Always";
  }

  /** Runs until the container will not be restarted; resolves with its last exit code (undefined when stopped). */
  async run(): Promise<number | undefined> {
    let crashes = 0;
    while (!this.stopping) {
      const exit = await this.runOnce();
      if (this.stopping) return exit?.exitCode;
      if (exit && !this.shouldRestart(exit.exitCode)) return exit.exitCode;
      if (exit && Date.now() - Date.parse(this.startedAtOf(this.lastExit) ?? "") > 60_000) crashes = 0;
      crashes++;
      const delay = Math.min(BACKOFF_CAP_MS, 1000 * 2 ** (crashes - 1));
      if (exit) {
        const message = `back-off ${delay / 1000}s restarting failed container=${this.name} pod=${this.ctx.pod().metadata?.name}`;
        this.state = { waiting: { reason: "CrashLoopBackOff", message } };
        this.ctx.events.record(this.ctx.pod(), "Warning", "BackOff", "Back-off restarting failed container", this.name);
        this.ctx.onChange();
      }
      await sleep(delay, this.stopSignal.signal);
      if (exit && !this.stopping) this.restartCount++;
    }
    return undefined;
  }

  /** Stops the container for pod termination: preStop hook, SIGTERM, `graceMs`, SIGKILL; no restart. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    const proc = this.proc;
    if (!proc?.running) return;
    const deadline = Date.now() + graceMs;
    const preStop = this.spec.lifecycle?.preStop;
    if (preStop) await this.runHook(preStop, graceMs);
    this.ctx.events.record(this.ctx.pod(), "Normal", "Killing", `Stopping container ${this.name}`, this.name);
    await proc.stop(Math.max(deadline - Date.now(), 2000));
  }

  /** Kills the container at once (agent shutdown, pod force-deleted). */
  kill(): void {
    this.stopping = true;
    this.stopSignal.abort();
    this.proc?.kill();
  }

  /** Marks a container whose process was lost (agent restart) as terminated, like the kubelet does. */
  markLost(): void {
    const now = nowRfc3339();
    const message = "The container could not be located when the pod was terminated";
    this.state = { terminated: { exitCode: 137, reason: "ContainerStatusUnknown", message, startedAt: now, finishedAt: now, containerID: "" } };
    this.stopping = true;
  }

  /** The container's entry for status.containerStatuses / initContainerStatuses. */
  status(): Record<string, unknown> {
    const image = this.spec.image ?? "";
    return {
      name: this.name,
      image,
      imageID: `runnel-node-agent://${image}`,
      ...(this.proc ? { containerID: `runnel://${this.proc.pid}` } : {}),
      ready: this.ready,
      started: this.started,
      restartCount: this.restartCount,
      state: this.state,
      lastState: ("terminated" in this.state ? this.prevExit : this.lastExit) ?? {},
    };
  }

  private shouldRestart(exitCode: number): boolean {
    const policy = this.spec.restartPolicy ?? this.ctx.pod().spec?.restartPolicy ?? "Always";
    if (this.init) return policy !== "Never" && exitCode !== 0;
    return policy === "Always" || (policy === "OnFailure" && exitCode !== 0);
  }

  private startedAtOf(state: State | undefined): string | undefined {
    return state && "terminated" in state ? state.terminated.startedAt : undefined;
  }

  /** One container instance: returns its exit, or undefined when it could not be started. */
  private async runOnce(): Promise<ExitInfo | undefined> {
    const pod = this.ctx.pod();
    let launch;
    try {
      launch = await this.prepare(pod);
    } catch (err) {
      const reason =
        err instanceof ImageError
          ? "ErrImagePull"
          : err instanceof ConfigError || err instanceof VolumeError
            ? "CreateContainerConfigError"
            : "CreateContainerError";
      this.setWaiting(reason, errorText(err));
      return undefined;
    }
    if (this.stopping) return undefined;
    const held = this.ctx.mountPoints.acquire(launch.mounts);
    try {
      this.proc = await ContainerProcess.start(launch.spawn);
    } catch (err) {
      this.ctx.mountPoints.release(held);
      this.setWaiting("RunContainerError", errorText(err));
      return undefined;
    }
    const proc = this.proc;
    // stop() may have run while the process was being spawned.
    if (this.stopping) void proc.stop(2000);
    const startedAt = nowRfc3339();
    this.state = { running: { startedAt } };
    this.started = !this.spec.startupProbe;
    this.ready = this.started && !this.spec.readinessProbe;
    log("container-started", { pod: podKey(pod), container: this.name, pid: proc.pid, restartCount: this.restartCount });
    this.ctx.events.record(pod, "Normal", "Started", `Started container ${this.name}`, this.name);
    this.startProbes(proc);
    this.ctx.onChange();
    const exit = await proc.exited;
    this.stopProbes();
    this.ctx.mountPoints.release(held);
    const reason = exit.oomKilled ? "OOMKilled" : exit.exitCode === 0 ? "Completed" : "Error";
    const terminated = {
      exitCode: exit.exitCode,
      reason,
      startedAt,
      finishedAt: nowRfc3339(),
      containerID: `runnel://${proc.pid}`,
      ...(exit.signal ? { signal: exit.exitCode - 128 } : {}),
      ...this.terminationMessage(launch.spawn.logFile, exit.exitCode),
    };
    this.state = { terminated };
    this.prevExit = this.lastExit;
    this.lastExit = { terminated };
    this.ready = false;
    this.started = false;
    log("container-exited", { pod: podKey(pod), container: this.name, exitCode: exit.exitCode, signal: exit.signal ?? undefined, reason });
    this.ctx.onChange();
    return exit;
  }

  private setWaiting(reason: string, message: string): void {
    const pod = this.ctx.pod();
    log("container-waiting", { pod: podKey(pod), container: this.name, reason, message });
    this.ctx.events.record(pod, "Warning", "Failed", `Error: ${message}`, this.name);
    this.state = { waiting: { reason, message } };
    this.ctx.onChange();
  }

  private async prepare(pod: V1Pod) {
    const c = this.spec;
    const entry = lookupImage(this.ctx.imageMap, c.image);
    let command = c.command ?? [];
    let args = c.args ?? [];
    if (command.length === 0) {
      if (!entry) {
        throw new ImageError(`image "${c.image}" has no entry in the node agent's --image-map and the container sets no command`);
      }
      command = entry.command;
      if (args.length === 0) args = entry.args ?? [];
    }
    const server = this.ctx.clients.server;
    const port = server.port || (server.protocol === "https:" ? "443" : "80");
    const base: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: "/root",
      HOSTNAME: this.ctx.hostname,
      ...entry?.env,
      POD_IP: this.ctx.podIP,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: port,
      KUBERNETES_SERVICE_PORT_HTTPS: port,
      KUBERNETES_PORT: `tcp://127.0.0.1:${port}`,
      KUBERNETES_PORT_443_TCP_ADDR: "127.0.0.1",
    };
    const env = await resolveEnv({ ...this.ctx, pod, reader: new ObjectReader(this.ctx.clients) }, c, base);
    const argv = [...command, ...args].map((a) => expandVars(a, env));
    const mounts = containerMounts(c, this.ctx.volumes.paths, env, entry?.files);
    const fallbackDir = path.join(this.ctx.podDir, "work", this.name);
    const workingDir = c.workingDir || entry?.workingDir || fallbackDir;
    if (workingDir === fallbackDir) mkdirSync(fallbackDir, { recursive: true });
    this.env = env;
    this.workingDir = workingDir;
    const logFile = path.join(this.ctx.podDir, `${this.name}.log`);
    rotateLog(logFile);
    const scriptFile = path.join(this.ctx.podDir, `${this.name}.init.sh`);
    writeFileSync(
      scriptFile,
      initScript({ hostname: this.ctx.hostname, hostsFile: this.ctx.hostsFile, mounts, workingDir, workingDirOnHost: workingDir === fallbackDir }) + "\n",
    );
    const pidFile = path.join(this.ctx.podDir, `${this.name}.pid`);
    const limit = c.resources?.limits?.memory;
    // One cgroup per instance, so an OOM kill is counted against the instance it ended.
    const bytes = limit === undefined ? 0 : Math.floor(parseQuantity(String(limit)));
    const memory = bytes > 0 ? memoryCgroup(`${pod.metadata?.uid ?? "pod"}-${this.name}-${this.restartCount}`, bytes) : undefined;
    return { mounts, spawn: { argv, env, scriptFile, logFile, pidFile, ...(memory ? { memory } : {}) } };
  }

  private startProbes(proc: ContainerProcess): void {
    const target: ProbeTarget = { proc, container: this.spec, podIP: this.ctx.podIP, env: this.env, workingDir: this.workingDir };
    const pod = this.ctx.pod();
    const grace = (probe: { terminationGracePeriodSeconds?: number }) =>
      (probe.terminationGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    const readiness = this.spec.readinessProbe;
    const liveness = this.spec.livenessProbe;
    const startup = this.spec.startupProbe;
    const startMain = (): void => {
      if (readiness) {
        this.probes.push(
          new ProbeLoop(readiness, target, (ok, message) => {
            if (!ok && proc.running) this.ctx.events.record(pod, "Warning", "Unhealthy", `Readiness probe failed: ${message}`, this.name);
            this.ready = ok && proc.running;
            this.ctx.onChange();
          }),
        );
      }
      if (liveness) {
        this.probes.push(
          new ProbeLoop(
            liveness,
            target,
            (ok, message) => {
              if (ok || !proc.running) return;
              log("liveness-failed", { pod: podKey(pod), container: this.name, message });
              this.ctx.events.record(pod, "Warning", "Unhealthy", `Liveness probe failed: ${message}`, this.name);
              this.ctx.events.record(pod, "Normal", "Killing", `Container ${this.name} failed liveness probe, will be restarted`, this.name);
              this.stopProbes();
              void proc.stop(grace(liveness));
            },
            true,
          ),
        );
      }
      for (const p of this.probes) p.start();
    };
    if (!startup) return startMain();
    const loop = new ProbeLoop(startup, target, (ok, message) => {
      loop.stop();
      if (!proc.running) return;
      if (ok) {
        this.started = true;
        this.ready = !readiness;
        this.ctx.onChange();
        startMain();
        return;
      }
      this.ctx.events.record(pod, "Warning", "Unhealthy", `Startup probe failed: ${message}`, this.name);
      void proc.stop(grace(startup));
    });
    this.probes.push(loop);
    loop.start();
  }

  private stopProbes(): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
  }

  private async runHook(hook: V1LifecycleHandler, graceMs: number): Promise<void> {
    try {
      if (hook.sleep) {
        await sleep(Math.min(hook.sleep.seconds * 1000, graceMs));
      } else if (this.proc && (hook.exec || hook.httpGet || hook.tcpSocket)) {
        const timeoutSeconds = Math.max(1, Math.floor(graceMs / 1000));
        await runProbe(
          { ...hook, timeoutSeconds },
          {
            proc: this.proc,
            container: this.spec,
            podIP: this.ctx.podIP,
            env: this.env,
            workingDir: this.workingDir,
          },
        );
      }
    } catch (err) {
      log("prestop-failed", { container: this.name, error: errorText(err) });
    }
  }

  private terminationMessage(logFile: string, exitCode: number): { message?: string } {
    if (exitCode === 0 || this.spec.terminationMessagePolicy !== "FallbackToLogsOnError") return {};
    try {
      const lines = readFileSync(logFile, "utf8").split("\n").slice(-80).join("\n");
      return { message: lines.slice(-2048) };
    } catch {
      return {};
    }
  }
}

/** `namespace/name` of a pod, for log lines. */
export function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

/** Keeps the previous instance's log as `<container>.previous.log`. */
function rotateLog(logFile: string): void {
  try {
    if (statSync(logFile).size > 0) renameSync(logFile, logFile.replace(/\.log$/, ".previous.log"));
  } catch {
    // no earlier log
  }
}
