/** Daemon processes of the test environment: start detached with a pid file, wait, stop. */
import { spawn } from "node:child_process";
import { openSync, closeSync, writeFileSync, readFileSync, readdirSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface DaemonOptions {
  /** Component name: names the log file and the pid file. */
  name: string;
  command: string;
  args: string[];
  /** The environment's run directory (holds logs/ and pids/). */
  runDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a command in its own process group, detached from this process, logging to logs/<name>.log. */
export function startDaemon(opts: DaemonOptions): number {
  const logFile = join(opts.runDir, "logs", `${opts.name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd ?? opts.runDir,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${opts.name}: could not start ${opts.command}`);
  child.unref();
  // The start order is kept in the pid file name so `down` stops in reverse order.
  const order = readdirSync(join(opts.runDir, "pids")).length;
  writeFileSync(join(opts.runDir, "pids", `${String(order).padStart(2, "0")}-${opts.name}.pid`), String(child.pid));
  return child.pid;
}

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when the run directory has env.json and every process it recorded is still running. */
export function envRunning(runDir: string): boolean {
  const pids = pidFiles(runDir);
  return existsSync(join(runDir, "env.json")) && pids.length > 0 && pids.every((p) => isAlive(p.pid));
}

/** Pid files of running components, in start order. */
export function pidFiles(runDir: string): { name: string; pid: number; file: string }[] {
  const dir = join(runDir, "pids");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".pid"))
    .sort()
    .map((f) => ({
      name: f.replace(/^\d+-/, "").replace(/\.pid$/, ""),
      pid: Number(readFileSync(join(dir, f), "utf8").trim()),
      file: join(dir, f),
    }));
}

/** Polls `check` until it returns true, failing with the component's log tail after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, opts: { timeoutMs: number; pid?: number; logFile?: string }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (opts.pid !== undefined && !isAlive(opts.pid)) {
      throw new Error(`${what}: process exited before it was ready${logTail(opts.logFile)}`);
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`${what}: not ready after ${opts.timeoutMs} ms (${lastError || "check kept failing"})${logTail(opts.logFile)}`);
}

function logTail(logFile: string | undefined): string {
  if (!logFile || !existsSync(logFile)) return "";
  const lines = readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-20);
  return `\n--- last lines of ${logFile} ---\n${lines.join("\n")}`;
}

/** Stops every component this run directory records, newest first: SIGTERM to the group, then SIGKILL. */
export async function stopAll(runDir: string, graceMs = 10_000): Promise<string[]> {
  const stopped: string[] = [];
  for (const { name, pid, file } of pidFiles(runDir).reverse()) {
    if (isAlive(pid)) {
      signalGroup(pid, "SIGTERM");
      const deadline = Date.now() + graceMs;
      while (isAlive(pid) && Date.now() < deadline) await sleep(100);
      signalGroup(pid, "SIGKILL");
      stopped.push(name);
    }
    rmSync(file, { force: true });
  }
  return stopped;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
