// A container's memory limit, enforced as the kubelet does: the process tree runs in a memory
// cgroup of its own whose limit is `resources.limits.memory`; past it the kernel kills a process
// of the tree (the container then ends with 137 and the reason OOMKilled). Both cgroup versions:
// v2 (memory.max, memory.events' oom_kill) and v1 (memory.limit_in_bytes, memory.oom_control's
// oom_kill). The cgroups are made below the agent's own, so they go away with the machine's.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { log } from "./log.ts";

/** The memory cgroup of one container instance. */
export interface MemoryCgroup {
  /** Writing a pid here moves that process (and what it forks afterwards) into the cgroup. */
  readonly procsFile: string;
  /** True when the kernel killed a process of the cgroup for exceeding its limit. */
  oomKilled(): boolean;
  /** Removes the cgroup (once its processes are gone). */
  remove(): void;
}

/** Where the agent's own memory cgroup is, and which version, or undefined when there is none it may write to. */
function ownMemoryCgroup(): { dir: string; v2: boolean } | undefined {
  let lines: string[];
  try {
    lines = readFileSync("/proc/self/cgroup", "utf8").trim().split("\n");
  } catch {
    return undefined;
  }
  for (const line of lines) {
    const [, controllers, rel] = line.split(":");
    if (controllers?.split(",").includes("memory") && rel !== undefined) {
      const dir = path.join("/sys/fs/cgroup/memory", rel);
      if (existsSync(path.join(dir, "memory.limit_in_bytes"))) return { dir, v2: false };
    }
  }
  const unified = lines.find((l) => l.startsWith("0::"));
  if (unified !== undefined) {
    const dir = path.join("/sys/fs/cgroup", unified.slice(3));
    // A v2 cgroup can only limit children's memory when its subtree has the controller.
    if (readOr(path.join(dir, "cgroup.subtree_control"), "").split(/\s+/).includes("memory")) return { dir, v2: true };
  }
  return undefined;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

const own = ownMemoryCgroup();
let warned = false;

/** Creates the memory cgroup `name` limited to `limitBytes`; undefined (logged once) when the machine has none to use. */
export function memoryCgroup(name: string, limitBytes: number): MemoryCgroup | undefined {
  if (own === undefined) {
    if (!warned) log("memory-limits-not-enforced", { reason: "no writable memory cgroup for the agent" });
    warned = true;
    return undefined;
  }
  const dir = path.join(own.dir, "runnel-node-agent", name);
  try {
    mkdirSync(dir, { recursive: true });
    if (own.v2) {
      writeFileSync(path.join(dir, "memory.max"), String(limitBytes));
      if (existsSync(path.join(dir, "memory.swap.max"))) writeFileSync(path.join(dir, "memory.swap.max"), "0");
    } else {
      writeFileSync(path.join(dir, "memory.limit_in_bytes"), String(limitBytes));
      // No swap beyond the limit either (memsw counts memory + swap; it must not be below the limit).
      if (existsSync(path.join(dir, "memory.memsw.limit_in_bytes"))) writeFileSync(path.join(dir, "memory.memsw.limit_in_bytes"), String(limitBytes));
    }
  } catch (err) {
    log("memory-limit-failed", { cgroup: dir, error: (err as Error).message });
    return undefined;
  }
  const events = path.join(dir, own.v2 ? "memory.events" : "memory.oom_control");
  return {
    procsFile: path.join(dir, "cgroup.procs"),
    oomKilled: () => Number(/^oom_kill (\d+)$/m.exec(readOr(events, ""))?.[1] ?? 0) > 0,
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // still in use or already gone; the next container of this name reuses it
      }
    },
  };
}
