// Writing a volume's files: only changed files are rewritten (write + rename), stale ones removed.
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface FileContent {
  content: Buffer;
  mode: number;
}

/** Relative file path → content and mode. */
export type FileSet = Map<string, FileContent>;

/** Makes `dir` hold exactly `files` (when `prune`), rewriting only what changed, each file atomically. */
export function writeFileSet(dir: string, files: FileSet, prune = true): void {
  mkdirSync(dir, { recursive: true });
  const wanted = new Set<string>();
  for (const [rel, file] of files) {
    const normal = path.normalize(rel);
    if (path.isAbsolute(normal) || normal.startsWith("..")) throw new Error(`invalid volume file path ${rel}`);
    wanted.add(normal);
    const target = path.join(dir, normal);
    mkdirSync(path.dirname(target), { recursive: true });
    if (sameContent(target, file)) continue;
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, file.content, { mode: file.mode });
    chmodSync(tmp, file.mode);
    renameSync(tmp, target);
  }
  if (prune) pruneDir(dir, "", wanted);
}

function sameContent(target: string, file: FileContent): boolean {
  try {
    const st = statSync(target);
    return (st.mode & 0o777) === (file.mode & 0o777) && readFileSync(target).equals(file.content);
  } catch {
    return false;
  }
}

function pruneDir(root: string, rel: string, wanted: Set<string>): boolean {
  let kept = false;
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const childRel = rel ? path.join(rel, entry.name) : entry.name;
    if (entry.isDirectory()) {
      if (pruneDir(root, childRel, wanted)) kept = true;
      else rmSync(path.join(root, childRel), { recursive: true, force: true });
    } else if (wanted.has(childRel)) kept = true;
    else rmSync(path.join(root, childRel), { force: true });
  }
  return kept;
}
