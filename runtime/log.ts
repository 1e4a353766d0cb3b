/**
 * Structured logs for every long-running Runnel process (workers, the operator): one JSON object
 * per line on stderr with `time`, `level`, `logger` (a namespace such as `worker` or
 * `operator.reconcile`), `msg` and the context fields bound to the logger (job, namespace,
 * generation, ordinal, task, reconcile id …), readable by any log stack. On a terminal, or with
 * RUNNEL_LOG_FORMAT=text, the same lines print for people: `time level logger msg key=value`.
 * Loggers are cheap: `child()` binds more context without copying sinks.
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Context fields carried by every line of a logger. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** A namespaced logger with bound context. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger with more context (and optionally a sub-namespace: `operator` → `operator.queue`). */
  child(fields: LogFields, namespace?: string): Logger;
}

/** Where lines go and how they look. */
export interface LogOptions {
  /** json (default when stderr is not a terminal) or text. */
  format?: "json" | "text";
  /** Lines below this level are dropped (default info; RUNNEL_LOG_LEVEL overrides). */
  level?: LogLevel;
  /** Writes one line (default: process.stderr). */
  write?: (line: string) => void;
  /** The clock (tests). */
  now?: () => Date;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function isLevel(x: string | undefined): x is LogLevel {
  return x !== undefined && x in ORDER;
}

/** The format and level from the environment: RUNNEL_LOG_FORMAT (json|text) and RUNNEL_LOG_LEVEL. */
export function logOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): LogOptions {
  const format = env.RUNNEL_LOG_FORMAT === "text" || env.RUNNEL_LOG_FORMAT === "json" ? env.RUNNEL_LOG_FORMAT : process.stderr.isTTY ? "text" : "json";
  return { format, ...(isLevel(env.RUNNEL_LOG_LEVEL) ? { level: env.RUNNEL_LOG_LEVEL } : {}) };
}

function textValue(v: string | number | boolean): string {
  const s = String(v);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** Creates a root logger named `namespace`. */
export function createLogger(namespace: string, fields: LogFields = {}, options: LogOptions = logOptionsFromEnv()): Logger {
  const format = options.format ?? "json";
  const min = ORDER[options.level ?? "info"];
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());

  function make(ns: string, bound: LogFields): Logger {
    const emit = (level: LogLevel, msg: string, extra?: LogFields): void => {
      if (ORDER[level] < min) return;
      const all: LogFields = { ...bound, ...extra };
      if (format === "json") {
        const line: Record<string, unknown> = { time: now().toISOString(), level, logger: ns, msg };
        for (const [k, v] of Object.entries(all)) if (v !== undefined && !(k in line)) line[k] = v;
        write(JSON.stringify(line));
        return;
      }
      const kv = Object.entries(all)
        .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(" ");
      write(`${now().toISOString()} ${level.toUpperCase().padEnd(5)} ${ns} ${msg}${kv ? `  ${kv}` : ""}`);
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (more, sub) => make(sub === undefined ? ns : `${ns}.${sub}`, { ...bound, ...more }),
    };
  }
  return make(namespace, fields);
}
