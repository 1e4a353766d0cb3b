/**
 * Distributed-job test helpers: a windowed count job on fresh topics, its input with a reference
 * of every expected output, worker processes that can be killed with SIGKILL and restarted, and
 * a read_committed check of the output against the reference.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Partitioners, type Admin, type Consumer, type Kafka } from "kafkajs";
import { CommittedFilter, rawMessages } from "../../runtime/connectors/kafka/read-committed.ts";
import { testEnv, uniqueName } from "./env.ts";

const MAIN = resolve(import.meta.dirname, "../../runtime/cli/main.ts");

/** Event time of the first input record. */
export const T0 = Date.UTC(2026, 0, 1);

/** One expected (or seen) window result. */
export interface WindowCount {
  events: number;
  total: number;
}

/** What the reference knows of a window beyond its counts: its first and last records' indexes, and the largest and smallest n. */
export interface WindowReference extends WindowCount {
  first: number;
  last: number;
  maxN: number;
  minN: number;
}

/** A windowed job on its own topics. */
export interface CountJob {
  name: string;
  dir: string;
  manifest: string;
  input: string;
  output: string;
  partitions: number;
  /** Expected results by `user@windowStart`, filled by produce(). */
  reference: Map<string, WindowReference>;
  /** Records produced so far. */
  produced: number;
}

/**
 * The manifest of the count job: keyBy user, 1 s tumbling windows counting events and summing n
 * (`windowSize` and `moreAggregations`, YAML flow items such as `{ name: maxN, fn: max, of: record.n }`, change the window).
 */
export function countManifest(job: {
  name: string;
  input: string;
  output: string;
  partitions: number;
  extraSteps?: string;
  windowStepId?: string;
  windowSize?: string;
  moreAggregations?: string[];
}): string {
  const windowId = job.windowStepId ?? "per-second";
  const more = (job.moreAggregations ?? []).map((a) => `            - ${a}\n`).join("");
  return `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: ${job.name} }
spec:
  parallelism: ${job.partitions}
  kafka: { bootstrapServers: [${testEnv().kafkaBrokers.join(", ")}] }
  checkpoint: { interval: 300ms }
  pipeline:
    sources:
      - id: clicks
        kafka: { topic: ${job.input}, partitions: ${job.partitions} }
        timestamp: { field: ts }
        watermark: { outOfOrderness: 2s }
    steps:
      - id: by-user
        input: clicks
        keyBy: { key: record.user }
      - id: ${windowId}
        input: by-user
        window:
          type: tumbling
          size: ${job.windowSize ?? "1s"}
          aggregations:
            - { name: events, fn: count }
            - { name: total, fn: sum, of: record.n }
${more}${job.extraSteps ?? ""}    sinks:
      - id: out
        input: ${windowId}
        kafka: { topic: ${job.output} }
`;
}

/** Creates the topics and the manifest of a count job. */
export async function createCountJob(admin: Admin, partitions = 12): Promise<CountJob> {
  const name = uniqueName("counts").replace(/[^a-z0-9-]/g, "");
  const input = `${name}-in`;
  const output = `${name}-out`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: input, numPartitions: partitions },
      { topic: output, numPartitions: 3 },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), "runnel-dist-"));
  const manifest = join(dir, "job.yaml");
  writeFileSync(manifest, countManifest({ name, input, output, partitions }));
  return { name, dir, manifest, input, output, partitions, reference: new Map(), produced: 0 };
}

/**
 * Produces `count` more input records (user u<i mod users>, ts increasing 5 ms per record,
 * partition i mod partitions) and adds them to the reference. Event time only grows within a
 * partition, so with 2 s out-of-orderness no record is ever late: the output is a function of
 * the input alone.
 */
export async function produce(kafka: Kafka, job: CountJob, count: number, users = 40): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = [];
  for (let j = 0; j < count; j++) {
    const i = job.produced + j;
    const user = `u${i % users}`;
    const ts = T0 + i * 5;
    const n = i % 7;
    messages.push({ partition: i % job.partitions, value: JSON.stringify({ user, ts, n }) });
    const k = `${user}@${Math.floor(ts / 1000) * 1000}`;
    const r = job.reference.get(k) ?? { events: 0, total: 0, first: i, last: i, maxN: n, minN: n };
    r.events++;
    r.last = i;
    r.total += n;
    r.maxN = Math.max(r.maxN, n);
    r.minN = Math.min(r.minN, n);
    job.reference.set(k, r);
  }
  job.produced += count;
  await producer.send({ topic: job.input, messages });
  await producer.disconnect();
}

/** One record per partition far ahead in event time: every window of the real input closes. */
export async function produceFlush(kafka: Kafka, job: CountJob): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const ts = T0 + job.produced * 5 + 600_000;
  await producer.send({
    topic: job.input,
    messages: Array.from({ length: job.partitions }, (_, p) => ({ partition: p, value: JSON.stringify({ user: "flush", ts, n: 0 }) })),
  });
  await producer.disconnect();
}

/** A worker process. */
export interface WorkerProcess {
  ordinal: number;
  child: ChildProcess;
  exited: Promise<number | null>;
  log: string;
}

/** Starts `runnel worker` for the job (its own state folder per ordinal unless given). */
export function startWorker(
  job: Pick<CountJob, "dir" | "manifest">,
  ordinal: number,
  workers: number,
  opts: { stateDir?: string; extraArgs?: string[]; manifest?: string; env?: Record<string, string> } = {},
): WorkerProcess {
  const logs = join(job.dir, "logs");
  mkdirSync(logs, { recursive: true });
  const log = join(logs, `w${ordinal}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}.log`);
  const out = createWriteStream(log);
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "worker",
      "--job",
      opts.manifest ?? job.manifest,
      "--ordinal",
      String(ordinal),
      "--workers",
      String(workers),
      "--namespace",
      "test",
      "--state-dir",
      opts.stateDir ?? join(job.dir, `state-w${ordinal}`),
      ...(opts.extraArgs ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  return { ordinal, child, exited, log };
}

/** Kills a worker with SIGKILL and waits for it to be gone. */
export async function kill9(w: WorkerProcess): Promise<void> {
  w.child.kill("SIGKILL");
  await w.exited;
}

/** Stops a worker with SIGTERM (final checkpoint) and returns its exit code. */
export async function stopGracefully(w: WorkerProcess): Promise<number | null> {
  w.child.kill("SIGTERM");
  return w.exited;
}

/** The last lines of a worker's log (for failure messages). */
export function logTail(w: WorkerProcess, lines = 15): string {
  try {
    return readFileSync(w.log, "utf8")
      .split("\n")
      .filter((l) => !/coordinator|GroupCoordinator|TimeoutNegative|Timeout duration|trace-warnings/.test(l))
      .slice(-lines)
      .join("\n");
  } catch {
    return "(no log)";
  }
}

/** Every record of a topic read_committed so far, with Runnel's own read-committed filtering (kafkajs's own can leak aborted records). */
export class CommittedRecords {
  private consumer: Consumer | undefined;
  private readonly onRecord: (value: string, partition: number) => void;

  constructor(onRecord: (value: string, partition: number) => void) {
    this.onRecord = onRecord;
  }

  /** Starts reading `topic` from the beginning. */
  async start(kafka: Kafka, topic: string): Promise<void> {
    this.consumer = kafka.consumer({ groupId: uniqueName("verify"), readUncommitted: false });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    const filters = new Map<number, CommittedFilter>();
    await this.consumer.run({
      eachBatch: async ({ batch }) => {
        const filter = filters.get(batch.partition) ?? new CommittedFilter();
        filters.set(batch.partition, filter);
        for (const message of filter.accept(rawMessages(batch))) this.onRecord(String(message.value), batch.partition);
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** Everything read_committed from the output so far, by `user@windowStart` (duplicates counted). */
export class OutputReader {
  readonly seen = new Map<string, WindowCount>();
  duplicates: string[] = [];
  private readonly records = new CommittedRecords((value) => {
    const r = JSON.parse(value) as { key: string; windowStart: number } & WindowCount;
    if (r.key === "flush") return;
    const k = `${r.key}@${r.windowStart}`;
    if (this.seen.has(k)) this.duplicates.push(k);
    this.seen.set(k, { events: r.events, total: r.total });
  });

  /** Starts reading the job's output from the beginning. */
  async start(kafka: Kafka, job: CountJob): Promise<void> {
    await this.records.start(kafka, job.output);
  }

  /** Waits until every expected window arrived (or the deadline), then a little longer for duplicates. */
  async waitFor(job: CountJob, timeoutMs: number, progress?: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.seen.size < job.reference.size) {
      if (Date.now() > deadline)
        throw new Error(`only ${this.seen.size} of ${job.reference.size} windows after ${timeoutMs} ms${progress ? `\n${progress()}` : ""}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 1500));
  }

  /** Waits until at least `count` windows arrived. */
  async waitForCount(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.seen.size < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.seen.size} windows after ${timeoutMs} ms, expected at least ${count}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Expected windows missing or wrong (empty when the output equals the reference). */
  mismatches(job: CountJob): string[] {
    const bad: string[] = [];
    for (const [k, v] of job.reference) {
      const g = this.seen.get(k);
      if (!g) bad.push(`${k}: missing`);
      else if (g.events !== v.events || g.total !== v.total) bad.push(`${k}: got ${JSON.stringify(g)}, expected ${JSON.stringify(v)}`);
    }
    for (const k of this.seen.keys()) if (!job.reference.has(k)) bad.push(`${k}: not expected`);
    return bad;
  }

  async stop(): Promise<void> {
    await this.records.stop();
  }
}

/** Waits for a worker's admin URL in its log (it starts with --admin 127.0.0.1:0). */
export async function adminUrl(w: WorkerProcess, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(w.log, "utf8");
    } catch {
      // not created yet
    }
    const m = /admin API on (http:\/\/[^\s]+)/.exec(text);
    if (m) return m[1] as string;
    if (Date.now() > deadline) throw new Error(`worker ${w.ordinal} did not report its admin API:\n${logTail(w)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A job name for a test: unique, and valid as a Kubernetes name and a Kafka topic stem. */
export function testJobName(prefix: string): string {
  return uniqueName(prefix).replace(/[^a-z0-9-]/g, "");
}

/**
 * Writes a StreamJob manifest for the test broker into a fresh folder: `pipeline` is the YAML under
 * `spec.pipeline` (indented four spaces), checkpoints every 200 ms.
 */
export function writeJobManifest(name: string, options: { parallelism: number; pipeline: string }): { dir: string; manifest: string } {
  const dir = mkdtempSync(join(tmpdir(), `runnel-${name.slice(0, 8)}-`));
  const manifest = join(dir, "job.yaml");
  writeFileSync(
    manifest,
    `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: ${name} }
spec:
  parallelism: ${options.parallelism}
  kafka: { bootstrapServers: [${testEnv().kafkaBrokers.join(", ")}] }
  checkpoint: { interval: 200ms }
  pipeline:
${options.pipeline}`,
  );
  return { dir, manifest };
}
