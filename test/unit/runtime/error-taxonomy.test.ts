// Every error the runtime throws belongs to the taxonomy of runtime/errors.ts, so `retriable` and
// `errorClass` (the worker's exit code) are never guessed from a plain Error. The scan keeps plain
// `throw new Error(` (and built-in error classes) out of runtime/ for good.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { job } from "../../../runtime/api/job.ts";
import { collectionSource, collectSink } from "../../../runtime/connectors/memory.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { JobDefinitionError, RunnelError } from "../../../runtime/errors.ts";
import { repoRoot } from "../../env/lib/layout.ts";

/** Files of runtime/ that may throw a built-in error: none so far. Each entry needs a reason. */
const ALLOWED: Readonly<Record<string, string>> = {};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith(".ts") ? [path] : [];
  });
}

/** `file:line: text` of every line of runtime/ matching `re`, outside the allow-list. */
function offenders(re: RegExp): string[] {
  const runtime = join(repoRoot, "runtime");
  const out: string[] = [];
  for (const file of sources(runtime)) {
    const rel = relative(repoRoot, file);
    if (rel in ALLOWED) continue;
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (re.test(line)) out.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
  }
  return out;
}

describe("the error taxonomy", () => {
  it("runtime/ throws no plain Error (nor TypeError, RangeError, SyntaxError)", () => {
    expect(offenders(/throw new (Error|TypeError|RangeError|SyntaxError)\(/)).toEqual([]);
  });

  it("every error class of runtime/ derives from RunnelError", () => {
    expect(offenders(/class \w+ extends (Error|TypeError|RangeError|SyntaxError)\b/).filter((l) => !l.startsWith("runtime/errors.ts:"))).toEqual([]);
  });

  it("the scan finds what it looks for", () => {
    // The runtime's own base class is the one sanctioned `extends Error`: proof the scan reads the files.
    expect(offenders(/class RunnelError extends Error\b/)).toHaveLength(1);
  });

  it("a record routed to a task another process runs is a configuration error of the job, not a checkpoint failure", async () => {
    // Forty keys on partition 0 of two: some hash to task 1, which this process (owning task 0 only) does not run.
    const g = job("routing");
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    g.source(collectionSource({ partitions: [keys, []] }))
      .keyBy((k) => k)
      .process<string>(() => ({ processElement: (v, _c, out) => out.collect(v) }))
      .sink(collectSink<string>());
    const err = await createEngine({ graph: g.build(), tasks: [0], idleSleepMs: 0 })
      .run()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(JobDefinitionError);
    expect(err).toMatchObject({ errorClass: "configuration", retriable: false });
    expect((err as RunnelError).message).toMatch(/routed to task 1.*partitionedBy/);
  });
});
