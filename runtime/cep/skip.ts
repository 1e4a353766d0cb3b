/**
 * After-match skip strategies (the documented NO_SKIP, SKIP_TO_NEXT, SKIP_PAST_LAST_EVENT,
 * SKIP_TO_FIRST[stage], SKIP_TO_LAST[stage]). A strategy reduces to one number per emitted
 * match: the sequence number of the first event a later match may start at. Partial and held
 * matches starting before it are discarded.
 */
import type { EventNode } from "./events.ts";

/** The five strategies of the documentation. */
export type SkipKind = "noSkip" | "skipToNext" | "skipPastLastEvent" | "skipToFirst" | "skipToLast";

/** What happens to other partial matches once a match is emitted. */
export interface AfterMatchSkipStrategy {
  /** Which strategy. */
  readonly kind: SkipKind;
  /** The stage skipToFirst / skipToLast refer to (undefined for the others). */
  readonly stage: string | undefined;
}

/** Factories, named as in the pattern API's documentation. */
export const AfterMatchSkipStrategy = {
  /** Every possible match is emitted. */
  noSkip: (): AfterMatchSkipStrategy => ({ kind: "noSkip", stage: undefined }),
  /** Discards the partial matches that started with the same event as the match. */
  skipToNext: (): AfterMatchSkipStrategy => ({ kind: "skipToNext", stage: undefined }),
  /** Discards the partial matches that started before the match ended. */
  skipPastLastEvent: (): AfterMatchSkipStrategy => ({ kind: "skipPastLastEvent", stage: undefined }),
  /** Discards the partial matches that started before the match's first event of `stage`. */
  skipToFirst: (stage: string): AfterMatchSkipStrategy => ({ kind: "skipToFirst", stage }),
  /** Discards the partial matches that started before the match's last event of `stage`. */
  skipToLast: (stage: string): AfterMatchSkipStrategy => ({ kind: "skipToLast", stage }),
};

/**
 * The first event sequence number a later match may start at, after emitting the match whose
 * newest event is `head` and which started at `start`; 0 prunes nothing. `stage` is the index of
 * the strategy's stage. When the match holds no event of that stage, nothing is pruned (the
 * documented default: behave as NO_SKIP).
 */
export function skipTarget(kind: SkipKind, stage: number, start: number, head: EventNode): number {
  switch (kind) {
    case "noSkip":
      return 0;
    case "skipToNext":
      return start + 1;
    case "skipPastLastEvent":
      return head.q + 1;
    case "skipToLast":
      for (let n: EventNode | null = head; n !== null; n = n.p) if (n.s === stage) return n.q;
      return 0;
    case "skipToFirst": {
      let first = 0;
      for (let n: EventNode | null = head; n !== null; n = n.p) if (n.s === stage) first = n.q;
      return first;
    }
  }
}
