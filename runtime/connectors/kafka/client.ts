/** kafkajs clients for Runnel's Kafka connectors: one connection description, quiet, namespaced logs. */
import { Kafka, logLevel, type LogEntry, type SASLOptions } from "kafkajs";

/** How to reach the Kafka cluster (the StreamJob's `spec.kafka`, resolved). */
export interface KafkaConnection {
  /** host:port of one or more brokers. */
  brokers: string[];
  /** Client id shown in broker logs and quotas. */
  clientId?: string;
  /** TLS: true, or the CA/certificate material. */
  ssl?: boolean | { ca?: string[]; cert?: string; key?: string };
  /** SASL credentials. */
  sasl?: SASLOptions;
}

const LEVEL_NAMES: Record<number, string> = { [logLevel.ERROR]: "error", [logLevel.WARN]: "warn", [logLevel.INFO]: "info", [logLevel.DEBUG]: "debug" };

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

/** Creates a kafkajs client whose log lines are namespaced `runnel:kafka` and whose warnings are real. */
export function createKafkaClient(connection: KafkaConnection, level: logLevel = logLevel.WARN): Kafka {
  filterNegativeTimeoutWarning();
  return new Kafka({
    clientId: connection.clientId ?? "runnel",
    brokers: connection.brokers,
    ...(connection.ssl === undefined ? {} : { ssl: connection.ssl }),
    ...(connection.sasl === undefined ? {} : { sasl: connection.sasl }),
    logLevel: level,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      console.error(`runnel:kafka ${LEVEL_NAMES[entry.level] ?? entry.level} [${entry.namespace}] ${message} ${JSON.stringify(extra)}`);
    },
  });
}
