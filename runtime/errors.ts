/**
 * The runtime's error taxonomy. Every error says whether retrying the same operation can
 * succeed (`retriable`): the worker restarts a task on retriable errors and fails the job on
 * the others, so the flag must be honest rather than optimistic.
 */

/** Base class of every error the runtime raises on purpose. */
export class RunnelError extends Error {
  /** True when the same operation may succeed if attempted again (I/O hiccups, not bugs). */
  readonly retriable: boolean;
  constructor(message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.retriable = retriable;
  }
}

/** The job graph is malformed (missing sink, bad parallelism, duplicate uid, ...). */
export class JobDefinitionError extends RunnelError {
  constructor(message: string) {
    super(message, false);
  }
}

/** User code (a map function, a process function, ...) threw while handling a record. */
export class UserFunctionError extends RunnelError {
  /** uid of the operator whose function threw. */
  readonly operatorUid: string;
  constructor(operatorUid: string, cause: unknown) {
    super(`operator '${operatorUid}': user function failed: ${String(cause)}`, false, { cause });
    this.operatorUid = operatorUid;
  }
}

/** A state read hit a key the micro-batch did not prefetch: a runtime bug, never retried. */
export class StateNotPrefetchedError extends RunnelError {
  constructor(state: string, key: unknown) {
    super(`state '${state}': key ${JSON.stringify(key)} was read without being prefetched`, false);
  }
}

/** The state store (LevelDB) failed an I/O operation; reopening usually helps. */
export class StateStoreError extends RunnelError {
  constructor(message: string, cause?: unknown) {
    super(message, true, { cause });
  }
}

/** A source or sink failed to read or write its external system. */
export class ConnectorError extends RunnelError {
  constructor(message: string, retriable: boolean, cause?: unknown) {
    super(message, retriable, { cause });
  }
}

/** A checkpoint could not be written or restored. */
export class CheckpointError extends RunnelError {
  constructor(message: string, retriable: boolean, cause?: unknown) {
    super(message, retriable, { cause });
  }
}

/** Wraps what user code threw, passing the runtime's own errors (from downstream) through. */
export function userError(operatorUid: string, err: unknown): RunnelError {
  return err instanceof RunnelError ? err : new UserFunctionError(operatorUid, err);
}
