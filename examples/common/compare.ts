/**
 * Comparing what a job wrote with what a verifier expects, output by output, into one report:
 * missing and unexpected results, results that differ (numbers within a relative 1e-9), and
 * results written twice (an exactly-once violation).
 */

/** The outcome for one output. */
export interface OutputCheck {
  name: string;
  expected: number;
  actual: number;
  missing: string[];
  unexpected: string[];
  different: string[];
  duplicates: string[];
}

/** A whole verification. */
export interface Report {
  checks: OutputCheck[];
  /** Facts that are not per-output (e.g. ambiguous input). */
  problems: string[];
}

/** True when every output matched and nothing else went wrong. */
export function passed(r: Report): boolean {
  return r.problems.length === 0 && r.checks.every((c) => c.missing.length + c.unexpected.length + c.different.length + c.duplicates.length === 0);
}

/** Deep equality with a relative tolerance on numbers (sums of doubles may differ in the last bits). */
export function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return same(ka, kb) && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
};

/**
 * Compares results identified by a key. `actual` lists results in the order written; with
 * `updates`, a later result for a key replaces an earlier one (windows re-fired by late data,
 * running values) and only the last must match, else every key must appear exactly once.
 */
export function compareKeyed(
  name: string,
  expected: ReadonlyMap<string, unknown>,
  actual: readonly { key: string; value: unknown }[],
  options: { updates?: boolean } = {},
): OutputCheck {
  const check: OutputCheck = { name, expected: expected.size, actual: actual.length, missing: [], unexpected: [], different: [], duplicates: [] };
  const seen = new Map<string, unknown[]>();
  for (const a of actual) {
    const list = seen.get(a.key) ?? [];
    list.push(a.value);
    seen.set(a.key, list);
  }
  for (const [key, values] of seen) {
    if (!expected.has(key)) {
      check.unexpected.push(`${key}: ${show(values.at(-1))}`);
      continue;
    }
    if (!options.updates && values.length > 1) check.duplicates.push(`${key} written ${values.length} times`);
    // Identical results twice are duplicates even where updates are allowed (an update changes the result).
    if (options.updates)
      for (let i = 1; i < values.length; i++) if (same(values[i], values[i - 1])) check.duplicates.push(`${key} written twice: ${show(values[i])}`);
    const want = expected.get(key);
    const got = values.at(-1);
    if (!same(got, want)) check.different.push(`${key}: got ${show(got)}, expected ${show(want)}`);
  }
  for (const key of expected.keys()) if (!seen.has(key)) check.missing.push(`${key}: ${show(expected.get(key))}`);
  return check;
}

/** Compares multisets of records (order-free): each expected record must be written exactly as often as expected. */
export function compareBag(name: string, expected: readonly unknown[], actual: readonly unknown[]): OutputCheck {
  const check: OutputCheck = { name, expected: expected.length, actual: actual.length, missing: [], unexpected: [], different: [], duplicates: [] };
  const canon = (v: unknown): string => JSON.stringify(sortKeys(v));
  const want = new Map<string, number>();
  for (const e of expected) want.set(canon(e), (want.get(canon(e)) ?? 0) + 1);
  const got = new Map<string, number>();
  for (const a of actual) got.set(canon(a), (got.get(canon(a)) ?? 0) + 1);
  for (const [k, n] of got) {
    const w = want.get(k) ?? 0;
    if (w === 0) check.unexpected.push(k.slice(0, 300));
    else if (n > w) check.duplicates.push(`${k.slice(0, 300)} written ${n} times, expected ${w}`);
  }
  for (const [k, w] of want) {
    const n = got.get(k) ?? 0;
    if (n < w) check.missing.push(`${k.slice(0, 300)}${w > 1 ? ` (${n} of ${w})` : ""}`);
  }
  return check;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** The report as text: one line per output, then the first few problems of each. */
export function formatReport(r: Report, limit = 5): string {
  const lines: string[] = [];
  for (const p of r.problems) lines.push(`PROBLEM ${p}`);
  for (const c of r.checks) {
    const bad = c.missing.length + c.unexpected.length + c.different.length + c.duplicates.length;
    lines.push(
      `${bad === 0 ? "ok  " : "FAIL"} ${c.name}: ${c.actual} written, ${c.expected} expected${bad === 0 ? "" : ` — ${c.missing.length} missing, ${c.unexpected.length} unexpected, ${c.different.length} different, ${c.duplicates.length} duplicated`}`,
    );
    for (const [label, list] of [
      ["missing", c.missing],
      ["unexpected", c.unexpected],
      ["different", c.different],
      ["duplicated", c.duplicates],
    ] as const) {
      for (const x of list.slice(0, limit)) lines.push(`     ${label}: ${x}`);
      if (list.length > limit) lines.push(`     … ${list.length - limit} more ${label}`);
    }
  }
  lines.push(passed(r) ? "PASSED: every output equals the independently computed result" : "FAILED");
  return `${lines.join("\n")}\n`;
}
