/**
 * How long a task's checkpoint transaction may stay open, derived from the checkpoint settings.
 * A transaction begins with the task's first record after a commit and ends when the next
 * checkpoint commits: up to one interval plus one checkpoint (bounded by spec.checkpoint.timeout).
 * The broker aborts a transaction open longer than the producer's transaction timeout, and
 * refuses a timeout above its transaction.max.timeout.ms; Runnel asks for twice what it needs
 * (slow rounds, savepoint drains), at least Kafka's usual minute, at most what the brokers allow.
 */
import { formatDuration, parseDuration } from "./duration.ts";
import { finding, type Finding } from "./findings.ts";
import type { StreamJobSpec } from "./generated/types.ts";

/** Kafka's default transaction.max.timeout.ms (15 minutes). */
export const KAFKA_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS = 900_000;

/** The shortest transaction timeout Runnel asks for (the Kafka producer's default). */
export const MIN_TRANSACTION_TIMEOUT_MS = 60_000;

/** Defaults of spec.checkpoint (the schema's). */
export const DEFAULT_CHECKPOINT = { interval: "5s", timeout: "1m" } as const;

/** What a job's transactions need (`requiredMs`) and the timeout Runnel asks for before the broker's cap (`timeoutMs`). */
export function transactionTimeouts(intervalMs: number, checkpointTimeoutMs: number): { requiredMs: number; timeoutMs: number } {
  const requiredMs = intervalMs + checkpointTimeoutMs;
  return { requiredMs, timeoutMs: Math.max(MIN_TRANSACTION_TIMEOUT_MS, 2 * requiredMs) };
}

/** The interval and timeout of a spec's checkpoint settings, in ms, defaults applied. */
export function checkpointDurations(checkpoint: { interval?: string; timeout?: string } | undefined): { intervalMs: number; timeoutMs: number } {
  return {
    intervalMs: parseDuration(checkpoint?.interval ?? DEFAULT_CHECKPOINT.interval),
    timeoutMs: parseDuration(checkpoint?.timeout ?? DEFAULT_CHECKPOINT.timeout),
  };
}

/** `runnel validate`'s check: an exactly-once job whose transactions would outlive Kafka's default limit. */
export function checkTransactionTimeout(spec: StreamJobSpec): Finding[] {
  if ((spec.checkpoint?.mode ?? "exactly-once") !== "exactly-once") return [];
  const { intervalMs, timeoutMs } = checkpointDurations(spec.checkpoint);
  const { requiredMs } = transactionTimeouts(intervalMs, timeoutMs);
  if (requiredMs <= KAFKA_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS) return [];
  return [
    finding(
      "warning",
      ".spec.checkpoint.interval",
      `checkpoints every ${formatDuration(intervalMs)} that may take up to ${formatDuration(timeoutMs)} (spec.checkpoint.timeout) keep a task's transaction open up to ${formatDuration(requiredMs)}, longer than Kafka brokers allow by default (transaction.max.timeout.ms = ${formatDuration(KAFKA_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS)}); workers refuse to start unless the brokers allow it`,
      `keep interval + timeout within ${formatDuration(KAFKA_DEFAULT_MAX_TRANSACTION_TIMEOUT_MS)}, or raise transaction.max.timeout.ms on the brokers`,
    ),
  ];
}
