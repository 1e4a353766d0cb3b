/**
 * Event time for the example generators. A steady event rate with periodic bursts (the rate
 * multiplied for a while), or the wall clock in real-time mode; each event is on time, out of
 * order by less than the job's watermark bound (so never late), or — after a warm-up — late by
 * far more than any window of the job (so every window has closed: the job drops it, or sends it
 * to a late output). Nothing is "a little" late: whether such an event still counts would depend
 * on how far the job's tasks are apart, and the verifiers recompute results exactly.
 */
import type { Random } from "./random.ts";

/** How event time advances and is disturbed. */
export interface TimelineOptions {
  /** Event time of the first event (ignored in real-time mode). */
  start: number;
  /** Events per second of event time, outside bursts. */
  eventsPerSecond: number;
  /** Event time follows the wall clock (live runs and latency benchmarks). */
  realtime?: boolean;
  /** A burst starts every this many ms of event time (0: none) ... */
  burstEveryMs: number;
  /** ... lasts this long ... */
  burstLengthMs: number;
  /** ... and multiplies the rate by this. */
  burstFactor: number;
  /** Share of events out of order, by up to maxDisorderMs (keep it below the job's watermark bound). */
  outOfOrderShare: number;
  maxDisorderMs: number;
  /** Share of events late by lateByMs to 1.5 × lateByMs, once lateAfterMs of event time have passed. */
  lateShare: number;
  lateByMs: number;
  lateAfterMs: number;
}

/** One event's time: when it happens in the stream order, and the timestamp it carries. */
export interface EventTime {
  /** The stream's clock (non-decreasing). */
  now: number;
  /** The event's timestamp (now, or earlier when out of order or late). */
  ts: number;
  kind: "on-time" | "out-of-order" | "late";
}

/** A sequence of event times. */
export function timeline(options: TimelineOptions, random: Random): () => EventTime {
  let clock = options.start;
  const first = options.realtime ? Date.now() : options.start;
  const rateAt = (t: number): number => {
    if (options.burstEveryMs <= 0) return options.eventsPerSecond;
    const phase = (t - first) % options.burstEveryMs;
    return phase >= options.burstEveryMs - options.burstLengthMs ? options.eventsPerSecond * options.burstFactor : options.eventsPerSecond;
  };
  return () => {
    if (options.realtime) clock = Math.max(clock, Date.now());
    else clock += (-Math.log(1 - random.next()) * 1000) / rateAt(clock);
    const now = Math.floor(clock);
    const x = random.next();
    if (now - first >= options.lateAfterMs && x < options.lateShare) {
      return { now, ts: now - options.lateByMs - Math.floor(random.next() * options.lateByMs * 0.5), kind: "late" };
    }
    if (x < options.lateShare + options.outOfOrderShare && options.maxDisorderMs > 0) {
      return { now, ts: now - 1 - Math.floor(random.next() * (options.maxDisorderMs - 1)), kind: "out-of-order" };
    }
    return { now, ts: now, kind: "on-time" };
  };
}
