/**
 * The seam between an engine that runs a subset of a job's tasks and the engines running the
 * others in the same process (ADR 36: local runs on threads). The engines run the same rounds:
 * before an exchange-fed operator drains, each hands the records it routed to the others' tasks
 * (and its upstream tasks' watermarks) over and takes theirs — in a pipelined round those the
 * others sent a few rounds earlier, in a lockstep round all of them; at a round's end they agree
 * whether anything moved, whether the input ended, whether to checkpoint or stop. A round that
 * ends the run, stops it or precedes a checkpoint runs in lockstep: nothing is in flight after it
 * in any of them, so each writes its tasks' part of a checkpoint and the coordinator completes it
 * once every part is written.
 */
import type { CheckpointMetadata } from "../checkpoint/format.ts";
import type { Exchange } from "./exchange.ts";

/** What one engine reports at the end of a round. */
export interface RoundReport {
  /** Whether this engine moved any record. */
  moved: boolean;
  /** Whether every source partition this engine reads has ended. */
  sourcesDone: boolean;
}

/** What the engines agreed at the end of a round. */
export interface RoundAgreement {
  /** Whether any engine moved a record (else they pause before the next round). */
  moved: boolean;
  /** Every engine's sources ended and everything drained: the run is finished. */
  finished: boolean;
  /** Take a checkpoint now (every engine takes it at the same round). */
  checkpoint: boolean;
  /** Stop after this round (with the checkpoint above when checkpointing is on). */
  stop: boolean;
  /**
   * Whether the next round trades records in lockstep. Otherwise an engine drains what the others
   * routed to it some rounds earlier (this round's records follow as many rounds later), so no
   * engine waits for another's step at once; finished, stop and checkpoint are agreed only for
   * the end of a lockstep round.
   */
  lockstep: boolean;
}

/** The other engines of a run, as one engine sees them. */
export interface EnginePeers {
  /** Called once wired: the run's exchanges in wiring order (the same in every engine) and the tasks this engine runs. */
  attach(exchanges: readonly Exchange[], tasks: ReadonlySet<number>): void;
  /** Before `node` drains: sends what this engine routed to other engines' tasks on `node`'s input exchanges, receives what they routed to its own. */
  exchange(node: number): Promise<void>;
  /** At a round's end: reports this engine's round and returns what all agreed. */
  endRound(report: RoundReport): Promise<RoundAgreement>;
  /** Once this engine wrote its tasks' files of checkpoint or savepoint `part.id` into `dir`: resolves when the whole snapshot is complete (its metadata written). */
  completeSnapshot(dir: string, part: CheckpointMetadata): Promise<void>;
}
