/**
 * Counting what a job dead-lettered, by step and reason: locally each dead letter is a record
 * {step, reason, record}; on Kafka the original bytes with headers naming the reason and the
 * step — or, for bytes a source could not decode, the source (written outside the task's
 * transaction, so counted once per source offset).
 */
import type { OutputRecord } from "./records.ts";

const REASON = "runnel.error.class";
const OPERATOR = "runnel.operator";

/** Dead letters by `step/reason`; records a source could not decode count as `poison`. */
export function deadLettersByReason(records: readonly OutputRecord[], pipelineSteps: readonly string[]): { key: string; value: number }[] {
  const counts = new Map<string, number>();
  const poison = new Set<string>();
  for (const r of records) {
    let reason: string;
    const step = r.headers[OPERATOR];
    if (step === undefined) reason = `${String(r.value.step)}/${String(r.value.reason)}`;
    else if (pipelineSteps.includes(step)) reason = `${step}/${r.headers[REASON] ?? "unknown"}`;
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
