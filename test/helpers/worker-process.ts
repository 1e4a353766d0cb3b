/**
 * `runnel worker` processes for tests: started on a job's manifest with their own state folder and
 * log, killed with SIGKILL or stopped with SIGTERM, read through their logs and admin API, and
 * kept running as a StatefulSet keeps its pods (supervisedWorkers). Waits poll observable state.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { EXIT_CODES } from "../../runtime/worker-contract.ts";
import { waitFor } from "./wait.ts";

const MAIN = resolve(import.meta.dirname, "../../runtime/cli/main.ts");

/** A worker process. */
export interface WorkerProcess {
  ordinal: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  log: string;
}

/** Starts `runnel worker` for the job (its own state folder per ordinal unless given); any job with a folder and a manifest. */
export function startWorker(
  job: { dir: string; manifest: string },
  ordinal: number,
  workers: number,
  opts: { stateDir?: string; extraArgs?: string[]; manifest?: string; env?: Record<string, string> } = {},
): WorkerProcess {
  const logs = join(job.dir, "logs");
  mkdirSync(logs, { recursive: true });
  const log = join(logs, `w${ordinal}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}.log`);
  const out = createWriteStream(log);
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "worker",
      "--job",
      opts.manifest ?? job.manifest,
      "--ordinal",
      String(ordinal),
      "--workers",
      String(workers),
      "--namespace",
      "test",
      "--state-dir",
      opts.stateDir ?? join(job.dir, `state-w${ordinal}`),
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  return { ordinal, child, exited, log };
}

/** Kills a worker with SIGKILL and waits for it to be gone. */
export async function kill9(w: WorkerProcess): Promise<void> {
  w.child.kill("SIGKILL");
  await w.exited;
}

/** Stops a worker with SIGTERM (final checkpoint) and returns its exit code. */
export async function stopGracefully(w: WorkerProcess): Promise<number | null> {
  w.child.kill("SIGTERM");
  return w.exited;
}

/** The last lines of a worker's log (for failure messages). */
export function logTail(w: WorkerProcess, lines = 15): string {
  try {
    return readFileSync(w.log, "utf8")
      .split("\n")
      .filter((l) => !/coordinator|GroupCoordinator|TimeoutNegative|Timeout duration|trace-warnings/.test(l))
      .slice(-lines)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

/** Worker processes kept running the way a StatefulSet keeps its pods (see supervisedWorkers). */
export interface SupervisedWorkers {
  /** The current process of each ordinal. */
  readonly workers: WorkerProcess[];
  /** Starts ordinal `o` again (after the test killed it) and keeps supervising it. */
  replace(o: number): WorkerProcess;
  /** How many times a worker exited as retriable on its own and was started again. */
  restarts(): number;
  /** Stops restarting (before the test stops the workers itself). */
  stop(): void;
}

/**
 * Starts `count` workers with `start` and starts again any that exits as retriable (exit 75: a
 * broker too slow to answer on a loaded machine) on its own, as Kubernetes restarts a pod whose
 * container exits; kills and stops by the test are left to the test.
 */
export function supervisedWorkers(count: number, start: (ordinal: number) => WorkerProcess): SupervisedWorkers {
  const workers: WorkerProcess[] = [];
  let stopped = false;
  let restarts = 0;
  const watch = (o: number, w: WorkerProcess): WorkerProcess => {
    workers[o] = w;
    void w.exited.then((code) => {
      if (stopped || workers[o] !== w || code !== EXIT_CODES.transient) return;
      restarts++;
      watch(o, start(o));
    });
    return w;
  };
  for (let o = 0; o < count; o++) watch(o, start(o));
  return {
    workers,
    replace: (o) => watch(o, start(o)),
    restarts: () => restarts,
    stop: () => void (stopped = true),
  };
}

/** Where a worker started with `--admin 127.0.0.1:0` logs the URL it serves on. */
const ADMIN_URL = /admin API on (http:\/\/[^\s"]+)/;

/** What a worker logged so far ("" before its log exists). */
function logText(w: WorkerProcess): string {
  try {
    return readFileSync(w.log, "utf8");
  } catch {
    return ""; // not created yet
  }
}

/** True when the worker answers /readyz with 200 now (false while it starts, and once it exited). */
export async function isWorkerReady(w: WorkerProcess): Promise<boolean> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return false;
  const url = ADMIN_URL.exec(logText(w))?.[1];
  if (url === undefined) return false;
  try {
    return (await fetch(`${url}/readyz`)).status === 200;
  } catch {
    return false;
  }
}

/** The sum of every sample of metric `name` on a worker's /metrics (0 when absent). */
export async function workerMetric(w: WorkerProcess, name: string): Promise<number> {
  const url = ADMIN_URL.exec(logText(w))?.[1];
  if (url === undefined) throw new Error(`worker ${w.ordinal} logged no admin address`);
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Waits until a worker's log matches `pattern`; returns the match. */
export async function waitForLog(w: WorkerProcess, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(logText(w));
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`worker ${w.ordinal} did not log ${String(pattern)}:\n${logTail(w)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits for a worker's admin URL in its log (it starts with --admin 127.0.0.1:0). */
export async function adminUrl(w: WorkerProcess, timeoutMs = 60_000): Promise<string> {
  return (await waitForLog(w, ADMIN_URL, timeoutMs))[1] as string;
}

/** The exit code of a worker expected to end by itself, or "still running" after `timeoutMs`. */
export function exitWithin(w: WorkerProcess, timeoutMs = 120_000): Promise<number | null | string> {
  return Promise.race([w.exited, new Promise<string>((r) => setTimeout(() => r("still running"), timeoutMs))]);
}

/** Waits until a worker started with `--admin 127.0.0.1:0` answers /readyz with 200: restored and running. */
export async function waitReady(w: WorkerProcess, timeoutMs = 120_000): Promise<void> {
  const url = await adminUrl(w, timeoutMs);
  await waitFor(`worker ${w.ordinal} to be ready`, async () => (await fetch(`${url}/readyz`)).status === 200, { timeoutMs, intervalMs: 200 }).catch(
    (err: Error) => {
      throw new Error(`${err.message}:\n${logTail(w)}`);
    },
  );
}

/** Runs the runnel CLI to its end. */
export function runnelCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
