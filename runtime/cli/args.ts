/** What the `runnel` commands share: argument errors, number and address parsing, the progress line. */
import { ConfigurationError } from "../errors.ts";
import type { Progress } from "../exec/engine.ts";
import { MAX_WATERMARK, MIN_WATERMARK } from "../time/watermarks.ts";

/** A bad command-line argument: printed with the usage, exit code 2, never a stack trace. */
export class UsageError extends ConfigurationError {}

/** Parses --<name> as a positive integer (fallback when absent). */
export function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

/** Parses --admin host:port (port 0: any free port). */
export function hostPort(text: string, flag = "admin"): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port > 65535) throw new UsageError(`--${flag} must be host:port, e.g. 127.0.0.1:9249, got '${text}'`);
  return { host: (m[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
}

/** Parses --drop-incompatible-state step,step,… (absent: none). */
export function stepList(text: string | undefined, flag = "drop-incompatible-state"): string[] {
  if (text === undefined) return [];
  const steps = text.split(",").map((s) => s.trim());
  if (steps.some((s) => s === "")) throw new UsageError(`--${flag} takes step ids separated by commas, e.g. per-minute,totals; got '${text}'`);
  return steps;
}

/** A watermark for people: "-" before the first, "end" after the last, ISO time for epoch millis. */
export function formatWatermark(wm: number): string {
  if (wm <= MIN_WATERMARK) return "-";
  if (wm >= MAX_WATERMARK) return "end";
  return wm > 1e11 ? new Date(wm).toISOString() : String(wm);
}

/** The live progress line: records in, rate, records out, watermark, checkpoints, state size. */
export function progressLine(p: Progress, rate: number): string {
  return `${p.recordsIn.toLocaleString("en-US")} in  ${Math.round(rate).toLocaleString("en-US")} ev/s  out ${p.recordsOut.toLocaleString("en-US")}  watermark ${formatWatermark(p.watermark)}  checkpoints ${p.checkpoints}  state ${p.stateSize.toLocaleString("en-US")}`;
}
