/**
 * The operator's errors, in the runtime's taxonomy (runtime/errors.ts): each says whether trying
 * again can succeed. The controller machinery retries retriable errors with backoff and records
 * the others in the object's status instead of retrying them.
 */
import { RunnelError } from "../runtime/errors.ts";

/** A Kubernetes API call failed. */
export class KubeApiError extends RunnelError {
  /** HTTP status (0: no answer, e.g. connection refused). */
  readonly status: number;
  constructor(message: string, status: number, cause?: unknown) {
    // Conflicts, throttling, timeouts and server errors heal; a bad request or a forbidden verb does not.
    const retriable = status === 0 || status === 409 || status === 429 || status >= 500 || status === 408;
    super(message, retriable, { cause, errorClass: retriable ? "transient" : "configuration" });
    this.status = status;
  }
}

/** The HTTP status of an error thrown by @kubernetes/client-node (0 when there was no answer). */
export function statusOf(err: unknown): number {
  if (err instanceof KubeApiError) return err.status;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "number") return code;
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === "number" ? statusCode : 0;
}

/** The apiserver's own message from a client-node error body, else the error's message. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === "string") return parsed.message;
    } catch {
      return body.slice(0, 500);
    }
  }
  if (body && typeof body === "object" && typeof (body as { message?: unknown }).message === "string") return (body as { message: string }).message;
  return err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
}

/** Wraps a client-node failure of `what` (e.g. "apply StatefulSet ns/x") as a KubeApiError. */
export function kubeError(what: string, err: unknown): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const status = statusOf(err);
  return new KubeApiError(`${what}: ${status ? `HTTP ${status}: ` : ""}${apiMessage(err)}`, status, err);
}

/** True for "not found" answers. */
export function isNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** True for a resourceVersion conflict or an apply conflict. */
export function isConflict(err: unknown): boolean {
  return statusOf(err) === 409;
}

/** A worker's admin API refused or failed a request. */
export class WorkerAdminError extends RunnelError {
  /** HTTP status (0: unreachable). */
  readonly status: number;
  constructor(message: string, status: number, cause?: unknown) {
    super(message, status === 0 || status >= 500 || status === 409, { cause, errorClass: status === 0 || status >= 500 ? "transient" : "configuration" });
    this.status = status;
  }
}

/** The operator was started wrongly (bad flags, no kubeconfig): exit 2 with the fix. */
export class OperatorUsageError extends RunnelError {
  constructor(message: string) {
    super(message, false, { errorClass: "configuration" });
  }
}
