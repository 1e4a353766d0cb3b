// Every runnel example in the README works when pasted: each `npm run … runnel -- …` line of its
// sh blocks runs from the repository root and exits as the README says (1 for the manifest it
// presents as invalid, 0 otherwise). `npm start` runs too, bounded with --max-records as the
// README shows (unbounded it runs until Ctrl-C); `npm ci` and `npm test` are not re-run.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../env/lib/layout.ts";

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
const commands = blocks
  .flatMap((b) => b.split("\n"))
  .map((l) => l.trim())
  .filter((l) => /^npm run( --silent)? runnel -- /.test(l) || l === "npm ci && npm start");

describe("README examples", () => {
  it("has runnel examples to check", () => {
    expect(commands.length).toBeGreaterThanOrEqual(4);
  });

  it.each(commands)("%s", (command) => {
    const line = command === "npm ci && npm start" ? "npm start -- --max-records 4000" : command;
    const result = spawnSync("bash", ["-c", line], { cwd: repoRoot, encoding: "utf8", timeout: 120_000 });
    const expected = line.includes("/invalid") ? 1 : 0;
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(expected);
    expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m); // no stack traces
    if (line.startsWith("npm start")) expect(result.stderr).toMatch(/quickstart-orders finished after .*dead letters \d+/);
  });
});
