// One container instance as a local process tree: `unshare` gives it its own mount, UTS and pid
// namespaces; the init script (mounts.ts) is pid 1 and the container command its child. The
// whole tree is one process group, and the pid namespace guarantees no process outlives pid 1.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import path from "node:path";
import type { MemoryCgroup } from "./cgroup.ts";
import { log } from "./log.ts";

export interface SpawnSpec {
  /** The container command and arguments. */
  argv: string[];
  env: Record<string, string>;
  /** Init script file (see initScript in mounts.ts), run by sh as pid 1. */
  scriptFile: string;
  /** stdout and stderr go here. */
  logFile: string;
  /** The process group id is recorded here so a restarted agent can kill leftovers. */
  pidFile: string;
  /** The memory cgroup enforcing the container's memory limit, if it has one. */
  memory?: MemoryCgroup;
}

export interface ExitInfo {
  /** Exit code, 128+signal when killed by a signal (as the kubelet reports). */
  exitCode: number;
  signal: string | null;
  finishedAt: Date;
  /** The kernel killed it for exceeding its memory limit. */
  oomKilled: boolean;
}

/** Absolute path of a tool on the agent's PATH (a container's own PATH must not matter). */
function findBinary(name: string): string {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/bin", "/bin", "/usr/sbin", "/sbin"])) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return name;
}

const SH = findBinary("sh");
const NSENTER = findBinary("nsenter");
// setpriv --pdeathsig: the tree also dies when the agent itself is SIGKILLed (unshare --kill-child
// passes it on to pid 1, and the pid namespace takes the rest).
const SETPRIV = findBinary("setpriv");
const DEATHSIG = SETPRIV.startsWith("/") ? [SETPRIV, "--pdeathsig", "KILL"] : [];
const UNSHARE = [...DEATHSIG, findBinary("unshare"), "--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private"];

/** A running container process tree. */
export class ContainerProcess {
  readonly pid: number;
  readonly startedAt = new Date();
  /** Resolves once the whole tree has exited. */
  readonly exited: Promise<ExitInfo>;
  private done = false;
  private readonly child: ChildProcess;
  private readonly pidFile: string;

  private constructor(child: ChildProcess, pidFile: string, memory: MemoryCgroup | undefined) {
    if (child.pid === undefined) throw new Error("spawn failed");
    this.child = child;
    this.pid = child.pid;
    this.pidFile = pidFile;
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        this.done = true;
        rmSync(this.pidFile, { force: true });
        // Anything left in the group (there should be nothing: the pid namespace is gone).
        try {
          process.kill(-this.pid, "SIGKILL");
        } catch {
          // group already empty
        }
        const signum = signal ? (constants.signals[signal] ?? 9) : 0;
        const oomKilled = memory?.oomKilled() ?? false;
        memory?.remove();
        // An OOM kill of the command (not of pid 1) ends pid 1 with 137 (128 + SIGKILL), as in a container.
        resolve({ exitCode: signal ? 128 + signum : (code ?? 0), signal, finishedAt: new Date(), oomKilled });
      });
    });
  }

  /** Starts the process tree; rejects when the process cannot be spawned at all. */
  static async start(spec: SpawnSpec): Promise<ContainerProcess> {
    const fd = openSync(spec.logFile, "a");
    try {
      const tree = [...UNSHARE, SH, spec.scriptFile, ...spec.argv];
      // With a memory limit a shell first moves itself into the cgroup, then becomes the tree.
      const argv = spec.memory ? [SH, "-c", 'echo $$ > "$0" && exec "$@"', spec.memory.procsFile, ...tree] : tree;
      const child = spawn(argv[0]!, argv.slice(1), {
        env: spec.env,
        detached: true,
        stdio: ["ignore", fd, fd],
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      const proc = new ContainerProcess(child, spec.pidFile, spec.memory);
      writeFileSync(spec.pidFile, String(proc.pid));
      return proc;
    } finally {
      closeSync(fd);
    }
  }

  /** True until the process tree has exited. */
  get running(): boolean {
    return !this.done;
  }

  /** Pid (in the host namespace) of the container's pid 1, the init script; used to nsenter. */
  initPid(): number | undefined {
    try {
      const children = readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, "utf8").trim();
      const first = Number(children.split(/\s+/)[0]);
      return first > 0 ? first : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends SIGTERM to pid 1 (which forwards it to the command), waits `graceMs`, then SIGKILLs the group. */
  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.done) return this.exited;
    const init = this.initPid();
    try {
      if (init) process.kill(init, "SIGTERM");
      else process.kill(-this.pid, "SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => this.kill(), Math.max(0, graceMs));
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  /** SIGKILLs the whole process group (and so the pid namespace). */
  kill(): void {
    if (this.done) return;
    try {
      process.kill(-this.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export interface ExecResult {
  exitCode: number;
  output: string;
  timedOut: boolean;
}

/** Runs `argv` inside a running container's namespaces (for exec probes and hooks). */
export function execIn(proc: ContainerProcess, argv: string[], env: Record<string, string>, workingDir: string, timeoutMs: number): Promise<ExecResult> {
  const init = proc.initPid();
  if (!proc.running || !init) return Promise.resolve({ exitCode: -1, output: "container is not running", timedOut: false });
  const args = ["--target", String(init), "--mount", "--uts", "--pid", "--", SH, "-c", 'cd "$0" 2>/dev/null; exec "$@"', workingDir, ...argv];
  return new Promise((resolve) => {
    const child = spawn(NSENTER, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer): void => {
      if (output.length < 10_000) output += chunk.toString("utf8");
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ exitCode: -1, output: err.message, timedOut: false });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      killGroup(child.pid);
      resolve({ exitCode: code ?? (signal ? 128 + (constants.signals[signal] ?? 9) : -1), output, timedOut });
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** Kills container process groups left behind by an earlier agent run (from their pid files). */
export function reapOrphans(stateDir: string): void {
  const podsDir = path.join(stateDir, "pods");
  if (!existsSync(podsDir)) return;
  for (const pod of readdirSync(podsDir)) {
    const dir = path.join(podsDir, pod);
    let entries: string[];
    try {
      entries = readdirSync(dir).filter((f) => f.endsWith(".pid"));
    } catch {
      continue;
    }
    for (const f of entries) {
      const pid = Number(readFileSync(path.join(dir, f), "utf8"));
      try {
        if (pid > 1 && readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]?.endsWith("unshare")) {
          process.kill(-pid, "SIGKILL");
          log("orphan-killed", { pod, pid });
        }
      } catch {
        // not running
      }
      rmSync(path.join(dir, f), { force: true });
    }
  }
}
