/**
 * `npm run generate`: writes the CRDs, TypeScript types, ajv validators and CRD reference from the
 * one schema source in runtime/spec/schema. `--check` writes nothing and exits 1 listing stale files
 * (CI runs it, and a unit test does the same in memory).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateAll } from "./generate.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Files whose content on disk differs from what the generator produces. */
export function staleFiles(files: Map<string, string>, repoRoot = root): string[] {
  const stale: string[] = [];
  for (const [path, content] of files) {
    let current: string | undefined;
    try {
      current = readFileSync(join(repoRoot, path), "utf8");
    } catch {
      current = undefined;
    }
    if (current !== content) stale.push(path);
  }
  return stale;
}

/** Runs the generator; returns the process exit code. */
export function main(args: readonly string[]): number {
  const files = generateAll();
  if (args.includes("--check")) {
    const stale = staleFiles(files);
    if (stale.length > 0) {
      console.error(`Generated files are stale (run npm run generate):\n${stale.map((p) => `  ${p}`).join("\n")}`);
      return 1;
    }
    console.log(`${files.size} generated files are up to date.`);
    return 0;
  }
  for (const [path, content] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    console.log(`wrote ${path}`);
  }
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
