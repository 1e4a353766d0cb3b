/**
 * Which modules a `runnel` command loads: the CLI run in a child process with a module-resolution
 * hook that prints every URL it resolves. For tests that keep a heavy dependency on demand
 * (ADR 19: the operator; ADR 38: the SQL compiler).
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const MAIN = resolve(import.meta.dirname, "../../runtime/cli/main.ts");
const HOOK = `import { registerHooks } from "node:module";
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); process.stderr.write("loaded " + r.url + "\\n"); return r; } });`;

/** The URLs of every module `runnel <args>` loaded, in order, and its exit code. */
export function loadedModules(args: string[]): { urls: string[]; status: number | null } {
  const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(HOOK)}`, MAIN, ...args], { encoding: "utf8" });
  const urls = r.stderr
    .split("\n")
    .filter((l) => l.startsWith("loaded "))
    .map((l) => l.slice(7));
  return { urls, status: r.status };
}
