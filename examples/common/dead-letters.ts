/**
 * Counting what a job dead-lettered, by reason: locally each dead letter is a record
 * {step, reason, record}; on Kafka the original bytes with headers naming the reason and the
 * step — or, for bytes a source could not decode, the source (written outside the task's
 * transaction, so counted once per source offset).
 */
import type { OutputRecord } from "./records.ts";

const REASON = "runnel.error.class";
const OPERATOR = "runnel.operator";

/** Dead letters by reason; records a source could not decode count as `poison`. */
export function deadLettersByReason(records: readonly OutputRecord[], pipelineSteps: readonly string[]): { key: string; value: number }[] {
  const counts = new Map<string, number>();
  const poison = new Set<string>();
  for (const r of records) {
    let reason: string;
    if (r.headers[OPERATOR] === undefined) reason = String(r.value.reason);
    else if (pipelineSteps.includes(r.headers[OPERATOR])) reason = r.headers[REASON] ?? "unknown";
    else {
      const origin = `${r.headers["runnel.source.topic"]}/${r.headers["runnel.source.partition"]}/${r.headers["runnel.source.offset"]}`;
      if (poison.has(origin)) continue;
      poison.add(origin);
      reason = "poison";
    }
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].map(([key, value]) => ({ key, value }));
}
