/**
 * The contract between the admin API and whatever takes savepoints (a distributed worker):
 * trigger one, poll it by id, or stop the job with one. The admin server only speaks HTTP;
 * the implementation decides how a savepoint is written and when the process exits.
 */
import { RunnelError } from "../errors.ts";

/** Where a savepoint stands. */
export type SavepointState = "pending" | "completed" | "failed";

/** A savepoint as GET /savepoints/<id> reports it. */
export interface SavepointStatus {
  id: string;
  state: SavepointState;
  /** Where it was written (once completed). */
  path?: string;
  /** Why it failed. */
  error?: string;
}

/** Takes savepoints for the admin API. */
export interface SavepointControl {
  /** Starts a savepoint named `name` under the job's savepoint root (default: a generated name); resolves to its id once accepted. */
  trigger(name?: string): Promise<string>;
  /** The status of savepoint `id`, undefined when unknown (a worker on several threads asks them: a promise). */
  status(id: string): SavepointStatus | undefined | Promise<SavepointStatus | undefined>;
  /** Starts stop-with-savepoint (named as for trigger): drain, write the savepoint, then exit; resolves to its id once accepted. */
  stopWithSavepoint(name?: string): Promise<string>;
}

/** A savepoint request the implementation refuses (a stop already in progress: 409; a name outside the savepoint root: 400); the admin API answers with `status`. */
export class SavepointRequestError extends RunnelError {
  /** HTTP status: 409 (conflicts with the job's state) unless told otherwise. */
  readonly status: number;
  constructor(message: string, status = 409) {
    super(message, false, { errorClass: "configuration" });
    this.status = status;
  }
}
