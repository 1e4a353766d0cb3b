/**
 * `npm test`: runs the named vitest tiers in order (unit → integration → e2e), bringing the real
 * test environment up once for the tiers that need it and down at the end, then prints one
 * closing line with the totals of every tier ("N passed, N failed, N skipped").
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runDir } from "./env/lib/layout.ts";
import { envRunning } from "./env/lib/processes.ts";

const TIERS = ["unit", "integration", "e2e"] as const;
type Tier = (typeof TIERS)[number];
const NEEDS_ENV: ReadonlySet<Tier> = new Set(["integration", "e2e"]);

interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
}

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
function runTier(tier: Tier, extra: string[], reportDir: string): Totals {
  const report = join(reportDir, `${tier}.json`);
  console.log(`\n=== ${tier} tests ===`);
  const result = spawnSync(
    process.execPath,
    [vitestBin(), "run", "--project", tier, "--passWithNoTests", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...extra],
    { cwd: repoRoot, stdio: "inherit" },
  );
  try {
    const json = JSON.parse(readFileSync(report, "utf8")) as VitestJson;
    // A file that fails to load reports no test as failed; count it so the run cannot look green.
    const failed = json.numFailedTests + (json.numFailedTests === 0 && json.numFailedTestSuites > 0 ? json.numFailedTestSuites : 0);
    return { passed: json.numPassedTests, failed: failed + (result.status !== 0 && failed === 0 ? 1 : 0), skipped: json.numPendingTests + json.numTodoTests };
  } catch {
    console.error(`run-tiers: the ${tier} tier produced no report (exit ${result.status ?? result.signal}).`);
    return { passed: 0, failed: 1, skipped: 0 };
  }
}

function envScript(name: "up" | "down"): boolean {
  const result = spawnSync(join(repoRoot, "test", "env", name), { cwd: repoRoot, stdio: "inherit" });
  return result.status === 0;
}

function main(): number {
  const dash = process.argv.indexOf("--");
  const tierArgs = process.argv.slice(2, dash === -1 ? undefined : dash);
  const extra = dash === -1 ? [] : process.argv.slice(dash + 1);
  const tiers = parseTiers(tierArgs);
  const reportDir = mkdtempSync(join(tmpdir(), "runnel-tests-"));
  const totals: Totals = { passed: 0, failed: 0, skipped: 0 };
  let envReady = false;
  // An environment that was already running (a developer's) is reused and left running.
  let envStarted = false;
  try {
    for (const tier of tiers) {
      if (NEEDS_ENV.has(tier) && !envReady) {
        console.log("\n=== test environment (test/env/up) ===");
        envStarted = !envRunning(runDir());
        if (!envScript("up")) {
          console.error("run-tiers: test/env/up failed; the integration and e2e tiers cannot run.");
          totals.failed += 1;
          break;
        }
        envReady = true;
      }
      const t = runTier(tier, extra, reportDir);
      totals.passed += t.passed;
      totals.failed += t.failed;
      totals.skipped += t.skipped;
    }
  } finally {
    if (envStarted && process.env.RUNNEL_KEEP_ENV !== "1") envScript("down");
    rmSync(reportDir, { recursive: true, force: true });
  }
  console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  return totals.failed > 0 ? 1 : 0;
}

process.exitCode = main();
