/** Findings of `runnel validate`: errors and warnings with a kubectl-style path, a hint and, for CEL, an excerpt. */
import type { SpecError } from "./validate.ts";

/** How bad a finding is: errors make a manifest invalid, warnings do not. */
export type Severity = "error" | "warning";

/** One problem (or likely problem) in a manifest. */
export interface Finding {
  /** kubectl-style path of the offending field, e.g. `.spec.pipeline.steps[2].input`. */
  path: string;
  message: string;
  hint?: string;
  severity: Severity;
  /** For CEL: the expression line and a caret line under the problem. */
  excerpt?: string[];
}

/** Schema and rule errors as findings. */
export function fromSpecErrors(errors: readonly SpecError[]): Finding[] {
  return errors.map((e) => ({ path: e.path, message: e.message, ...(e.hint ? { hint: e.hint } : {}), severity: "error" as const }));
}

/** A finding, leaving out an absent hint (so tests can compare whole objects). */
export function finding(severity: Severity, path: string, message: string, hint?: string): Finding {
  return hint === undefined ? { path, message, severity } : { path, message, hint, severity };
}

/** Formats findings for a terminal: `path: message`, the excerpt, then `  hint: …`. */
export function formatFindings(findings: readonly Finding[]): string {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.path || "."}: ${f.severity === "warning" ? "warning: " : ""}${f.message}`);
    for (const l of f.excerpt ?? []) lines.push(`    ${l}`);
    if (f.hint) lines.push(`  hint: ${f.hint}`);
  }
  return lines.join("\n");
}
