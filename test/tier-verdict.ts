/**
 * How `npm test` judges one tier from vitest's JSON report: failed tests and files that did not
 * load fail it; so does a tier that ran no test, and every skipped test that test/skips.ts does
 * not declare with a reason. A filtered run (`npm test -- <file>` or `-t <name>`) selects tests on
 * purpose: a tier with nothing selected is fine, and name-filtered tests show up as skipped.
 */
import { relative } from "node:path";
import type { DeclaredSkip } from "./skips.ts";

/** The parts of vitest's JSON report the verdict reads. */
export interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
  numTotalTests: number;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
}

/** What a tier did. */
export interface TierVerdict {
  passed: number;
  failed: number;
  skipped: number;
  /** Why the tier failed besides failed tests (one line each), e.g. an undeclared skip. */
  problems: string[];
}

/** How the tier was run. */
export interface VerdictOptions {
  tier: string;
  /** Tests were selected by file or name: empty tiers and name-filtered skips are expected. */
  filtered: boolean;
  declared: readonly DeclaredSkip[];
  /** Paths in the report are made relative to this folder (the repository root). */
  root: string;
  /** vitest's exit status. */
  exitStatus: number | null;
}

const SKIPPED = new Set(["skipped", "pending", "todo"]);

/** Judges one tier's report. */
export function judgeTier(report: VitestReport, options: VerdictOptions): TierVerdict {
  const problems: string[] = [];
  // A file that fails to load reports no test as failed; count it so the run cannot look green.
  let failed = report.numFailedTests + (report.numFailedTests === 0 ? report.numFailedTestSuites : 0);
  let skipped = 0;
  for (const file of report.testResults) {
    const rel = relative(options.root, file.name);
    // A file that did not load has no test results; its message says why.
    if (file.status === "failed" && file.assertionResults.length === 0) problems.push(`${rel}: did not load: ${firstLine(file.message)}`);
    for (const t of file.assertionResults) {
      // Failed tests are named in the summary, so a log cut to its tail still says what failed.
      if (t.status === "failed") problems.push(`${rel}: "${t.fullName}" failed: ${firstLine(t.failureMessages?.[0])}`);
      if (!SKIPPED.has(t.status)) continue;
      const declared = options.declared.find((d) => d.file === rel && d.test === t.fullName && d.reason.trim() !== "");
      if (declared || options.filtered) {
        skipped++;
        continue;
      }
      failed++;
      problems.push(`${rel}: "${t.fullName}" was skipped without a declared reason (make it run, or declare it with a reason in test/skips.ts)`);
    }
  }
  if (report.numTotalTests === 0 && !options.filtered) {
    failed++;
    problems.push(`the ${options.tier} tier ran no tests (its vitest project found no test files)`);
  }
  // vitest failed for a reason its report does not show (e.g. an error in a global setup).
  if (failed === 0 && options.exitStatus !== 0 && !(options.filtered && report.numTotalTests === 0)) {
    failed++;
    problems.push(`vitest exited ${options.exitStatus} for the ${options.tier} tier without a failed test in its report (see its output above)`);
  }
  return { passed: report.numPassedTests, failed, skipped, problems };
}

/** The first line of a failure message, trimmed to a summary line's length. */
function firstLine(message: string | undefined): string {
  const line = (message ?? "no message").split("\n", 1)[0] ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** True when vitest's extra arguments select tests by file or by name. */
export function isFiltered(extra: readonly string[]): boolean {
  for (let i = 0; i < extra.length; i++) {
    const a = extra[i] as string;
    if (a === "-t" || a === "--testNamePattern" || a.startsWith("--testNamePattern=") || a.startsWith("-t=")) return true;
    if (!a.startsWith("-")) return true;
  }
  return false;
}
