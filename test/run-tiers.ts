/**
 * `npm test`: runs the named vitest tiers in order (unit → preflight → integration → e2e), bringing
 * the real test environment up once for the tiers that need it and down at the end, then prints a
 * summary: one line per tier, and a last line with the product's totals beside the preflight
 * tier's. Preflight tests check the test environment itself (Kafka, Redis, helm, the node agent,
 * Kubernetes), so their results are reported apart from the product's. A tier fails on failed
 * tests, on running no test, and on a skipped test that test/skips.ts does not declare with a reason.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runDir } from "./env/lib/layout.ts";
import { envRunning } from "./env/lib/processes.ts";
import { DECLARED_SKIPS } from "./skips.ts";
import { isFiltered, judgeTier, type TierVerdict, type VitestReport } from "./tier-verdict.ts";

const TIERS = ["unit", "preflight", "integration", "e2e"] as const;
type Tier = (typeof TIERS)[number];
const NEEDS_ENV: ReadonlySet<Tier> = new Set(["preflight", "integration", "e2e"]);
/** Tiers that test the test environment rather than the product. */
const INFRASTRUCTURE: ReadonlySet<Tier> = new Set(["preflight"]);

function parseTiers(args: string[]): Tier[] {
  const unknown = args.filter((a) => !(TIERS as readonly string[]).includes(a));
  if (unknown.length > 0) {
    console.error(`run-tiers: unknown tier(s) ${unknown.join(", ")}; the tiers are ${TIERS.join(", ")}.`);
    process.exit(2);
  }
  return args.length > 0 ? (args as Tier[]) : [...TIERS];
}

function vitestBin(): string {
  return join(repoRoot, "node_modules", "vitest", "vitest.mjs");
}

/** Runs one tier; a tier whose run crashed (no report) counts as one failure. */
function runTier(tier: Tier, extra: string[], reportDir: string): TierVerdict {
  const report = join(reportDir, `${tier}.json`);
  console.log(`\n=== ${tier} tests ===`);
  const result = spawnSync(
    process.execPath,
    [vitestBin(), "run", "--project", tier, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...extra],
    { cwd: repoRoot, stdio: "inherit" },
  );
  let json: VitestReport;
  try {
    json = JSON.parse(readFileSync(report, "utf8")) as VitestReport;
  } catch {
    return { passed: 0, failed: 1, skipped: 0, problems: [`the ${tier} tier produced no report (exit ${result.status ?? result.signal})`] };
  }
  return judgeTier(json, { tier, filtered: isFiltered(extra), declared: DECLARED_SKIPS, root: repoRoot, exitStatus: result.status });
}

function envScript(name: "up" | "down"): boolean {
  const result = spawnSync(join(repoRoot, "test", "env", name), { cwd: repoRoot, stdio: "inherit" });
  return result.status === 0;
}

function counts(t: { passed: number; failed: number; skipped: number }): string {
  return `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;
}

function add(into: TierVerdict, t: TierVerdict): void {
  into.passed += t.passed;
  into.failed += t.failed;
  into.skipped += t.skipped;
  into.problems.push(...t.problems);
}

function main(): number {
  const dash = process.argv.indexOf("--");
  const tierArgs = process.argv.slice(2, dash === -1 ? undefined : dash);
  const extra = dash === -1 ? [] : process.argv.slice(dash + 1);
  const tiers = parseTiers(tierArgs);
  const reportDir = mkdtempSync(join(tmpdir(), "runnel-tests-"));
  const results: [Tier | "test/env/up", TierVerdict][] = [];
  let envReady = false;
  // An environment that was already running (a developer's) is reused and left running.
  let envStarted = false;
  try {
    for (const tier of tiers) {
      if (NEEDS_ENV.has(tier) && !envReady) {
        console.log("\n=== test environment (test/env/up) ===");
        envStarted = !envRunning(runDir());
        if (!envScript("up")) {
          results.push([
            "test/env/up",
            { passed: 0, failed: 1, skipped: 0, problems: ["test/env/up failed; the tiers that need the test environment cannot run"] },
          ]);
          break;
        }
        envReady = true;
      }
      results.push([tier, runTier(tier, extra, reportDir)]);
    }
  } finally {
    if (envStarted && process.env.RUNNEL_KEEP_ENV !== "1") envScript("down");
    rmSync(reportDir, { recursive: true, force: true });
  }
  const product: TierVerdict = { passed: 0, failed: 0, skipped: 0, problems: [] };
  const infrastructure: TierVerdict = { passed: 0, failed: 0, skipped: 0, problems: [] };
  console.log("\n=== summary ===");
  for (const [name, t] of results) {
    const infra = name === "test/env/up" || INFRASTRUCTURE.has(name);
    add(infra ? infrastructure : product, t);
    console.log(`${name.padEnd(12)} ${counts(t)}${infra ? "  (the test environment, not the product)" : ""}`);
    for (const p of t.problems) console.log(`  ${p}`);
  }
  if (infrastructure.failed > 0) console.log("The test environment is not healthy: product failures may follow from it; fix the preflight failures first.");
  const ranInfra = results.some(([name]) => name === "test/env/up" || INFRASTRUCTURE.has(name));
  console.log(`\n${counts(product)}${ranInfra ? `; preflight: ${counts(infrastructure)}` : ""}`);
  return product.failed + infrastructure.failed > 0 ? 1 : 0;
}

process.exitCode = main();
