/**
 * How every `runnel` command ends on a failure: one line saying what failed, why and what to do,
 * and the exit code of the failure's class (runtime/worker-contract.ts EXIT_CODES), never a
 * stack trace (RUNNEL_LOG_LEVEL=debug adds it, for bug reports). Reading an error never throws:
 * anything may arrive here, including errors of libraries whose `code` is a number.
 */
import type { ErrorClass } from "../errors.ts";
import { RunnelError } from "../errors.ts";
import { ManifestInvalidError } from "../pipeline/errors.ts";
import { EXIT_CODES, exitCodeOf } from "../worker-contract.ts";
import { UsageError } from "./args.ts";

/** A failure as a command reports it. */
export interface Failure {
  /** The class (`usage` for bad arguments). */
  errorClass: ErrorClass | "usage";
  /** The exit code of the class. */
  exitCode: number;
  /** What failed, why, and what to do, on one line (without the `runnel <command>: ` prefix). */
  message: string;
}

/** A property of an unknown value, without trusting its type. */
function field(err: unknown, name: string): unknown {
  return err !== null && typeof err === "object" ? (err as Record<string, unknown>)[name] : undefined;
}

/** The error's message on one line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, "; ").trim();
}

/** System errors about paths and permissions: the environment is set up wrong (a restart will not help). */
const CONFIGURATION_ERRNOS = new Set(["EACCES", "EPERM", "ENOENT", "ENOTDIR", "EISDIR", "EROFS", "EADDRINUSE", "EADDRNOTAVAIL"]);

/** Classifies anything a command caught. */
export function describeFailure(err: unknown): Failure {
  const code = field(err, "code");
  const message = oneLine(err instanceof Error ? err.message : String(err));
  if (err instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")))
    return { errorClass: "usage", exitCode: EXIT_CODES.usage, message };
  if (err instanceof ManifestInvalidError) {
    // Findings in one line; `runnel validate` prints each with its excerpt.
    const errors = err.findings.filter((f) => f.severity === "error").map((f) => `${f.path}: ${f.message}${f.hint ? ` (${f.hint})` : ""}`);
    return {
      errorClass: err.errorClass,
      exitCode: exitCodeOf(err.errorClass),
      message: `${err.file} is not a valid StreamJob: ${errors.join("; ")}; \`runnel validate ${err.file}\` shows each with its excerpt`,
    };
  }
  if (err instanceof RunnelError) return { errorClass: err.errorClass, exitCode: exitCodeOf(err.errorClass), message };
  const name = field(err, "name");
  if (typeof name === "string" && name.startsWith("KafkaJS")) {
    // The Kafka client says itself whether retrying can help.
    const errorClass: ErrorClass = field(err, "retriable") === true ? "transient" : "internal";
    const advice = errorClass === "transient" ? "a restart retries it" : "report it with the log if it persists";
    return { errorClass, exitCode: exitCodeOf(errorClass), message: `Kafka: ${message} (${name}; ${advice})` };
  }
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) {
    const errorClass: ErrorClass = CONFIGURATION_ERRNOS.has(code) ? "configuration" : "transient";
    const advice = errorClass === "configuration" ? "check the path, its permissions or the address" : "a retry may succeed";
    return { errorClass, exitCode: exitCodeOf(errorClass), message: `${message} (${advice})` };
  }
  const kind = typeof name === "string" && name !== "" ? name : typeof err;
  return {
    errorClass: "internal",
    exitCode: exitCodeOf("internal"),
    message: `internal error (${kind}: ${message}); this is a bug in Runnel: please report it with RUNNEL_LOG_LEVEL=debug output`,
  };
}

/** Prints a failure as one line on stderr (its stack only with RUNNEL_LOG_LEVEL=debug) and returns the exit code. */
export function reportFailure(command: string, err: unknown): number {
  const failure = describeFailure(err);
  const help = failure.errorClass === "usage" ? `; see \`runnel ${command} --help\`` : "";
  console.error(`runnel ${command}: ${help ? failure.message.replace(/\.$/, "") : failure.message}${help}`);
  if (process.env.RUNNEL_LOG_LEVEL === "debug" && err instanceof Error && err.stack) console.error(err.stack);
  return failure.exitCode;
}
