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
