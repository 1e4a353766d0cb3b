/**
 * Where a requested savepoint may be written: only under the job's savepoint root
 * (spec.savepoint.storage.path), by a relative name. An admin request can then never make a
 * worker write over files elsewhere, even with a leaked token: absolute paths, `..` and odd
 * segments are refused, and so is a name that leads through a symlink out of the root.
 */
import { lstat, mkdir, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { SavepointRequestError } from "../observe/savepoint-control.ts";

/** One path segment of a savepoint name: letters, digits, `.`, `_`, `-`, not starting with a dot or dash. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** Longest savepoint name accepted. */
const MAX_NAME = 255;

const HOW = 'send {"name": "<relative name>"}, e.g. {"name": "upgrade-1"}, the same to every worker';

/** Checks a savepoint name's form (no filesystem access); throws a 400 naming what is wrong. */
export function checkSavepointName(name: string): void {
  if (name === "" || name.length > MAX_NAME) throw new SavepointRequestError(`a savepoint name has 1 to ${MAX_NAME} characters; ${HOW}`, 400);
  if (name.startsWith("/") || name.includes("\\") || /^[A-Za-z]:/.test(name))
    throw new SavepointRequestError(`savepoint name '${name}' is not relative: names are resolved under the job's savepoint root; ${HOW}`, 400);
  for (const segment of name.split("/")) {
    if (segment === "..") throw new SavepointRequestError(`savepoint name '${name}' climbs out of the savepoint root with '..'; ${HOW}`, 400);
    if (!SEGMENT.test(segment))
      throw new SavepointRequestError(
        `savepoint name '${name}' has the segment '${segment}': segments are letters, digits, '.', '_' and '-', not empty and not starting with '.' or '-'`,
        400,
      );
  }
}

/** True when `path` is `root` or lies inside it. */
function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The deepest existing ancestor of `path` (itself when it exists). */
async function existingAncestor(path: string): Promise<string> {
  let p = path;
  for (;;) {
    try {
      await lstat(p);
      return p;
    } catch {
      const up = dirname(p);
      if (up === p) return p;
      p = up;
    }
  }
}

/**
 * The folder a savepoint named `name` goes to under `root`: `root/name`, once the name's form is
 * checked and no existing part of it is a symlink leading out of the root (the root itself may
 * be one: a mounted volume). Creates the root when missing.
 */
export async function savepointTarget(root: string, name: string): Promise<string> {
  checkSavepointName(name);
  await mkdir(root, { recursive: true });
  const realRoot = await realpath(root);
  const target = join(root, name);
  const existing = await existingAncestor(target);
  const real = await realpath(existing);
  if (!inside(realRoot, real))
    throw new SavepointRequestError(`savepoint name '${name}' leads out of the savepoint root ${root} (through a symlink at ${existing}); ${HOW}`, 400);
  return target;
}
