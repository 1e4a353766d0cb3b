/**
 * The distributed runtime against a real Kafka broker, side by side in one run: a hand-written
 * consume → filter → produce loop on Runnel's Kafka adapter (the client every Runnel job uses), at
 * least once and exactly once (a transaction per batch),
 * the same job as a StreamJob on one in-process worker (at least once, then exactly once, then on 2
 * threads: kafka-threads.ts), and a stateful job (keyBy + 1 s tumbling count, through its
 * repartition topic; on 1 and on 2 threads). All seven read the same
 * preloaded input topic from the beginning, each into its own output topic, read back committed
 * and checked against the input (kafka-check.ts); the benchmark's topics and groups are deleted at the end.
 * `npx node bench/kafka.ts [--brokers host:port] [--events N] [--runs N] [--only loop,loop-eo,alo,eo,eo-2t,window,window-2t] [--keep]` (`--keep`: a failed check leaves its topics and state to inspect) runs it alone; bench/main.ts runs it
 * as part of `npm run bench` when a broker is reachable.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readEnvInfo } from "../test/env/lib/layout.ts";
import { createKafkaClient, readCommitted, type KafkaClient, type OutgoingMessage } from "../runtime/kafka/index.ts";
import { createWorker } from "../runtime/distributed/worker.ts";
import type { Delivery } from "../runtime/distributed/transactions.ts";
import { jobPrefix } from "../runtime/distributed/topics.ts";
import { checkOutput, click, lastWatermark, type Click } from "./kafka-check.ts";
import { threadedJob } from "./kafka-threads.ts";
import { spreadOf, type Spread } from "./spread.ts";

/** One measured pipeline. */
export interface KafkaBenchRow {
  name: string;
  /** Input records / seconds from the first record read until all were read and the output committed. */
  rate: number;
  seconds: number;
  /** From the start (clients, topics, group join, producers) to the first record read. */
  startupSeconds: number;
  /** From the end (output committed) until every client was closed. */
  shutdownSeconds: number;
  /** Records written to the output topic. */
  out: number;
  /** Checkpoints (Runnel) or batches handled (the loop) during the run. */
  commits: number;
  /** The output read back committed against the reference (kafka-check.ts). */
  checked?: string;
  /** With several runs: the median rate and its spread (rate is the median). */
  spread?: Spread;
}

/** Results of a Kafka benchmark run. */
export interface KafkaBenchResult {
  events: number;
  partitions: number;
  /** Records the filter keeps (the expected output of the stateless jobs). */
  expectedFiltered: number;
  preloadSeconds: number;
  /** Runs of each row. */
  runs: number;
  rows: KafkaBenchRow[];
}

/** The checkpoint interval of the Runnel jobs. */
export const CHECKPOINT_MS = 1000;

/**
 * Configs of the benchmark's own topics: no time-based retention. The jobs write each record with
 * its event time as its Kafka timestamp, and the clicks' event times start at T0 (2026-01-01), older
 * than the broker's retention (7 days by default): its retention check (every 5 minutes) deleted
 * an output topic's first segment during a run, twice, and the read-back came up short.
 */
export const KEEP_BENCH_DATA = { "retention.ms": "-1" };

/** Brokers from a --kafka flag (host:port,…), else from the test environment (test/env/up, on RUNNEL_TESTENV_SLOT) when it is up. */
export async function benchBrokers(flag: string | undefined): Promise<string[] | undefined> {
  if (flag !== undefined) return flag.split(",");
  return readEnvInfo()?.kafkaBrokers;
}

/** The first of `brokers` answers a TCP connect within `timeoutMs`. */
export async function brokerReachable(brokers: string[], timeoutMs = 2000): Promise<boolean> {
  const [host, port] = (brokers[0] ?? "").split(":");
  if (!host || !port) return false;
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port), timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}

/** Writes `events` clicks round-robin over the partitions, keyed by user; returns how many the filter keeps. */
async function preload(kafka: KafkaClient, topic: string, events: number, partitions: number): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  let kept = 0;
  const CHUNK = 20_000;
  for (let start = 0; start < events; start += CHUNK) {
    const messages: OutgoingMessage[] = [];
    for (let i = start; i < Math.min(events, start + CHUNK); i++) {
      const c = click(i);
      if (c.n % 7 !== 0) kept++;
      // Event time grows within each partition, so the windowed job never sees a late record.
      messages.push({ partition: i % partitions, key: c.user, value: JSON.stringify(c) });
    }
    await producer.send(topic, messages);
  }
  await producer.disconnect();
  return kept;
}

/**
 * The baseline: the adapter's committed reader → parse → filter → add a field → a producer.
 * At least once: the idempotent producer awaited per batch, positions committed to a group every
 * second. Exactly once (Kafka's consume-transform-produce loop): each batch in one transaction of
 * the transactional producer with the batch's input position (sendOffsets), committed per batch.
 */
async function handWritten(
  kafka: KafkaClient,
  o: { brokers: string[]; input: string; output: string; events: number; group: string; delivery: Delivery },
): Promise<KafkaBenchRow> {
  const { brokers, input, output, events, group } = o;
  const exactlyOnce = o.delivery === "exactly-once";
  const t0 = performance.now();
  const producer = exactlyOnce ? kafka.transactionalProducer({ transactionalId: `${group}.tx`, transactionTimeoutMs: 60_000 }) : kafka.producer();
  await producer.connect();
  let first = 0;
  let out = 0;
  let batches = 0;
  let handled = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const reader = await readCommitted({
    brokers,
    topic: input,
    // Exactly once, the positions go in the transactions: the reader commits none of its own.
    ...(exactlyOnce ? {} : { groupId: group }),
    eachBatch: async (records, partition) => {
      if (first === 0) first = performance.now();
      const messages: OutgoingMessage[] = [];
      for (const m of records) {
        const r = JSON.parse(String(m.value)) as Click;
        if (r.n % 7 === 0) continue;
        messages.push({ key: m.key, value: JSON.stringify({ ...r, big: r.n > 3 }) });
      }
      if (messages.length > 0) await producer.send(output, messages);
      if ("commit" in producer) {
        await producer.sendOffsets(group, [{ topic: input, partition, offset: (records.at(-1)?.offset ?? -1) + 1 }]);
        await producer.commit();
      }
      out += messages.length;
      batches++;
      handled += records.length;
      if (handled >= events) resolveDone();
    },
  });
  await Promise.race([done, reader.failed]);
  const end = performance.now();
  await reader.stop();
  await producer.disconnect();
  const seconds = (end - first) / 1000;
  return {
    name: exactlyOnce ? "hand-written loop, exactly once (a transaction per batch)" : "hand-written loop",
    rate: events / seconds,
    seconds,
    startupSeconds: (first - t0) / 1000,
    shutdownSeconds: (performance.now() - end) / 1000,
    out,
    commits: batches,
  };
}

/** What a benchmark job reads and writes. */
interface BenchJob {
  name: string;
  brokers: string[];
  input: string;
  output: string;
  partitions: number;
  /** The keyed 1 s tumbling count, else the stateless filter. */
  stateful: boolean;
}

/** A StreamJob manifest: the stateless filter job, or the keyed 1 s tumbling count (`checkpoint`: spec.checkpoint, else the defaults). */
export function manifest(o: BenchJob & { checkpoint?: { interval: string; mode: Delivery } }): string {
  const steps = o.stateful
    ? `      - id: by-user
        input: clicks
        keyBy: { key: record.user }
      - id: result
        input: by-user
        window:
          type: tumbling
          size: 1s
          aggregations:
            - { name: events, fn: count }
`
    : `      - id: keep
        input: clicks
        filter: { condition: "int(record.n) % 7 != 0" }
      - id: result
        input: keep
        project: { fields: { big: "record.n > 3.0" }, keep: true }
`;
  return `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: ${o.name} }
spec:
  parallelism: ${o.partitions}
  kafka: { bootstrapServers: [${o.brokers.join(", ")}] }
${o.checkpoint ? `  checkpoint: { interval: ${o.checkpoint.interval}, mode: ${o.checkpoint.mode} }\n` : ""}  pipeline:
    sources:
      - id: clicks
        kafka: { topic: ${o.input}, partitions: ${o.partitions} }
        timestamp: { field: ts }
        watermark: { outOfOrderness: 2s }
    steps:
${steps}    sinks:
      - id: out
        input: result
        kafka: { topic: ${o.output} }
`;
}

/** Writes the job's manifest into `dir`; returns its path. */
async function writeManifest(dir: string, o: BenchJob): Promise<string> {
  const file = join(dir, `${o.name}.yaml`);
  await writeFile(file, manifest(o));
  return file;
}

/** What a benchmark's stop condition sees of a running job. */
export interface JobProgress {
  recordsIn: number;
  /** The lowest watermark of the job's sinks (on threads: of all threads). */
  watermark: number;
}

/**
 * Whether a job is through `events` preloaded records: the filter job has read them all; the keyed
 * job's output sinks have the watermark the input ends at, so every record and partial that
 * crossed its repartition topic before it was read (markers follow records).
 */
export function doneWith(stateful: boolean, events: number, partitions: number): (p: JobProgress) => boolean {
  const last = lastWatermark(events, partitions);
  return stateful ? (p) => p.watermark >= last : (p) => p.recordsIn >= events;
}

/**
 * Runs a StreamJob on one in-process worker until `done` says so, then stops it (final
 * checkpoint: with exactly once, the last transaction commits) and times it.
 */
async function runnelJob(
  o: BenchJob & {
    label: string;
    delivery: Delivery;
    dir: string;
    done: (p: JobProgress) => boolean;
    events: number;
  },
): Promise<KafkaBenchRow> {
  const file = await writeManifest(o.dir, o);
  const t0 = performance.now();
  const worker = await createWorker({
    manifest: file,
    ordinal: 0,
    workers: 1,
    namespace: "bench",
    stateDir: join(o.dir, o.name),
    delivery: o.delivery,
    checkpointIntervalMs: CHECKPOINT_MS,
  });
  let first = 0;
  let checkpoints = 0;
  let lastCheckpointAt = 0;
  // The engine runs on this thread: the poll sees the counters between its awaits (a few ms apart).
  const poll = setInterval(() => {
    const p = worker.engine.progress();
    if (first === 0 && p.recordsIn > 0) first = performance.now();
    if (p.checkpoints !== checkpoints) {
      checkpoints = p.checkpoints;
      lastCheckpointAt = performance.now();
    }
    if (o.done(p)) worker.stop();
  }, 5);
  try {
    const progress = await worker.run();
    // The run ends at its final checkpoint (the last one): closing clients afterwards is not timed,
    // as the loop's disconnect is not.
    const end = progress.checkpoints === checkpoints ? lastCheckpointAt : performance.now();
    const seconds = (end - first) / 1000;
    // The keyed job's repartitioned records count as written too: its output is counted when read back (checkOutput).
    const out = o.stateful ? 0 : progress.recordsOut;
    return {
      name: o.label,
      rate: o.events / seconds,
      seconds,
      startupSeconds: (first - t0) / 1000,
      shutdownSeconds: (performance.now() - end) / 1000,
      out,
      commits: progress.checkpoints,
    };
  } finally {
    clearInterval(poll);
  }
}

/** Deletes every topic named `prefix…` or listed, and the consumer groups named. */
export async function cleanup(kafka: KafkaClient, prefixes: string[], topics: string[], groups: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const all = await admin.listTopics();
    const doomed = all.filter((t) => topics.includes(t) || prefixes.some((p) => t.startsWith(`${p}.`)));
    if (doomed.length > 0) await admin.deleteTopics(doomed);
    const existing = await admin.listGroups();
    const doomedGroups = existing.filter((g) => groups.some((x) => g === x || g.startsWith(`${x}.`)) || prefixes.some((p) => g === p || g.startsWith(`${p}.`)));
    await admin.deleteGroups(doomedGroups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** Preloads `events` records on fresh topics, times the four pipelines one after another, cleans up. */
export async function kafkaBench(options: {
  brokers: string[];
  events: number;
  partitions?: number;
  only?: string[];
  /** Runs of each row (default 1): each row's median and spread. */
  runs?: number;
  /** Leaves the topics, groups and state in place when a row's check fails (to inspect them). */
  keepOnFailure?: boolean;
  log?: (line: string) => void;
}): Promise<KafkaBenchResult> {
  const { brokers, events } = options;
  const partitions = options.partitions ?? 12;
  const log = options.log ?? ((line: string): void => console.log(line));
  const runs = options.runs ?? 1;
  const kafka = createKafkaClient({ brokers, clientId: "runnel-bench" }, { logLevel: "error" });
  const run = `k${Date.now().toString(36)}`;
  const input = `bench.${run}.in`;
  // --only (e.g. for `node --cpu-prof`) runs a subset: loop, loop-eo, alo, eo, eo-2t, window, window-2t.
  const want = (name: string): boolean => options.only === undefined || options.only.includes(name);
  const kinds = (["loop", "loop-eo", "alo", "eo", "eo-2t", "window", "window-2t"] as const).filter(want);
  // Every run of every row writes its own output topic (and a Runnel job its own state and group).
  const outputOf = (kind: string, r: number): string => `bench.${run}.out-${kind}-${r}`;
  const jobOf = (kind: string, r: number): string => `${run}-${kind}-${r}`;
  const groupOf = (kind: string, r: number): string => `bench.${run}.${kind}-${r}`;
  const all = Array.from({ length: runs }, (_, r) => kinds.map((kind) => ({ kind, r }))).flat();
  const prefixes = all.map(({ kind, r }) => jobPrefix("bench", jobOf(kind, r)));
  const outputs = all.map(({ kind, r }) => outputOf(kind, r));
  const groups = all.map(({ kind, r }) => groupOf(kind, r));
  const dir = await mkdtemp(join(tmpdir(), "runnel-bench-kafka-"));
  let keep = false;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics([input, ...outputs].map((topic) => ({ topic, partitions, replicationFactor: 1, configs: KEEP_BENCH_DATA })));
  } finally {
    await admin.disconnect();
  }
  try {
    const p0 = performance.now();
    const expectedFiltered = await preload(kafka, input, events, partitions);
    const preloadSeconds = (performance.now() - p0) / 1000;
    log(`kafka: preloaded ${events.toLocaleString("en-US")} records in ${preloadSeconds.toFixed(1)} s`);
    const measured = new Map<string, KafkaBenchRow[]>();
    const common = { brokers, input, partitions, dir, events };
    /** One run of one row, its output read back and checked (not timed). */
    const once = async (kind: (typeof kinds)[number], r: number): Promise<KafkaBenchRow> => {
      const output = outputOf(kind, r);
      const stateful = kind === "window" || kind === "window-2t";
      const row =
        kind === "loop" || kind === "loop-eo"
          ? await handWritten(kafka, { brokers, input, output, events, group: groupOf(kind, r), delivery: kind === "loop" ? "at-least-once" : "exactly-once" })
          : kind === "eo-2t" || kind === "window-2t"
            ? await threadedJob({
                label: stateful ? "Runnel keyBy + 1 s window count, exactly once, 2 threads" : "Runnel filter, exactly once, 2 threads",
                manifest: await writeManifest(dir, { ...common, name: jobOf(kind, r), output, stateful }),
                stateDir: join(dir, jobOf(kind, r)),
                threads: 2,
                delivery: "exactly-once",
                checkpointIntervalMs: CHECKPOINT_MS,
                done: doneWith(stateful, events, partitions),
                events,
                repartitioned: stateful,
              })
            : await runnelJob({
                ...common,
                label: { alo: "Runnel filter, at least once", eo: "Runnel filter, exactly once", window: "Runnel keyBy + 1 s window count, exactly once" }[
                  kind
                ],
                name: jobOf(kind, r),
                output,
                stateful: kind === "window",
                delivery: kind === "alo" ? "at-least-once" : "exactly-once",
                done: doneWith(kind === "window", events, partitions),
              });
      try {
        const checked = await checkOutput(kafka, brokers, output, stateful ? "window" : "filter", events, stateful ? undefined : row.out);
        row.checked = checked.verdict;
        row.out = checked.records;
      } catch (err) {
        keep = options.keepOnFailure === true;
        if (keep) log(`kafka: kept the topics of run ${run} (output ${output}) and the state under ${dir}`);
        throw err;
      }
      log(
        `kafka ${row.name} (run ${r + 1}): ${Math.round(row.rate).toLocaleString("en-US")} events/s (${row.seconds.toFixed(1)} s, startup ${row.startupSeconds.toFixed(1)} s, shutdown ${row.shutdownSeconds.toFixed(1)} s, ${row.out.toLocaleString("en-US")} out, ${row.commits} commits; output ${row.checked})`,
      );
      return row;
    };
    // Rows alternate within each round, so a change in the machine's load hits every row alike.
    for (let r = 0; r < runs; r++) {
      for (const kind of kinds) {
        const list = measured.get(kind) ?? [];
        list.push(await once(kind, r));
        measured.set(kind, list);
      }
    }
    // Each row: the run with the median rate, with the spread of all runs.
    const rows = kinds.map((kind): KafkaBenchRow => {
      const list = [...(measured.get(kind) ?? [])].sort((x, y) => x.rate - y.rate);
      const median = list[Math.floor(list.length / 2)] as KafkaBenchRow;
      return { ...median, rate: spreadOf(list.map((x) => x.rate)).median, spread: spreadOf(list.map((x) => x.rate)) };
    });
    return { events, partitions, expectedFiltered, preloadSeconds, runs, rows };
  } finally {
    if (!keep) {
      await cleanup(kafka, prefixes, [input, ...outputs], groups).catch((err: unknown) => log(`kafka: cleanup failed: ${String(err)}`));
      await rm(dir, { recursive: true, force: true });
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      brokers: { type: "string", default: "127.0.0.1:19092" },
      events: { type: "string", default: "300000" },
      only: { type: "string" },
      runs: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
    },
  });
  await kafkaBench({
    brokers: values.brokers.split(","),
    events: Number(values.events),
    runs: Number(values.runs),
    keepOnFailure: values.keep,
    ...(values.only === undefined ? {} : { only: values.only.split(",") }),
  });
}
