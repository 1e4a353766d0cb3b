/**
 * When and how the engine checkpoints: every interval (start to start, as Flink counts it),
 * blocking between rounds — or, when the checkpointer offers `beginCheckpoint` (ADR 29), only
 * the capture blocks and the rest completes while rounds run, one checkpoint in flight at a
 * time, its failure surfacing at the next round. Savepoints and explicit checkpoints wait for a
 * checkpoint in flight first. Holds the ids and count the engine's progress reports.
 */
import { CheckpointError } from "../errors.ts";
import type { Clock } from "../time/clock.ts";
import { takeCheckpoint, type EngineState } from "./checkpointing.ts";
import type { Checkpointer } from "./checkpointer.ts";

/** Options of checkpointSchedule. */
export interface CheckpointScheduleOptions {
  state: EngineState;
  clock: Clock;
  /** Local checkpoints under a directory (when no checkpointer takes them). */
  local?: { dir: string; intervalMs?: number; retain?: number };
  checkpointer?: { impl: Checkpointer; intervalMs?: number };
}

/** The engine's checkpoint bookkeeping. */
export interface CheckpointSchedule {
  /** Whether the engine checkpoints at all. */
  readonly enabled: boolean;
  /** Id of the last completed checkpoint (or savepoint); -1 before the first. */
  readonly last: number;
  /** Checkpoints completed by this run. */
  readonly count: number;
  /**
   * Undefined when no checkpoint is completing while rounds run, else a promise that settles when
   * it has (state must not be evicted meanwhile; its failure surfaces at the next round).
   */
  whenLanded(): Promise<void> | undefined;
  /** Ids continue after a restored checkpoint. */
  restoredFrom(id: number): void;
  /** The interval starts now (the engine is open). */
  startClock(): void;
  /** Between rounds: checkpoints when due (`finished`: a last, blocking one); throws what a checkpoint in flight failed with. */
  between(finished: boolean): Promise<void>;
  /** Waits for the checkpoint in flight; throws what it failed with. */
  settle(): Promise<void>;
  /** Takes a checkpoint now, whole; returns its id. */
  checkpoint(): Promise<number>;
  /** Writes a savepoint of the engine's state to `dir`; returns its id. */
  savepoint(dir: string): Promise<number>;
}

/** Creates the engine's checkpoint schedule. */
export function checkpointSchedule(options: CheckpointScheduleOptions): CheckpointSchedule {
  const { state, clock, local } = options;
  const impl = options.checkpointer?.impl;
  const intervalMs = local?.intervalMs ?? options.checkpointer?.intervalMs ?? 5000;
  const overlapping = impl?.beginCheckpoint?.bind(impl);
  let last = -1;
  let count = 0;
  let lastStart = 0;
  let inflight: Promise<void> | undefined;
  let inflightError: unknown;

  async function settle(): Promise<void> {
    if (inflight) {
      await inflight;
      inflight = undefined;
    }
    if (inflightError !== undefined) {
      const err = inflightError;
      inflightError = undefined;
      throw err instanceof Error ? err : new CheckpointError(`checkpoint failed: ${JSON.stringify(err)}`, true);
    }
  }

  /** Captures the next checkpoint and lets it complete while rounds run. */
  async function begin(start: NonNullable<Checkpointer["beginCheckpoint"]>): Promise<void> {
    await settle();
    const id = last + 1;
    lastStart = clock.now();
    const { done } = await start(state, id);
    // Cleared once done, so the engine may evict state again between checkpoints.
    const current: Promise<void> = done.then(
      () => {
        last = Math.max(last, id);
        count++;
        if (inflight === current) inflight = undefined;
      },
      (err: unknown) => {
        inflightError = err;
        if (inflight === current) inflight = undefined;
      },
    );
    inflight = current;
  }

  async function checkpoint(): Promise<number> {
    await settle();
    const started = clock.now();
    const id = last + 1;
    if (impl) await impl.checkpoint(state, id);
    else if (local) await takeCheckpoint(state, { root: local.dir, id, retain: local.retain ?? 3 });
    else throw new CheckpointError("checkpointing is not configured", false);
    last = id;
    count++;
    lastStart = started;
    return id;
  }

  return {
    enabled: impl !== undefined || local !== undefined,
    get last() {
      return last;
    },
    get count() {
      return count;
    },
    whenLanded() {
      return inflight?.then(
        () => undefined,
        () => undefined,
      );
    },
    restoredFrom(id) {
      last = id;
    },
    startClock() {
      lastStart = clock.now();
    },
    async between(finished) {
      if (inflightError !== undefined) await settle();
      if (!finished && clock.now() - lastStart < intervalMs) return;
      if (overlapping && !finished) await begin(overlapping);
      else await checkpoint();
    },
    settle,
    checkpoint,
    async savepoint(dir) {
      await settle();
      const id = last + 1;
      await takeCheckpoint(state, { id, savepointDir: dir });
      last = id;
      return id;
    },
  };
}
