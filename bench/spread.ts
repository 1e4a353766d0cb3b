/** The median of several runs and their spread: what every benchmark reports (never the best run). */

/** Median, slowest and fastest of several runs' rates. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The median and spread of `rates`. */
export function spreadOf(rates: number[]): Spread {
  const sorted = [...rates].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted.at(-1) ?? NaN };
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/** "median (slowest–fastest)", for a table cell. */
export function fmtSpread(s: Spread): string {
  return s.min === s.max ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}
