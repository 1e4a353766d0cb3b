/**
 * The runtime's error taxonomy. Every error says whether retrying the same operation can
 * succeed (`retriable`): the worker restarts a task on retriable errors and fails the job on
 * the others, so the flag must be honest rather than optimistic. Every error also has a class
 * (`errorClass`), which `runnel worker` turns into its exit code (runtime/worker-contract.ts)
 * so the operator knows whether a restart can help.
 */

/**
 * What kind of failure an error is: `configuration` (the job or its environment is wrong; a
 * restart will not help), `transient` (a retry or restart may succeed), `fenced` (another
 * process took over this worker's tasks), `data` (input the job cannot handle and cannot
 * dead-letter), `internal` (a bug in Runnel).
 */
export type ErrorClass = "configuration" | "transient" | "fenced" | "data" | "internal";

/** Options of every Runnel error. */
export interface RunnelErrorOptions {
  cause?: unknown;
  /** The class; by default transient when retriable, else internal. */
  errorClass?: ErrorClass;
}

/** Base class of every error the runtime raises on purpose. */
export class RunnelError extends Error {
  /** True when the same operation may succeed if attempted again (I/O hiccups, not bugs). */
  readonly retriable: boolean;
  /** What kind of failure this is (decides the worker's exit code). */
  readonly errorClass: ErrorClass;
  constructor(message: string, retriable: boolean, options?: RunnelErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = retriable;
    this.errorClass = options?.errorClass ?? (retriable ? "transient" : "internal");
  }
}

/** The job is defined wrongly, or does not match its inputs (missing sink, bad parallelism, duplicate uid, a wrong partitionedBy, ...). */
export class JobDefinitionError extends RunnelError {
  constructor(message: string) {
    super(message, false, { errorClass: "configuration" });
  }
}

/** User code (a map function, a process function, ...) threw while handling a record. */
export class UserFunctionError extends RunnelError {
  /** uid of the operator whose function threw. */
  readonly operatorUid: string;
  constructor(operatorUid: string, cause: unknown) {
    super(`operator '${operatorUid}': user function failed: ${String(cause)}`, false, { cause, errorClass: "data" });
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

/** A source or sink failed to read or write its external system (not retriable: misconfigured, e.g. a missing topic). */
export class ConnectorError extends RunnelError {
  constructor(message: string, retriable: boolean, cause?: unknown, errorClass?: ErrorClass) {
    super(message, retriable, { cause, errorClass: errorClass ?? (retriable ? "transient" : "configuration") });
  }
}

/** Another process took over this process's tasks (a newer producer with the same transactional id): stop, never retry. */
export class FencedError extends ConnectorError {
  constructor(message: string, cause?: unknown) {
    super(message, false, cause, "fenced");
  }
}

/** A checkpoint could not be written or restored (not retriable: e.g. a savepoint incompatible with the job). */
export class CheckpointError extends RunnelError {
  constructor(message: string, retriable: boolean, cause?: unknown) {
    super(message, retriable, { cause, errorClass: retriable ? "transient" : "configuration" });
  }
}

/** The process's own configuration is wrong (a flag, a mounted file, an environment variable): fix it and start again. */
export class ConfigurationError extends RunnelError {
  constructor(message: string, cause?: unknown) {
    super(message, false, { cause, errorClass: "configuration" });
  }
}

/** One record cannot be handled as it is (wrong shape, a value of the wrong type): the record is dead-lettered, or the job fails on it. */
export class RecordError extends RunnelError {
  constructor(message: string, cause?: unknown) {
    super(message, false, { cause, errorClass: "data" });
  }
}

/** An invariant of Runnel itself broke (a bug, or an API used against its contract): never retried. */
export class InternalError extends RunnelError {
  constructor(message: string, cause?: unknown) {
    super(message, false, { cause, errorClass: "internal" });
  }
}

/** Wraps what user code threw, passing the runtime's own errors (from downstream) through. */
export function userError(operatorUid: string, err: unknown): RunnelError {
  return err instanceof RunnelError ? err : new UserFunctionError(operatorUid, err);
}

/** A worker started in a generation that is not the job's current one (ADR 16): refused, never retried. */
export class GenerationError extends RunnelError {
  constructor(message: string) {
    super(message, false, { errorClass: "configuration" });
  }
}

/**
 * Not a failure of the worker: its generation was stopped with a savepoint (sealed, ADR 16), so it
 * has nothing to run — the next generation continues from that savepoint. `runnel worker` exits 0
 * on it; the class is `configuration` because restarting into the same generation never helps.
 */
export class GenerationSealedError extends RunnelError {
  readonly generation: string;
  /** The savepoint the generation was stopped with, and where it was written. */
  readonly savepoint: { id: string; path: string };
  constructor(generation: string, savepoint: { id: string; path: string }, detail = "") {
    super(`generation ${generation} was stopped with savepoint ${savepoint.id} (${savepoint.path}); nothing to run${detail}`, false, {
      errorClass: "configuration",
    });
    this.generation = generation;
    this.savepoint = savepoint;
  }
}
