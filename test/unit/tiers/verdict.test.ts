// How `npm test` judges a tier, on real vitest reports of the fixture projects in test/fixtures/tiers:
// a skipped test fails the tier unless test/skips.ts declares it with a reason, a tier that ran no
// test fails, and a run filtered by name or file may leave tests out.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { isFiltered, judgeTier, type VitestReport } from "../../tier-verdict.ts";

const dir = mkdtempSync(join(tmpdir(), "runnel-verdict-"));
const config = join(repoRoot, "test/fixtures/tiers/vitest.config.ts");
const fixture = "test/fixtures/tiers/skipping.fixture.ts";

/** Runs a fixture project through vitest and returns its JSON report and exit status. */
function report(project: string, extra: string[] = []): { json: VitestReport; status: number | null } {
  const out = join(dir, `${project}-${extra.length}.json`);
  const r = spawnSync(
    process.execPath,
    [
      join(repoRoot, "node_modules/vitest/vitest.mjs"),
      "run",
      "--config",
      config,
      "--project",
      project,
      "--reporter=json",
      `--outputFile.json=${out}`,
      ...extra,
    ],
    { cwd: repoRoot, encoding: "utf8" },
  );
  return { json: JSON.parse(readFileSync(out, "utf8")) as VitestReport, status: r.status };
}

const skips = report("skips");
const allSkipped = ["fixture is skipped", "fixture is skipped by a condition", "fixture is a todo", "fixture a skipped group is skipped with its group"];

describe("a tier's verdict", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fails every skipped test that is not declared, naming it and where to declare it", () => {
    const v = judgeTier(skips.json, { tier: "unit", filtered: false, declared: [], root: repoRoot, exitStatus: skips.status });
    expect(v).toMatchObject({ passed: 1, failed: 4, skipped: 0 });
    expect(v.problems).toHaveLength(4);
    for (const name of allSkipped) expect(v.problems.some((p) => p.includes(`"${name}"`) && p.includes(fixture) && p.includes("test/skips.ts"))).toBe(true);
  });

  it("lets a skip declared with a reason pass, and only that one", () => {
    const declared = [
      { file: fixture, test: "fixture is skipped", reason: "needs hardware the machine lacks" },
      { file: fixture, test: "fixture is a todo", reason: "  " },
    ];
    const v = judgeTier(skips.json, { tier: "unit", filtered: false, declared, root: repoRoot, exitStatus: skips.status });
    expect(v).toMatchObject({ passed: 1, failed: 3, skipped: 1 });
    expect(v.problems.some((p) => p.includes('"fixture is a todo"'))).toBe(true);
  });

  it("names each failed test with its file and the first line of its failure", () => {
    const failing = report("failing");
    const v = judgeTier(failing.json, { tier: "unit", filtered: false, declared: [], root: repoRoot, exitStatus: failing.status });
    expect(v.failed).toBe(1);
    expect(v.problems).toHaveLength(1);
    expect(v.problems[0]).toContain('test/fixtures/tiers/failing.fixture.ts: "fixture fails with a message" failed: ');
    expect(v.problems[0]).toContain("another answer");
  });

  it("fails a tier that ran no test", () => {
    const empty = report("empty");
    const v = judgeTier(empty.json, { tier: "integration", filtered: false, declared: [], root: repoRoot, exitStatus: empty.status });
    expect(v.failed).toBeGreaterThan(0);
    expect(v.problems.join("\n")).toMatch(/the integration tier ran no tests/);
  });

  it("accepts tests left out by a name filter, and a tier with nothing selected, in a filtered run", () => {
    const extra = ["-t", "runs"];
    expect(isFiltered(extra)).toBe(true);
    const named = report("skips", extra);
    expect(judgeTier(named.json, { tier: "unit", filtered: true, declared: [], root: repoRoot, exitStatus: named.status })).toMatchObject({
      passed: 1,
      failed: 0,
    });
    const empty = report("empty");
    expect(judgeTier(empty.json, { tier: "e2e", filtered: true, declared: [], root: repoRoot, exitStatus: empty.status }).failed).toBe(0);
  });

  it("tells filters from other vitest options", () => {
    expect(isFiltered([])).toBe(false);
    expect(isFiltered(["--reporter=verbose"])).toBe(false);
    expect(isFiltered(["test/integration/crd.test.ts"])).toBe(true);
    expect(isFiltered(["--testNamePattern=kill"])).toBe(true);
  });
});
