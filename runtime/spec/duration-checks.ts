/**
 * Bounds on every duration of a StreamJob. The schema's pattern admits any number of hours, and a
 * window of `2500000000h` validates yet never closes: its end lies beyond the largest watermark,
 * so the job yields nothing. Every duration is bounded here, with the field path and the range.
 */
import { visitSchema } from "./cel-sites.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { finding, type Finding } from "./findings.ts";

/** The longest duration a StreamJob may hold: 10 years, far below the largest watermark. */
export const MAX_DURATION_MS = 87_600 * 3_600_000;

/** Every duration longer than MAX_DURATION_MS, as an error at its path naming the allowed range. */
export function checkDurations(job: unknown): Finding[] {
  const out: Finding[] = [];
  visitSchema(job, (s, v, path) => {
    if (s.tsType !== "Duration" || typeof v !== "string") return false;
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch {
      return true; // the schema's pattern reports it
    }
    if (ms > MAX_DURATION_MS) {
      const window = /\.window\.(size|slide|gap)$/.test(path);
      out.push(
        finding(
          "error",
          path,
          `${v} is too long: ${window ? "window sizes range from 1ms" : "durations range from 0s"} to ${formatDuration(MAX_DURATION_MS)} (10 years)`,
          window
            ? "a window longer than that would never close; for one result over all time use a global window"
            : `use at most ${formatDuration(MAX_DURATION_MS)}`,
        ),
      );
    }
    return true;
  });
  return out;
}
