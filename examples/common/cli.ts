/**
 * Command lines of the example generators and verifiers: declared options, `--help`, and a bad
 * argument answered with what is wrong and how to fix it (exit 2), never a stack trace.
 */
import { parseArgs } from "node:util";

/** One option of a command. */
export interface OptionSpec {
  /** string, number (finite), integer (≥ 0), or a flag. */
  type: "string" | "number" | "integer" | "boolean";
  description: string;
  /** The value when absent (shown in --help). */
  default?: string | number | boolean;
  /** Allowed values of a string option. */
  choices?: readonly string[];
  /** The placeholder shown in --help (default: the type). */
  placeholder?: string;
}

/** A bad command line: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {}

/** Parsed option values by name. */
export type Values = Record<string, string | number | boolean | undefined>;

/** The --help text of a command. */
export function usage(command: string, summary: string, options: Record<string, OptionSpec>, notes = ""): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = o.type === "boolean" ? `--${name}` : `--${name} <${o.placeholder ?? (o.choices ? o.choices.join("|") : o.type)}>`;
    const def = o.default === undefined || o.type === "boolean" ? "" : ` (default ${String(o.default)})`;
    return `  ${flag.padEnd(34)} ${o.description}${def}`;
  });
  return `${command}\n\n${summary}\n\nOptions:\n${rows.join("\n")}\n  ${"--help".padEnd(34)} this text\n${notes ? `\n${notes}\n` : ""}`;
}

/** Parses `argv` against `options`; throws UsageError naming the option and the fix. */
export function parseOptions(argv: readonly string[], options: Record<string, OptionSpec>): Values {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean" },
        ...Object.fromEntries(Object.entries(options).map(([n, o]) => [n, { type: o.type === "boolean" ? "boolean" : "string" }])),
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify.*$/s, ""));
  }
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  if (raw.help === true) return { help: true };
  const out: Values = {};
  for (const [name, o] of Object.entries(options)) {
    const v = raw[name];
    if (v === undefined) {
      out[name] = o.default;
      continue;
    }
    if (o.type === "boolean") out[name] = v === true;
    else if (o.type === "string") {
      if (o.choices && !o.choices.includes(v as string)) throw new UsageError(`--${name} must be one of ${o.choices.join(", ")}, got '${String(v)}'`);
      out[name] = v;
    } else {
      const n = Number(v);
      if (v === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${String(v)}'`);
      if (o.type === "integer" && (!Number.isInteger(n) || n < 0)) throw new UsageError(`--${name} must be a whole number ≥ 0, got '${String(v)}'`);
      out[name] = n;
    }
  }
  return out;
}

/** A number option that must lie in [min, max]. */
export function inRange(values: Values, name: string, min: number, max: number): number {
  const v = values[name] as number;
  if (v < min || v > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${v}`);
  return v;
}

/** Event time from an option: `now`, an ISO time, or milliseconds since the epoch. */
export function timeOption(values: Values, name: string): number {
  const v = String(values[name]);
  if (v === "now") return Date.now();
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be 'now', an ISO time (2026-01-01T00:00:00Z) or epoch milliseconds, got '${v}'`);
  return ms;
}

/** Milliseconds of a duration such as 500ms, 30s, 5m, 2h, 1d or 1h30m; undefined when it is not one. */
export function durationMs(text: string): number | undefined {
  if (!/^(\d+(?:\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * unit[m[2] as keyof typeof unit];
  return Math.round(ms);
}

/** A duration option like 90s, 5m, 2h, 500ms. */
export function durationOption(values: Values, name: string): number {
  const v = String(values[name]);
  const ms = durationMs(v);
  if (ms === undefined) throw new UsageError(`--${name} must be a duration such as 500ms, 30s, 5m, 2h or 1d, got '${v}'`);
  return ms;
}

/**
 * Runs a command's main: --help prints usage (exit 0); a UsageError prints the problem and a
 * pointer to --help (exit 2); any other error one line (exit 1; RUNNEL_LOG_LEVEL=debug adds the stack).
 */
export async function runMain(command: string, help: string, main: (argv: string[]) => Promise<number>): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(help);
    return;
  }
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${command}: ${err.message}\nRun '${command} --help' for the options.\n`);
      process.exitCode = 2;
      return;
    }
    const detail = process.env.RUNNEL_LOG_LEVEL === "debug" && err instanceof Error ? `\n${err.stack ?? ""}` : "";
    process.stderr.write(`${command}: ${err instanceof Error ? err.message : String(err)}${detail}\n`);
    process.exitCode = 1;
  }
}
