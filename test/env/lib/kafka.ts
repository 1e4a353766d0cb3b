/** A single-node Kafka broker in KRaft mode (broker and controller in one JVM). */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { ports } from "./layout.ts";
import { startDaemon, waitUntil } from "./processes.ts";

/** A fixed 22-character cluster id: the data dir is fresh on every `up`, so it never collides. */
const CLUSTER_ID = "cnVubmVsLXRlc3RlbnYtMQ";

function brokerProperties(logDir: string): string {
  const internal = ["offsets.topic", "transaction.state.log", "share.coordinator.state.topic"];
  return [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@127.0.0.1:${ports.kafkaController}`,
    `listeners=PLAINTEXT://127.0.0.1:${ports.kafka},CONTROLLER://127.0.0.1:${ports.kafkaController}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${ports.kafka}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    `log.dirs=${logDir}`,
    ...internal.map((t) => `${t}.replication.factor=1`),
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.min.isr=1",
    // A 2-core machine: few partitions for internal topics, few threads.
    "offsets.topic.num.partitions=4",
    "transaction.state.log.num.partitions=4",
    "share.coordinator.state.topic.num.partitions=1",
    "num.network.threads=2",
    "num.io.threads=2",
    "num.partitions=1",
    "group.initial.rebalance.delay.ms=0",
    "auto.create.topics.enable=false",
    // Tests abort transactions on purpose; end them quickly when a producer dies mid-transaction.
    "transaction.abort.timed.out.transaction.cleanup.interval.ms=5000",
    "log.flush.interval.messages=9223372036854775807",
    "",
  ].join("\n");
}

/** Formats a fresh log dir, starts the broker and waits until a kafkajs admin call answers. */
export async function startKafka({ runDir, libsDir }: { runDir: string; libsDir: string }): Promise<string[]> {
  const data = join(runDir, "data", "kafka");
  const logDir = join(data, "logs");
  mkdirSync(logDir, { recursive: true });
  const props = join(data, "server.properties");
  writeFileSync(props, brokerProperties(logDir));
  const classpath = `${libsDir}/*`;
  const log4j = join(data, "log4j2.properties");
  writeFileSync(
    log4j,
    [
      "rootLogger.level=INFO",
      "rootLogger.appenderRef.stdout.ref=STDOUT",
      "appender.console.type=Console",
      "appender.console.name=STDOUT",
      "appender.console.layout.type=PatternLayout",
      "appender.console.layout.pattern=[%d] %p %m (%c)%n",
      "logger.kafka.name=kafka",
      "logger.kafka.level=INFO",
      "logger.state.name=state.change.logger",
      "logger.state.level=WARN",
      "",
    ].join("\n"),
  );
  const jvm = ["-Xms256m", "-Xmx768m", `-Dlog4j2.configurationFile=${log4j}`, "-cp", classpath];
  execFileSync("java", [...jvm, "kafka.tools.StorageTool", "format", "-t", CLUSTER_ID, "-c", props, "--ignore-formatted"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = startDaemon({ name: "kafka", runDir, command: "java", args: [...jvm, "kafka.Kafka", props] });
  const brokers = [`127.0.0.1:${ports.kafka}`];
  const admin = new Kafka({ clientId: "runnel-testenv", brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await waitUntil(
    "kafka",
    async () => {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.disconnect();
      return cluster.brokers.length === 1;
    },
    { timeoutMs: 90_000, pid, logFile: join(runDir, "logs", "kafka.log") },
  );
  return brokers;
}
