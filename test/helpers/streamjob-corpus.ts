/** The malformed-StreamJob corpus (test/fixtures/streamjobs/invalid), shared by unit and integration tests. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../env/lib/layout.ts";
import { parseManifests } from "../../runtime/spec/manifest.ts";

/** One malformed manifest and what validation must say about it. */
export interface InvalidCase {
  name: string;
  /** The manifest's YAML text. */
  text: string;
  manifest: unknown;
  /** Expected kubectl-style path, e.g. `.spec.pipeline.steps[1].window.size`. */
  path: string;
  /** A fragment of the expected message. */
  message: string;
  /** The path the apiserver reports, when it is spelled differently (map keys in brackets). */
  apiserverPath: string;
  /** A fragment of the expected hint, if any. */
  hint?: string;
}

/** Reads every case with its `# expect:`, `# apiserver:` and `# hint:` header lines. */
export function readInvalidCorpus(): InvalidCase[] {
  const dir = join(repoRoot, "test/fixtures/streamjobs/invalid");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), "utf8");
      const header = (key: string): string | undefined => new RegExp(`^# ${key}: (.*)$`, "m").exec(text)?.[1]?.trim();
      const expectLine = header("expect");
      if (!expectLine) throw new Error(`${file} has no "# expect: <path> <message>" line`);
      const space = expectLine.indexOf(" ");
      const path = expectLine.slice(0, space);
      const hint = header("hint");
      return {
        name: file.replace(/\.yaml$/, ""),
        text,
        // Parsed as kubectl parses it (YAML 1.1), so both tiers check the same object.
        manifest: parseManifests(text)[0],
        path,
        message: expectLine.slice(space + 1),
        apiserverPath: header("apiserver") ?? path.replace(/^\./, ""),
        ...(hint ? { hint } : {}),
      };
    });
}
