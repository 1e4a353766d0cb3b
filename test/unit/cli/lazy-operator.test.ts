// `runnel operator` is loaded on demand (ADR 19): the other commands never load the operator or
// @kubernetes/client-node. Checked by running the CLI with a module-resolution hook that prints
// every module it loads.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = resolve(import.meta.dirname, "../../../runtime/cli/main.ts");
const OPERATOR_DIR = pathToFileURL(resolve(import.meta.dirname, "../../../operator")).href + "/";
const HOOK = `import { registerHooks } from "node:module";
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); process.stderr.write("loaded " + r.url + "\\n"); return r; } });`;

function loadedModules(args: string[]): string[] {
  const r = spawnSync(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(HOOK)}`, MAIN, ...args], { encoding: "utf8" });
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("loaded "))
    .map((l) => l.slice(7));
}

describe("runnel operator is loaded on demand", () => {
  const operatorModules = (urls: string[]) => urls.filter((u) => u.includes("@kubernetes/client-node") || u.startsWith(OPERATOR_DIR));

  it("runnel validate loads neither the operator nor client-node", () => {
    const urls = loadedModules(["validate", join(import.meta.dirname, "../../fixtures/streamjobs/analytics.yaml")]);
    expect(urls.some((u) => u.endsWith("/runtime/cli/validate.ts"))).toBe(true);
    expect(operatorModules(urls)).toEqual([]);
  });

  it("runnel operator loads them", () => {
    const urls = loadedModules(["operator", "--listen", "bad"]);
    expect(urls).toContain(`${OPERATOR_DIR}main.ts`);
    expect(urls.some((u) => u.includes("@kubernetes/client-node"))).toBe(true);
  });
});
