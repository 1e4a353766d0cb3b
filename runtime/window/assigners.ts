/** Window assigners (tumbling, sliding, session, global) and their Flink arithmetic. */
import { JobDefinitionError } from "../errors.ts";
import { MAX_WATERMARK, MIN_WATERMARK } from "../time/watermarks.ts";
import type { TimeWindow, WindowAssigner, WindowTime } from "./types.ts";

/** Start of the window of `size` (shifted by `offset`) containing `ts` (Flink's getWindowStartWithOffset). */
export function windowStart(ts: number, size: number, offset: number): number {
  const r = (ts - offset) % size;
  return ts - (r < 0 ? r + size : r);
}

/** Last timestamp that belongs to a window. */
export function maxTimestamp(w: TimeWindow): number {
  return w.end - 1;
}

/** The single window of a global assigner. */
export const GLOBAL_WINDOW: TimeWindow = Object.freeze({ start: MIN_WATERMARK, end: MAX_WATERMARK + 1 });

/** Tumbling windows of `sizeMs`, aligned to epoch + `offsetMs` (e.g. -8 h for UTC+8 days). */
export function tumbling(options: { sizeMs: number; offsetMs?: number; time?: WindowTime }): WindowAssigner {
  const offsetMs = options.offsetMs ?? 0;
  if (!(options.sizeMs > 0)) throw new JobDefinitionError(`tumbling window size must be > 0, got ${options.sizeMs}`);
  if (Math.abs(offsetMs) >= options.sizeMs) throw new JobDefinitionError("tumbling window offset must be smaller than its size");
  return { kind: "tumbling", sizeMs: options.sizeMs, offsetMs, time: options.time ?? "event" };
}

/** Sliding windows of `sizeMs` every `slideMs`; a record belongs to size/slide windows. */
export function sliding(options: { sizeMs: number; slideMs: number; offsetMs?: number; time?: WindowTime }): WindowAssigner {
  const offsetMs = options.offsetMs ?? 0;
  if (!(options.sizeMs > 0 && options.slideMs > 0)) throw new JobDefinitionError("sliding window size and slide must be > 0");
  if (Math.abs(offsetMs) >= options.slideMs) throw new JobDefinitionError("sliding window offset must be smaller than its slide");
  return { kind: "sliding", sizeMs: options.sizeMs, slideMs: options.slideMs, offsetMs, time: options.time ?? "event" };
}

/** Session windows closed by a gap of inactivity per key; overlapping sessions merge. */
export function session(options: { gapMs: number; time?: WindowTime }): WindowAssigner {
  if (!(options.gapMs > 0)) throw new JobDefinitionError(`session gap must be > 0, got ${options.gapMs}`);
  return { kind: "session", gapMs: options.gapMs, time: options.time ?? "event" };
}

/** One window per key for all time (needs a count trigger). */
export function globalWindow(): WindowAssigner {
  return { kind: "global" };
}
