// Per-container mount namespace: the mounts a container needs, the mount points created on the
// host for them (reference-counted, removed again), and the init script that runs inside
// `unshare`: sets the hostname, bind-mounts volumes, then runs the command as a child,
// forwarding signals and returning its exit code (the pid namespace ends with it).
import { existsSync, mkdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { V1Container } from "@kubernetes/client-node";
import { expandVars } from "./env.ts";
import { VolumeError } from "./volumes.ts";

export interface Mount {
  /** Host path (directory or file). */
  source: string;
  /** Path inside the container's mount namespace. */
  target: string;
  readOnly: boolean;
  /** True when source is a file (the mount point must be a file too). */
  file: boolean;
  /** True when the target lies inside another mount of the same container (created in the namespace). */
  nested: boolean;
}

/**
 * Resolves a container's volumeMounts (subPath, subPathExpr) to host sources, creating subPath
 * folders; `imageFiles` (container path → host path) are the image's own files, mounted read-only
 * under the volumes as a container runtime lays the image below them.
 */
export function containerMounts(
  container: V1Container,
  volumes: Map<string, string>,
  env: Record<string, string>,
  imageFiles: Record<string, string> = {},
): Mount[] {
  const mounts: Mount[] = [];
  for (const [target, source] of Object.entries(imageFiles)) {
    if (!existsSync(source)) throw new VolumeError(`image file ${target}: ${source} does not exist on the node`);
    mounts.push({ source, target: path.resolve("/", target), readOnly: true, file: statSync(source).isFile(), nested: false });
  }
  for (const vm of container.volumeMounts ?? []) {
    const base = volumes.get(vm.name);
    if (base === undefined) throw new VolumeError(`volumeMount ${vm.name}: no such volume`);
    const sub = vm.subPathExpr ? expandVars(vm.subPathExpr, env) : (vm.subPath ?? "");
    let source = base;
    if (sub) {
      const normal = path.normalize(sub);
      if (path.isAbsolute(normal) || normal.startsWith("..")) throw new VolumeError(`invalid subPath ${sub}`);
      source = path.join(base, normal);
      if (!existsSync(source)) mkdirSync(source, { recursive: true });
    }
    const file = statSync(source).isFile();
    mounts.push({ source, target: path.resolve("/", vm.mountPath), readOnly: vm.readOnly ?? false, file, nested: false });
  }
  mounts.sort((a, b) => a.target.split("/").length - b.target.split("/").length);
  for (const m of mounts) {
    m.nested = mounts.some((o) => o !== m && !o.file && m.target.startsWith(o.target === "/" ? "/" : o.target + "/"));
  }
  return mounts;
}

/** Host mount points created by the agent, reference-counted so they are removed once unused. */
export class MountPoints {
  private readonly ours = new Map<string, number>();

  /** Makes sure each non-nested target exists on the host; returns the handles to release later. */
  acquire(mounts: Mount[]): string[] {
    const held: string[] = [];
    for (const m of mounts) {
      if (m.nested) continue;
      const missing: string[] = [];
      for (let p = m.target; !existsSync(p); p = path.dirname(p)) missing.unshift(p);
      missing.forEach((p, i) => {
        if (i === missing.length - 1 && m.file) writeFileSync(p, "");
        else mkdirSync(p);
        this.ours.set(p, 0);
      });
      for (let p = m.target; p !== "/"; p = path.dirname(p)) {
        const n = this.ours.get(p);
        if (n === undefined) continue;
        this.ours.set(p, n + 1);
        held.push(p);
      }
    }
    return held;
  }

  /** Releases handles from acquire(); removes mount points nobody uses any more (only if empty). */
  release(held: string[]): void {
    for (const p of held) {
      const n = (this.ours.get(p) ?? 1) - 1;
      if (n > 0) {
        this.ours.set(p, n);
        continue;
      }
      this.ours.delete(p);
      try {
        if (statSync(p).isDirectory()) rmdirSync(p);
        else if (statSync(p).size === 0) unlinkSync(p);
      } catch {
        // not empty or already gone: leave it
      }
    }
  }
}

/** Quotes a string for POSIX sh. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface InitScriptOptions {
  hostname: string;
  /** Per-pod /etc/hosts file to bind over /etc/hosts. */
  hostsFile?: string;
  mounts: Mount[];
  workingDir: string;
  /** True when workingDir is the agent's own folder for the container (a host path, not the container's). */
  workingDirOnHost?: boolean;
}

/** True when a mount over `target` hides host path `p`. */
function hides(target: string, p: string): boolean {
  return target === "/" || p === target || p.startsWith(target + "/");
}

/**
 * Mounts in a safe order: a mount over a folder that holds the sources of other mounts or the
 * agent's working dir (an emptyDir at /tmp while the agent's data lives under /tmp) goes last,
 * with the mounts nested in it, so it hides nothing the script still has to reach.
 */
function mountOrder(mounts: Mount[], hostPaths: string[]): { early: Mount[]; late: Mount[] } {
  const early: Mount[] = [];
  const late: Mount[] = [];
  for (const m of mounts) {
    const needed = [...mounts.filter((o) => o !== m).map((o) => o.source), ...hostPaths];
    if (needed.some((p) => hides(m.target, p)) || late.some((l) => hides(l.target, m.target))) late.push(m);
    else early.push(m);
  }
  return { early, late };
}

/** Builds the sh script run as pid 1 of the container: mounts, hostname, cd, then the command ("$@"). */
export function initScript(opts: InitScriptOptions): string {
  const lines = ["set -e", `printf %s ${shQuote(opts.hostname)} > /proc/sys/kernel/hostname`];
  if (opts.hostsFile && existsSync("/etc/hosts")) lines.push(`mount --bind ${shQuote(opts.hostsFile)} /etc/hosts`);
  const mount = (m: Mount) => {
    const t = shQuote(m.target);
    if (m.nested) {
      lines.push(m.file ? `[ -e ${t} ] || { mkdir -p "$(dirname ${t})"; : > ${t}; }` : `mkdir -p ${t}`);
    }
    lines.push(`mount --bind ${shQuote(m.source)} ${t}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${t}`);
  };
  const { early, late } = mountOrder(opts.mounts, opts.workingDirOnHost ? [opts.workingDir] : []);
  early.forEach(mount);
  // A host working dir is entered before a late mount can hide it (the process keeps it).
  if (opts.workingDirOnHost) lines.push(`cd ${shQuote(opts.workingDir)}`);
  late.forEach(mount);
  if (!opts.workingDirOnHost) lines.push(`cd ${shQuote(opts.workingDir)}`);
  lines.push(
    "set +e",
    "c= s=",
    `trap 's=TERM; [ -n "$c" ] && kill -TERM $c 2>/dev/null' TERM`,
    `trap 's=INT; [ -n "$c" ] && kill -INT $c 2>/dev/null' INT`,
    `trap 's=HUP; [ -n "$c" ] && kill -HUP $c 2>/dev/null' HUP`,
    '"$@" & c=$!',
    '[ -n "$s" ] && kill -$s $c 2>/dev/null',
    "rc=0",
    "while kill -0 $c 2>/dev/null; do wait $c; rc=$?; done",
    "exit $rc",
  );
  return lines.join("\n");
}
