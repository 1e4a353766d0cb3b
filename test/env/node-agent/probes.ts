// Probes (exec, httpGet, tcpSocket) and the loop that turns probe results into a state with
// initialDelaySeconds, periodSeconds, timeoutSeconds, failureThreshold and successThreshold.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { V1Container, V1Probe } from "@kubernetes/client-node";
import { execIn, type ContainerProcess } from "./process.ts";

export interface ProbeTarget {
  proc: ContainerProcess;
  container: V1Container;
  podIP: string;
  env: Record<string, string>;
  workingDir: string;
}

export interface ProbeResult {
  ok: boolean;
  message: string;
}

/** Runs one probe once. */
export async function runProbe(probe: V1Probe, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec) {
    const r = await execIn(target.proc, probe.exec.command ?? [], target.env, target.workingDir, timeoutMs);
    if (r.timedOut) return { ok: false, message: `command timed out after ${timeoutMs / 1000}s` };
    return { ok: r.exitCode === 0, message: r.exitCode === 0 ? "" : `exit code ${r.exitCode}: ${r.output.trim().slice(0, 200)}` };
  }
  if (probe.httpGet) {
    const g = probe.httpGet;
    const port = resolvePort(g.port, target.container);
    const host = g.host || target.podIP;
    const headers: Record<string, string> = { "User-Agent": "kube-probe/1.36" };
    for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
    return httpProbe(g.scheme === "HTTPS", host, port, g.path ?? "/", headers, timeoutMs);
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, target.container);
    return tcpProbe(probe.tcpSocket.host || target.podIP, port, timeoutMs);
  }
  return { ok: false, message: "unsupported probe handler (grpc is not implemented by the node agent)" };
}

/** Resolves a probe port (number or named container port). */
export function resolvePort(port: number | string | object, container: V1Container): number {
  if (typeof port === "number") return port;
  if (typeof port !== "string") throw new Error(`invalid probe port ${JSON.stringify(port)}`);
  const text = port;
  if (/^\d+$/.test(text)) return Number(text);
  const named = container.ports?.find((p) => p.name === text);
  if (!named) throw new Error(`container has no port named ${text}`);
  return named.containerPort;
}

function httpProbe(tls: boolean, host: string, port: number, path: string, headers: Record<string, string>, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const mod = tls ? https : http;
    const req = mod.get({ host, port, path, headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, message: `HTTP probe failed with statuscode: ${code}` });
    });
    req.on("timeout", () => req.destroy(new Error(`Get "http://${host}:${port}${path}": context deadline exceeded`)));
    req.on("error", (err) => resolve({ ok: false, message: err.message }));
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, timeout: timeoutMs });
    sock.on("connect", () => {
      sock.destroy();
      resolve({ ok: true, message: "" });
    });
    sock.on("timeout", () => sock.destroy(new Error(`dial tcp ${host}:${port}: i/o timeout`)));
    sock.on("error", (err) => resolve({ ok: false, message: err.message }));
  });
}

export type ProbeKind = "readiness" | "liveness" | "startup";

/** Periodically runs a probe and reports state changes: true after successThreshold successes, false after failureThreshold failures. */
export class ProbeLoop {
  private readonly probe: V1Probe;
  private readonly target: ProbeTarget;
  private readonly onChange: (ok: boolean, message: string) => void;
  private readonly firstAfterPeriod: boolean;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private state: boolean | undefined;
  private successes = 0;
  private failures = 0;

  /**
   * Creates a loop; `onChange` is called when the thresholded result changes. With
   * `firstAfterPeriod` (liveness) the first probe waits at least one period, as the kubelet's does.
   */
  constructor(probe: V1Probe, target: ProbeTarget, onChange: (ok: boolean, message: string) => void, firstAfterPeriod = false) {
    this.firstAfterPeriod = firstAfterPeriod;
    this.probe = probe;
    this.target = target;
    this.onChange = onChange;
  }

  /** Starts probing after initialDelaySeconds. */
  start(): void {
    const initial = this.probe.initialDelaySeconds ?? 0;
    this.schedule((this.firstAfterPeriod ? Math.max(initial, this.probe.periodSeconds ?? 10) : initial) * 1000);
  }

  /** Stops probing. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick().catch(() => undefined);
    }, ms);
  }

  private async tick(): Promise<void> {
    let result: ProbeResult;
    try {
      result = await runProbe(this.probe, this.target);
    } catch (err) {
      result = { ok: false, message: err instanceof Error ? err.message : String(err) };
    }
    if (this.stopped) return;
    if (result.ok) {
      this.successes++;
      this.failures = 0;
      if (this.state !== true && this.successes >= (this.probe.successThreshold ?? 1)) this.set(true, "");
    } else {
      this.failures++;
      this.successes = 0;
      if (this.state !== false && this.failures >= (this.probe.failureThreshold ?? 3)) this.set(false, result.message);
    }
    this.schedule((this.probe.periodSeconds ?? 10) * 1000);
  }

  private set(ok: boolean, message: string): void {
    this.state = ok;
    this.onChange(ok, message);
  }
}
