/**
 * The connection description and the one place kafkajs clients are created: structured logs
 * (logger `kafka`; answers kafkajs retries by itself only at debug), and the harmless
 * negative-timer warning of kafkajs on Node 24 filtered. Internal to the adapter
 * (runtime/kafka/); the rest of the runtime holds a KafkaClient (client.ts).
 */
// Before kafkajs loads: its sends then group messages in linear time (send-patch.ts).
import "./send-patch.ts";
import { Kafka, logLevel, type LogEntry, type SASLOptions } from "kafkajs";
import { createLogger, type LogFields, type LogLevel } from "../log.ts";

/** How to reach the Kafka cluster (the StreamJob's `spec.kafka`, resolved). */
export interface KafkaConnection {
  /** host:port of one or more brokers. */
  brokers: string[];
  /** Client id shown in broker logs and quotas. */
  clientId?: string;
  /** TLS: true, or the CA/certificate material. */
  ssl?: boolean | { ca?: string[]; cert?: string; key?: string };
  /** SASL credentials. */
  sasl?: { mechanism: "plain" | "scram-sha-256" | "scram-sha-512"; username: string; password: string };
}

const LEVEL_NAMES: Record<number, LogLevel> = { [logLevel.ERROR]: "error", [logLevel.WARN]: "warn", [logLevel.INFO]: "info", [logLevel.DEBUG]: "debug" };

// kafkajs 2.2.4 arms a timer with a negative delay on Node >= 24 (kafkajs issue 1751); Node runs
// it after 1 ms, which is what kafkajs means. Drop only that warning so real ones stay visible.
let warningFilterInstalled = false;
/** Drops kafkajs's harmless negative-timer warning (once per process); every other warning still shows. */
export function filterNegativeTimeoutWarning(): void {
  if (warningFilterInstalled) return;
  warningFilterInstalled = true;
  const listeners = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name === "TimeoutNegativeWarning") return;
    if (listeners.length === 0) console.error(warning);
    for (const l of listeners) l(warning);
  });
}

/**
 * Broker answers kafkajs logs as errors although it retries them and they pass on their own:
 * coordinators still loading after a broker start, a transaction's next partition added while
 * the previous commit completes, leadership moving. Logged, they read like failures.
 */
const RETRIED_ANSWERS = [
  "The coordinator is loading",
  "The group coordinator is not available",
  "This is not the correct coordinator",
  "concurrent operation on the same transaction",
  "There is no leader for this topic-partition",
];

/**
 * True for a kafkajs log entry reporting a broker answer kafkajs retries by itself (not worth a
 * line): the connection's "Response …" line, or the producer's "Failed to send messages" that
 * precedes a retry, and a broker it could not connect to yet (it tries again, then fails). A
 * final failure still reaches Runnel's own code, which reports it in one line.
 */
export function isRetriedAnswer(entry: { namespace: string; log: { message: string; error?: unknown } }): boolean {
  const { message, error } = entry.log;
  if (entry.namespace === "Connection" && message.startsWith("Connection error")) return true;
  if (entry.namespace === "BrokerPool" && message.startsWith("Failed to connect to seed broker")) return true;
  const answer =
    (entry.namespace === "Connection" && message.startsWith("Response ")) || (entry.namespace === "Producer" && message.startsWith("Failed to send messages"));
  if (!answer) return false;
  // The connection names the answer in `error`; the producer's retry line in its message.
  const text = `${message} ${typeof error === "string" ? error : error instanceof Error ? error.message : ""}`;
  return RETRIED_ANSWERS.some((t) => text.includes(t));
}

/** How chatty the client's own log lines are. */
export type KafkaLogLevel = "error" | "warn";

/** Creates a kafkajs client whose log lines go to the `kafka` logger and whose warnings are real (retried answers only at debug). */
export function kafkajsClient(connection: KafkaConnection, level: KafkaLogLevel = "warn"): Kafka {
  filterNegativeTimeoutWarning();
  const log = createLogger("kafka");
  return new Kafka({
    clientId: connection.clientId ?? "runnel",
    brokers: connection.brokers,
    ...(connection.ssl === undefined ? {} : { ssl: connection.ssl }),
    ...(connection.sasl === undefined ? {} : { sasl: connection.sasl as SASLOptions }),
    logLevel: level === "error" ? logLevel.ERROR : logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, timestamp: _time, logger: _logger, stack, ...extra } = entry.log as LogEntry["log"] & { stack?: unknown };
      const fields: LogFields = { kafka: entry.namespace };
      for (const [k, v] of Object.entries(extra)) fields[k] = typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? v : JSON.stringify(v);
      const level = isRetriedAnswer(entry) ? "debug" : (LEVEL_NAMES[entry.level] ?? "warn");
      log[level](message, level === "debug" && typeof stack === "string" ? { ...fields, stack } : fields);
    },
  });
}
