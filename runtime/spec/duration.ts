/** Duration strings of the StreamJob spec (`500ms`, `30s`, `1h30m`), as CEL's duration() reads them. */
import { JobDefinitionError } from "../errors.ts";

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const whole = /^([0-9]+(ms|s|m|h))+$/;
const part = /([0-9]+)(ms|s|m|h)/g;

/** Parses a duration string to milliseconds; throws on anything the schema's pattern rejects. */
export function parseDuration(text: string): number {
  if (!whole.test(text)) throw new JobDefinitionError(`not a duration: ${JSON.stringify(text)} (expected e.g. 30s, 5m, 1h30m)`);
  let ms = 0;
  for (const m of text.matchAll(part)) ms += Number(m[1]) * (unitMs[m[2] ?? ""] ?? 0);
  return ms;
}

/** Formats milliseconds as the shortest duration string (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
