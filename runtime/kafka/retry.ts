/**
 * The adapter's retry policy and how it reads Kafka errors. A broker answer that Kafka calls
 * retriable (a topic created a moment ago and not yet known to every broker, a partition without
 * a leader yet, a coordinator still loading) is retried with backoff; anything else fails at
 * once. kafkajs marks its errors with `retriable` and wraps a retried error that kept failing in
 * KafkaJSNumberOfRetriesExceeded, so the flag is read on the innermost cause.
 */
import { ConnectorError } from "../errors.ts";

/** How long and how often an operation is retried. */
export interface RetryPolicy {
  /** Total time to keep trying, from the first attempt (ms). */
  deadlineMs: number;
  /** First pause between attempts (ms); doubles up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
}

/** The default: about half a minute, which covers a broker restart's leader elections and a new topic's metadata. */
export const DEFAULT_RETRY: RetryPolicy = { deadlineMs: 30_000, initialDelayMs: 100, maxDelayMs: 2_000 };

/** The innermost cause of a (possibly wrapped) error. */
function innermost(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 10; i++) {
    const cause = (e as { cause?: unknown } | null)?.cause;
    if (cause === undefined || cause === null || cause === e) break;
    e = cause;
  }
  return e;
}

/** The Kafka error type of an error (e.g. UNKNOWN_TOPIC_OR_PARTITION), looking through wrappers. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (const e of [err, innermost(err)]) {
    const type = (e as { type?: unknown } | null)?.type;
    if (typeof type === "string") return type;
  }
  return undefined;
}

/** True when Kafka (or our own taxonomy) says trying again can succeed. */
export function isRetriable(err: unknown): boolean {
  const e = err as { retriable?: unknown; name?: unknown } | null;
  // kafkajs gave up on an answer after its own few retries: what counts is that answer.
  if (e?.name === "KafkaJSNumberOfRetriesExceeded") return (innermost(err) as { retriable?: unknown } | null)?.retriable === true;
  return e?.retriable === true;
}

/** Text of an error for messages: its own message plus the Kafka error type when it adds one. */
export function describeKafkaError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const type = kafkaErrorType(err);
  return type && !message.includes(type) ? `${message} (${type})` : message;
}

/**
 * Runs `operation` until it succeeds, retrying errors Kafka calls retriable with doubling
 * backoff until the policy's deadline; then (or at once, for other errors) throws a
 * ConnectorError saying what failed, retriable as the last error was.
 */
export async function retrying<T>(what: string, operation: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  const deadline = Date.now() + policy.deadlineMs;
  let delay = policy.initialDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      const retriable = isRetriable(err);
      if (!retriable || Date.now() + delay > deadline) {
        if (err instanceof ConnectorError) throw err;
        const tried = attempt > 1 ? ` (tried ${attempt} times over ${Math.round(policy.deadlineMs / 1000)} s)` : "";
        throw new ConnectorError(`${what}: ${describeKafkaError(err)}${tried}`, retriable, err);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(policy.maxDelayMs, delay * 2);
    }
  }
}
