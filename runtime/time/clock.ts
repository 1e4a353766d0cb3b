/** Processing time, injectable so tests control idleness, TTL and processing-time timers. */

/** A source of processing time in epoch milliseconds. */
export interface Clock {
  /** Current processing time. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to (tests). */
export interface ManualClock extends Clock {
  /** Sets the time. */
  set(ms: number): void;
  /** Moves time forward. */
  advance(ms: number): void;
}

/** Creates a manual clock starting at `start`. */
export function manualClock(start = 0): ManualClock {
  let t = start;
  return {
    now: () => t,
    set(ms) {
      t = ms;
    },
    advance(ms) {
      t += ms;
    },
  };
}
