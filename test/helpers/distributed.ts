/**
 * Distributed-job test helpers: a windowed count job on fresh topics, its input with a reference
 * of every expected output, worker processes (worker-process.ts, re-exported here) that can be
 * killed with SIGKILL and restarted, and two read_committed checks of the output against the reference
 * (window-output.ts, re-exported here): one while the job runs (with Runnel's own read-committed
 * filtering) and one independent of Runnel once it stopped (`javaCheck`: Kafka's own Java consumer,
 * the ground truth for a Java or Flink downstream). Waits poll
 * observable state (test/helpers/wait.ts), never a fixed time.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Admin, Kafka } from "kafkajs";
import { type SavepointAccepted, type SavepointRequest, type SavepointStatusBody } from "../../runtime/worker-contract.ts";
import { testEnv, uniqueName } from "./env.ts";
import { inputProducer, KEEP_TEST_DATA } from "./kafka.ts";

export * from "./window-output.ts";
export * from "./worker-process.ts";

/** Event time of the first input record. */
export const T0 = Date.UTC(2026, 0, 1);

/** One expected (or seen) window result (a job computes `total`, or `maxN` and `minN`: CountJob.compared). */
export interface WindowCount {
  events: number;
  total?: number;
  maxN?: number;
  minN?: number;
}

/** What the reference knows of a window beyond its counts: its first and last records' indexes, and the largest and smallest n. */
export interface WindowReference extends WindowCount {
  total: number;
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
  /** The job's savepoint root (spec.savepoint.storage.path): admin requests name savepoints under it. */
  savepointRoot: string;
  /** Expected results by `user@windowStart`, filled by produce(). */
  reference: Map<string, WindowReference>;
  /** Records produced so far. */
  produced: number;
  /** Distinct users the input cycles through (the job's keys). */
  users: number;
  /** The window results checked beside `events`. */
  compared: Compared[];
}

/** Window results a count job may compute beside its count. */
export type Compared = "total" | "maxN" | "minN";

/**
 * Aggregations whose merge is exact (count, max, min): the window is pre-aggregated before its
 * keyBy (ADR 40), so partials cross the repartition topic. The default count job sums, and sums are not.
 */
export const EXACT_AGGREGATIONS = ["{ name: maxN, fn: max, of: record.n }", "{ name: minN, fn: min, of: record.n }"];

/**
 * The manifest of the count job: keyBy user, 1 s tumbling windows counting events and summing n
 * (`windowSize` and `moreAggregations`, YAML flow items such as `{ name: maxN, fn: max, of: record.n }`, change the window).
 */
export function countManifest(job: {
  name: string;
  input: string;
  output: string;
  partitions: number;
  savepointRoot?: string;
  extraSteps?: string;
  windowStepId?: string;
  windowSize?: string;
  moreAggregations?: string[];
  /** Leave out the sum (`total`): with moreAggregations EXACT_AGGREGATIONS, a window that is pre-aggregated. */
  withoutSum?: boolean;
  /** spec.stateCache.entries (a small cache makes every round evict). */
  stateCacheEntries?: number;
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
${job.stateCacheEntries === undefined ? "" : `  stateCache: { entries: ${job.stateCacheEntries} }\n`}${job.savepointRoot === undefined ? "" : `  savepoint: { storage: { path: ${job.savepointRoot} } }\n`}  pipeline:
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
${job.withoutSum === true ? "" : "            - { name: total, fn: sum, of: record.n }\n"}${more}${job.extraSteps ?? ""}    sinks:
      - id: out
        input: ${windowId}
        kafka: { topic: ${job.output} }
`;
}

/** Creates the topics and the manifest of a count job. */
export async function createCountJob(
  admin: Admin,
  partitions = 12,
  options: { stateCacheEntries?: number; users?: number; preAggregated?: boolean } = {},
): Promise<CountJob> {
  const name = uniqueName("counts").replace(/[^a-z0-9-]/g, "");
  const input = `${name}-in`;
  const output = `${name}-out`;
  // Records carry event times of T0 (long past): KEEP_TEST_DATA keeps retention from deleting them.
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: input, numPartitions: partitions, configEntries: KEEP_TEST_DATA },
      { topic: output, numPartitions: 3, configEntries: KEEP_TEST_DATA },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), "runnel-dist-"));
  const manifest = join(dir, "job.yaml");
  const savepointRoot = join(dir, "savepoints");
  const cache = options.stateCacheEntries === undefined ? {} : { stateCacheEntries: options.stateCacheEntries };
  const exact = options.preAggregated === true ? { withoutSum: true, moreAggregations: EXACT_AGGREGATIONS } : {};
  writeFileSync(manifest, countManifest({ name, input, output, partitions, savepointRoot, ...cache, ...exact }));
  const compared: Compared[] = options.preAggregated === true ? ["maxN", "minN"] : ["total"];
  return { name, dir, manifest, input, output, partitions, savepointRoot, reference: new Map(), produced: 0, users: options.users ?? 40, compared };
}

/**
 * Produces `count` more input records (user u<i mod users>, ts increasing 5 ms per record,
 * partition i mod partitions) and adds them to the reference. Event time only grows within a
 * partition, so with 2 s out-of-orderness no record is ever late: the output is a function of
 * the input alone.
 */
export async function produce(kafka: Kafka, job: CountJob, count: number, users = job.users): Promise<void> {
  const producer = inputProducer(kafka);
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

/** A running input feed: `stop()` ends it once the reference holds at least its minimum of windows. */
export interface InputFeed {
  stop(): Promise<void>;
}

/**
 * Produces 200 records every 100 ms until stopped, so kills land while records are in flight;
 * once stopped it goes on until the reference holds `minWindows` windows, so how much input a
 * test checks does not depend on how fast the machine ran the job.
 */
export function produceContinuously(kafka: Kafka, job: CountJob, minWindows = 0): InputFeed {
  let stopped = false;
  const loop = (async () => {
    while (!stopped || job.reference.size < minWindows) {
      await produce(kafka, job, 200);
      // Paces the feed (a producer's rhythm, not a wait for anything).
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** One record per partition far ahead in event time: every window of the real input closes. */
export async function produceFlush(kafka: Kafka, job: CountJob): Promise<void> {
  const producer = inputProducer(kafka);
  await producer.connect();
  const ts = T0 + job.produced * 5 + 600_000;
  await producer.send({
    topic: job.input,
    messages: Array.from({ length: job.partitions }, (_, p) => ({ partition: p, value: JSON.stringify({ user: "flush", ts, n: 0 }) })),
  });
  await producer.disconnect();
}

/** POSTs a savepoint request (`{"name": ...}`) to a worker's admin endpoint with the job's token; returns the accepted id. */
export async function requestSavepoint(url: string, token: string, body: SavepointRequest): Promise<string> {
  const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 202) throw new Error(`POST ${url} answered ${res.status}: ${text}`);
  return (JSON.parse(text) as SavepointAccepted).id;
}

/** Polls GET /savepoints/<id> until the savepoint leaves `pending`. */
export async function savepointOutcome(url: string, timeoutMs = 120_000): Promise<SavepointStatusBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await (await fetch(url)).json()) as SavepointStatusBody;
    if (status.state !== "pending") return status;
    if (Date.now() > deadline) throw new Error(`savepoint ${url} still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A job name for a test: unique, and valid as a Kubernetes name and a Kafka topic stem. */
export function testJobName(prefix: string): string {
  return uniqueName(prefix).replace(/[^a-z0-9-]/g, "");
}

/**
 * The pipeline (for writeJobManifest) of a rules job: orders keyed by user, judged by the first
 * rule of a broadcast rules topic whose CEL `condition` holds; out go `{seq, rule}` (unmatched
 * orders unchanged, without `rule`).
 */
export function rulesPipeline(topics: { orders: string; partitions: number; rules: string; output: string }): string {
  return `    sources:
      - id: orders
        kafka: { topic: ${topics.orders}, partitions: ${topics.partitions} }
      - id: rules
        mode: broadcast
        kafka: { topic: ${topics.rules} }
    steps:
      - id: by-user
        input: orders
        keyBy: { key: record.user }
      - id: decisions
        input: by-user
        broadcastRules:
          rules: rules
          ruleId: rule.id
          conditionField: condition
          match: first
          unmatched: pass # unmatched records go on unchanged (no rule field)
          emit:
            seq: record.seq
            rule: rule.id
    sinks:
      - id: out
        input: decisions
        kafka: { topic: ${topics.output} }
`;
}

/**
 * Writes a StreamJob manifest for the test broker into a fresh folder: `pipeline` is the YAML under
 * `spec.pipeline` (indented four spaces), checkpoints every 200 ms; with `savepoints`, the job's
 * savepoint root is `<folder>/savepoints` (`savepointRoot`).
 */
export function writeJobManifest(
  name: string,
  options: { parallelism: number; pipeline: string; savepoints?: boolean },
): { dir: string; manifest: string; savepointRoot: string } {
  const dir = mkdtempSync(join(tmpdir(), `runnel-${name.slice(0, 8)}-`));
  const manifest = join(dir, "job.yaml");
  const savepointRoot = join(dir, "savepoints");
  writeFileSync(
    manifest,
    `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: ${name} }
spec:
  parallelism: ${options.parallelism}
  kafka: { bootstrapServers: [${testEnv().kafkaBrokers.join(", ")}] }
  checkpoint: { interval: 200ms }
${options.savepoints === true ? `  savepoint: { storage: { path: ${savepointRoot} } }\n` : ""}  pipeline:
${options.pipeline}`,
  );
  return { dir, manifest, savepointRoot };
}
