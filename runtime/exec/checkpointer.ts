/**
 * The seam between the engine and where checkpoints live. Local mode writes checkpoint
 * directories (checkpointing.ts); the distributed runtime plugs in a Checkpointer that commits
 * each task's output, state changes and positions in one Kafka transaction.
 */
import type { Snapshot } from "../checkpoint/format.ts";
import type { TaskTransaction } from "../connectors/types.ts";
import type { StateChanges } from "../state/changes.ts";
import type { EngineState } from "./checkpointing.ts";

/** Takes and restores the checkpoints of the tasks one engine runs. */
export interface Checkpointer {
  /**
   * Called once the tasks' stores are open, before sources and operators: brings stores up to
   * date and returns what the engine restores (positions, timers, heap state), or undefined
   * for a fresh start. Snapshot `tasks` may hold any tasks; the engine keeps its own keys.
   */
  restore(engine: EngineState): Promise<Snapshot | undefined>;
  /**
   * Told of every store write the restore makes that the checkpointer's durable copy does not
   * hold yet (state imported from a savepoint, migrated or dropped), chunk by chunk.
   */
  recordRestore?(task: number, changes: StateChanges): Promise<void>;
  /** Called once everything is restored, before the first round (commits what recordRestore was told). */
  restored?(engine: EngineState): Promise<void>;
  /** Takes checkpoint `id` of every task the engine runs (between rounds). */
  checkpoint(engine: EngineState, id: number): Promise<void>;
  /**
   * When present, the engine may take checkpoints this way instead: between rounds it awaits
   * only the capture of what checkpoint `id` commits, then runs rounds while `done` completes
   * it. The engine keeps one such checkpoint in flight at a time, and evicts no state meanwhile
   * (the captured changes are in the cache until `done` has written them).
   */
  beginCheckpoint?(engine: EngineState, id: number): Promise<{ done: Promise<void> }>;
  /** Releases connections after the engine closed. */
  close?(): Promise<void>;
  /** Releases connections after a failure, committing nothing. */
  abort?(): Promise<void>;
}

/** What one task's operators may use beyond the graph. */
export interface TaskServices {
  /** The task's open transaction: Kafka sinks write into it instead of their own producers. */
  transaction?: TaskTransaction;
}
