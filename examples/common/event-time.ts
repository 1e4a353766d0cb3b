/**
 * Which input events a job treats as late, decided the way the example generators make them:
 * an event behind the largest timestamp seen before it in its partition by more than the
 * watermark bound is late (the generators make such events late by far more than any window),
 * anything else is on time. An event behind by more than the bound but less than `lateByMs`
 * could go either way in a job whose tasks run apart: it is reported as ambiguous.
 */
import type { InputRecord } from "./records.ts";

/** Lateness of each record (same order as the input); ambiguous ones counted. */
export interface Lateness {
  late: boolean[];
  ambiguous: number;
}

/** Classifies `records` (every source partition's records in their order) by their `ts` field. */
export function classifyLateness(records: readonly InputRecord[], options: { watermarkBoundMs: number; lateByMs: number; field?: string }): Lateness {
  const field = options.field ?? "ts";
  const max = new Map<number, number>();
  const late: boolean[] = [];
  let ambiguous = 0;
  for (const r of records) {
    const ts = r.value?.[field];
    if (typeof ts !== "number") {
      late.push(false);
      continue;
    }
    const m = max.get(r.partition) ?? Number.NEGATIVE_INFINITY;
    const behind = m - ts;
    const isLate = behind > options.watermarkBoundMs;
    if (isLate && behind < options.lateByMs * 0.9) ambiguous++;
    late.push(isLate);
    if (ts > m) max.set(r.partition, ts);
  }
  return { late, ambiguous };
}

/** A cleaning rule of a job's `clean` step: its name and the check a valid record passes. */
export type CleanRule = readonly [name: string, ok: (v: Record<string, unknown>) => boolean];

/** What a job's cleaning steps leave of its streams. */
export interface Cleaned {
  /** Per stream, the valid records in order, each with whether the job's windows find it late. */
  valid: Record<string, { v: Record<string, unknown>; late: boolean }[]>;
  /** Dead letters by `clean-<stream>/<rule>`; records that are not a JSON object by `poison`. */
  deadLetters: Map<string, number>;
  /** Records whose lateness cannot be told (see classifyLateness). */
  ambiguous: number;
}

/**
 * The streams as a job's cleaning steps see them (`clean-<stream>` steps, the first failed rule
 * naming the dead letter; end ticks dropped), with lateness against the job's watermark bound:
 * late by more than 1.5 × its longest window.
 */
export function cleanStreams(
  streams: Record<string, readonly InputRecord[]>,
  rules: Record<string, readonly CleanRule[]>,
  bounds: { watermarkBoundMs: number; longestWindowMs: number },
): Cleaned {
  const out: Cleaned = { valid: {}, deadLetters: new Map(), ambiguous: 0 };
  const dead = (key: string): void => void out.deadLetters.set(key, (out.deadLetters.get(key) ?? 0) + 1);
  for (const [name, records] of Object.entries(streams)) {
    const lateness = classifyLateness(records, { watermarkBoundMs: bounds.watermarkBoundMs, lateByMs: 1.5 * bounds.longestWindowMs });
    out.ambiguous += lateness.ambiguous;
    const valid: Cleaned["valid"][string] = (out.valid[name] = []);
    records.forEach((r, i) => {
      const v = r.value;
      if (v === undefined) return dead("poison");
      if (v.tick === true) return;
      const failed = (rules[name] ?? []).find(([, ok]) => !ok(v));
      if (failed) return dead(`clean-${name}/${failed[0]}`);
      valid.push({ v, late: lateness.late[i] === true });
    });
  }
  return out;
}
