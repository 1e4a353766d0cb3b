/**
 * Where a generator writes: ndjson files (one per topic, `<dir>/<topic>.ndjson`, what the example
 * manifests' `local` sections read) or Kafka topics (keyed, idempotent, batched). Either way at a
 * steady wall-clock rate when asked (records/s, 0 = as fast as possible), with a progress line on
 * stderr, and — for a bounded run — an end tick per partition: a record far ahead in event time
 * that closes every window of the job, which the job drops.
 */
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { KafkaProducer, OutgoingMessage } from "../../runtime/kafka/index.ts";
import { ensureTopics, inputProducer, kafkaClient, partitionCount, type Cluster } from "./kafka.ts";

/** Options of openOutput. */
export interface OutputOptions {
  /** Write files into this folder ... */
  dir?: string;
  /** ... or to these Kafka brokers. */
  brokers?: string[];
  /** Prepended to every topic name on Kafka (not to file names). */
  topicPrefix?: string;
  /** Partitions of topics the generator creates (Kafka). */
  partitions?: number;
  /** Topics to create compacted (tables, rules). */
  compacted?: readonly string[];
  /** Records per second over all topics; 0 = unthrottled. */
  rate?: number;
  /** Progress lines on stderr (default true). */
  progress?: boolean;
  /** Name on progress lines. */
  label: string;
}

/** A generator's output. */
export interface Output {
  /** Writes one record (a string is written as is, anything else as JSON). */
  write(topic: string, key: string | null, value: unknown): Promise<void>;
  /** Writes `value(partition)` to every partition of `topic` (file: once). */
  tick(topic: string, value: (partition: number) => unknown): Promise<void>;
  /** Records written so far. */
  readonly written: number;
  /** Flushes and closes. */
  close(): Promise<void>;
}

const encode = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** Opens a file or Kafka output; exactly one of dir and brokers. */
export async function openOutput(options: OutputOptions): Promise<Output> {
  const started = Date.now();
  let written = 0;
  let lastProgress = started;
  const show = options.progress !== false;
  const pace = async (): Promise<void> => {
    written++;
    const now = Date.now();
    if (show && now - lastProgress >= 1000) {
      lastProgress = now;
      const rate = Math.round((written * 1000) / Math.max(1, now - started));
      process.stderr.write(`${options.label}: ${written.toLocaleString("en-US")} records (${rate.toLocaleString("en-US")}/s)\n`);
    }
    const rate = options.rate ?? 0;
    if (rate > 0) {
      const due = started + (written * 1000) / rate;
      if (due - now > 5) await new Promise((r) => setTimeout(r, due - now));
    }
  };
  const done = (): void => {
    if (show) process.stderr.write(`${options.label}: wrote ${written.toLocaleString("en-US")} records in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  };
  if (options.dir !== undefined) return fileOutput(options.dir, pace, done, () => written);
  if (!options.brokers || options.brokers.length === 0) throw new Error("openOutput needs dir or brokers");
  return kafkaOutput(options, kafkaClient(options.brokers, options.label), pace, done, () => written);
}

function fileOutput(dir: string, pace: () => Promise<void>, done: () => void, count: () => number): Output {
  mkdirSync(dir, { recursive: true });
  const files = new Map<string, WriteStream>();
  const file = (topic: string): WriteStream => {
    let f = files.get(topic);
    if (!f) {
      f = createWriteStream(join(dir, `${topic}.ndjson`));
      files.set(topic, f);
    }
    return f;
  };
  const put = async (topic: string, value: unknown): Promise<void> => {
    const f = file(topic);
    if (!f.write(`${encode(value)}\n`)) await new Promise<void>((r) => f.once("drain", () => r()));
  };
  return {
    async write(topic, _key, value) {
      await put(topic, value);
      await pace();
    },
    async tick(topic, value) {
      await put(topic, value(0));
    },
    get written() {
      return count();
    },
    async close() {
      await Promise.all([...files.values()].map((f) => new Promise<void>((r, j) => f.end((err?: Error | null) => (err ? j(err) : r())))));
      done();
    },
  };
}

async function kafkaOutput(options: OutputOptions, kafka: Cluster, pace: () => Promise<void>, done: () => void, count: () => number): Promise<Output> {
  const prefix = options.topicPrefix ?? "";
  const producer: KafkaProducer = await inputProducer(kafka);
  const created = new Set<string>();
  const pending = new Map<string, OutgoingMessage[]>();
  let queued = 0;
  const ensure = async (topic: string): Promise<void> => {
    if (created.has(topic)) return;
    await ensureTopics(kafka, [{ topic, partitions: options.partitions ?? 4, compacted: options.compacted?.some((c) => prefix + c === topic) === true }]);
    created.add(topic);
  };
  const flush = async (): Promise<void> => {
    if (queued === 0) return;
    const batches = [...pending];
    pending.clear();
    queued = 0;
    for (const [topic, messages] of batches) await producer.send(topic, messages);
  };
  const queue = async (topic: string, m: OutgoingMessage): Promise<void> => {
    await ensure(topic);
    const list = pending.get(topic) ?? [];
    list.push(m);
    pending.set(topic, list);
    if (++queued >= 500) await flush();
  };
  // A paced run sends what it has at least every 50 ms, so records are not held back.
  const timer = (options.rate ?? 0) > 0 ? setInterval(() => void flush().catch(() => undefined), 50) : undefined;
  return {
    async write(topic, key, value) {
      await queue(prefix + topic, { key, value: encode(value) });
      await pace();
    },
    async tick(topic, value) {
      const full = prefix + topic;
      await ensure(full);
      await flush();
      const n = await partitionCount(kafka, full);
      for (let p = 0; p < n; p++) await queue(full, { partition: p, key: null, value: encode(value(p)) });
      await flush();
    },
    get written() {
      return count();
    },
    async close() {
      if (timer) clearInterval(timer);
      await flush();
      await producer.disconnect();
      done();
    },
  };
}
