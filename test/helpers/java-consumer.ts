/**
 * Reads a topic with Kafka's own Java console consumer (kafka-tools, from the Kafka distribution
 * test/env installs) in read_committed isolation: the ground truth for what a Java or Flink
 * downstream sees of an exactly-once topic, independent of Runnel's and kafkajs's reading.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { cachePaths } from "../env/lib/layout.ts";
import { testEnv } from "./env.ts";

/** One record as the Java consumer printed it. */
export interface JavaRecord {
  partition: number;
  offset: number;
  /** The key as text; null for a record without a key. */
  key: string | null;
  value: string;
}

/** Separates records in the consumer's output (values may hold tabs and newlines). */
const RECORD_SEPARATOR = "\u001e";

/**
 * Reads every committed record of `topic` from the beginning. The read ends once no record
 * arrived for `idleMs` (the console consumer's only way to end), so callers compare against a
 * reference and read again while records are missing — never while they are duplicated.
 */
export async function readCommittedWithJava(topic: string, options: { idleMs?: number; brokers?: string[] } = {}): Promise<JavaRecord[]> {
  const brokers = options.brokers ?? testEnv().kafkaBrokers;
  const libs = join(cachePaths().kafka, "libs");
  const args = [
    "-Xmx256m",
    "-cp",
    `${libs}/*`,
    "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "--bootstrap-server",
    brokers.join(","),
    "--topic",
    topic,
    "--from-beginning",
    "--isolation-level",
    "read_committed",
    "--timeout-ms",
    String(options.idleMs ?? 10_000),
    "--property",
    "print.partition=true",
    "--property",
    "print.offset=true",
    "--property",
    "print.key=true",
    "--property",
    `line.separator=${RECORD_SEPARATOR}`,
  ];
  const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
    const child = spawn("java", args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (c) => resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code: c }));
  });
  // It ends by timing out (exit 0 after "Processed a total of N messages"); anything else is a failure.
  if (code !== 0 || !/Processed a total of \d+ messages/.test(stderr)) {
    throw new Error(`Kafka's console consumer failed on '${topic}' (exit ${code}):\n${stderr.slice(-2000)}`);
  }
  const records: JavaRecord[] = [];
  const chunks = stdout.split(RECORD_SEPARATOR);
  for (const [i, chunk] of chunks.entries()) {
    const line = chunk.replace(/^\n/, "");
    if (line.trim() === "") continue;
    const m = /^Partition:(\d+)\tOffset:(\d+)\t([^\t]*)\t([\s\S]*)$/.exec(line);
    // The consumer's log line about its timeout goes to stdout after the last record.
    if (!m && i === chunks.length - 1 && line.includes("TimeoutException")) continue;
    if (!m) throw new Error(`unexpected console consumer output on '${topic}': ${JSON.stringify(line.slice(0, 200))}`);
    records.push({ partition: Number(m[1]), offset: Number(m[2]), key: m[3] === "null" ? null : (m[3] as string), value: m[4] as string });
  }
  return records;
}

/**
 * Reads `topic` with the Java consumer until it holds at least `count` records, reading again
 * while fewer arrived (a read ends on idleness, not on a count); fails after `timeoutMs`.
 */
export async function readCommittedWithJavaAtLeast(
  topic: string,
  count: number,
  options: { idleMs?: number; brokers?: string[]; timeoutMs?: number } = {},
): Promise<JavaRecord[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const records = await readCommittedWithJava(topic, options);
    if (records.length >= count) return records;
    if (Date.now() > deadline) throw new Error(`Kafka's console consumer read ${records.length} committed records of '${topic}', expected at least ${count}`);
  }
}
