// The three case systems in local mode: each example's generator writes its input files, `runnel
// run` runs the example's manifest on them with checkpoints and is killed with SIGKILL mid-stream,
// a second `runnel run --restore latest` finishes the job, and the example's verifier — which
// recomputes every output from the input in plain TypeScript — finds every output equal, none
// missing, none duplicated. The verifier can fail: a duplicated output line, and a job whose
// threshold differs from the one verified, are both reported.
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { passed } from "../../examples/common/compare.ts";
import { runThenKill } from "../helpers/local-run.ts";
import type { Report } from "../../examples/common/compare.ts";
import { CASES, expectPassed, filesContext, generate, localCopy, runnel, verifyAnalyticsLtv, type CaseSystem, type LocalCopy } from "../helpers/cases.ts";

/** Small batches keep the sources of a job close in event time (late events stay late for the job). */
const RUN = ["--no-throttle", "--no-progress", "--batch-size", "1000", "--state", "level"];

/** Input sizes: hours of event time, so every window of the job (up to 1 h) fills and closes many times. */
const INPUT: Record<CaseSystem["name"], string[]> = {
  analytics: ["--count", "24000", "--events-per-second", "3"],
  recommendation: ["--count", "30000", "--events-per-second", "4"],
  "risk-control": ["--count", "24000", "--events-per-second", "3"],
};

/** Runs the system's manifest with checkpoints, kills it with SIGKILL mid-stream, restores it to the end (with these extra arguments each) and returns the verifier's report. */
async function killAndRestore(system: CaseSystem, copy: LocalCopy, killed: string[], restored: string[]): Promise<{ report: Report; stderr: string }> {
  await generate(system, ["--out", copy.data, "--seed", "11", ...(INPUT[system.name] ?? [])]);
  const args = ["--out", copy.out, ...RUN, "--state-dir", join(copy.dir, "state")];
  await runThenKill({
    module: copy.manifest(),
    checkpointDir: copy.checkpoints,
    runArgs: [...args, "--checkpoint-interval", "300", ...killed],
    checkpoints: 3,
    timeoutMs: 240_000,
  });
  // The killed run published part of the output (its completed checkpoints), not all of it.
  const partial = await system.verify(filesContext(copy));
  expect(passed(partial)).toBe(false);
  const { stderr } = await runnel(["run", copy.manifest(), ...args, "--checkpoint-dir", copy.checkpoints, "--restore", "latest", ...restored]);
  const report = await system.verify(filesContext(copy));
  expectPassed(report, `${system.name} after kill -9 and restore`);
  // Every kind of input the generator makes was there: dead letters and late events were verified too.
  expect(report.checks.find((c) => c.name.startsWith("dead"))?.expected).toBeGreaterThan(0);
  return { report, stderr };
}

describe.each(Object.values(CASES))("case system $name in local mode (runnel run processes)", (system) => {
  it("equals the verifier's results after a kill -9 mid-stream and a restore from the last checkpoint", async () => {
    const copy = localCopy(system);
    await killAndRestore(system, copy, [], []);

    // The verifier notices a duplicated result.
    const sinkDir = join(copy.out, system.name === "risk-control" ? "decisions-out" : system.name === "analytics" ? "ml-features" : "kafka-recs");
    const part = readdirSync(sinkDir).find((f) => f.endsWith(".ndjson")) as string;
    const line = readFileSync(join(sinkDir, part), "utf8").split("\n")[0] as string;
    appendFileSync(join(sinkDir, part), `${line}\n`);
    const tampered = await system.verify(filesContext(copy));
    expect(passed(tampered)).toBe(false);
    expect(tampered.checks.flatMap((c) => c.duplicates)).toHaveLength(1);
  });

  it("on threads: equals the verifier's results after a kill -9 on 2 threads and a restore on 3 (ADR 36)", async () => {
    const { stderr } = await killAndRestore(system, localCopy(system), ["--threads", "2"], ["--threads", "3"]);
    expect(stderr).toMatch(/finished after .* on 3 threads/);
  });
});

describe("analytics lifetime-value query in local mode", () => {
  it("runs bounded over the revenue history and equals the verifier's values", async () => {
    const copy = localCopy(CASES.analytics);
    await generate(CASES.analytics, ["--out", copy.data, "--count", "10", "--history", "5000", "--seed", "3"]);
    const out = join(copy.dir, "ltv-out");
    await runnel(["run", copy.manifest("ltv.yaml"), "--out", out, ...RUN, "--state-dir", join(copy.dir, "ltv-state")]);
    expectPassed(await verifyAnalyticsLtv(filesContext(copy, "ltv.yaml", out)), "lifetime value");
  });
});

describe("risk-control verification can fail", () => {
  it("reports the decisions of a job whose threshold is not the one verified", async () => {
    const copy = localCopy(CASES["risk-control"]);
    await generate(CASES["risk-control"], ["--out", copy.data, "--count", "6000", "--events-per-second", "3", "--takeovers-per-hour", "20"]);
    const changed = join(copy.dir, "changed.yaml");
    writeFileSync(changed, readFileSync(copy.manifest(), "utf8").replace("threshold: { value: 0.5,", "threshold: { value: 0.05,"));
    await runnel(["run", changed, "--out", copy.out, ...RUN, "--state-dir", join(copy.dir, "state")]);
    const report = await CASES["risk-control"].verify(filesContext(copy));
    const decisions = report.checks.find((c) => c.name === "decisions");
    expect(decisions?.different.length).toBeGreaterThan(0);
    expect(decisions?.missing).toEqual([]);
  });
});
