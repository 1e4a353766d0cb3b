/**
 * Exactly-once end-to-end latency on Kafka: the filter job of bench/kafka.ts in a `runnel worker`
 * process, fed in real time (records/s in 10 ms slices, each stamped with the moment it was sent),
 * its output read committed by a reader polling all along. Latency of a record = when the reader
 * got it − its send time. Run at several checkpoint intervals; the first tenth of each run is
 * warm-up. Every run is checked: each record the filter keeps arrives exactly once, no other does.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKafkaClient, readCommitted, type KafkaClient, type OutgoingMessage } from "../runtime/kafka/index.ts";
import { jobPrefix } from "../runtime/distributed/topics.ts";
import { cleanup, KEEP_BENCH_DATA, manifest } from "./kafka.ts";
import { percentile, startWorker } from "./worker-process.ts";

/** One run at one checkpoint interval. */
export interface EoLatencyRow {
  checkpointMs: number;
  rate: number;
  /** Output records measured (after the warm-up). */
  records: number;
  p50: number;
  p99: number;
  max: number;
  /** Every kept record arrived exactly once, and nothing else did. */
  verified: boolean;
}

const PARTITIONS = 4;
const SLICE_MS = 10;

/** Sends `rate` records/s for `seconds` in 10 ms slices; returns the sequence numbers the filter keeps. */
async function feed(kafka: KafkaClient, topic: string, rate: number, seconds: number): Promise<Set<number>> {
  const producer = kafka.producer();
  await producer.connect();
  const kept = new Set<number>();
  try {
    const start = Date.now();
    let n = 0;
    for (let slice = 1; slice <= (seconds * 1000) / SLICE_MS; slice++) {
      const due = Math.round((rate * slice * SLICE_MS) / 1000);
      const messages: OutgoingMessage[] = [];
      const now = Date.now();
      for (; n < due; n++) {
        if (n % 7 !== 0) kept.add(n);
        messages.push({ key: `u${n % 100}`, value: JSON.stringify({ user: `u${n % 100}`, ts: now, n }), timestamp: String(now) });
      }
      await producer.send(topic, messages);
      const wait = start + slice * SLICE_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    await producer.disconnect();
  }
  return kept;
}

/** One run: a fresh job on fresh topics with checkpoints every `checkpointMs`. */
async function latencyRun(brokers: string[], rate: number, seconds: number, checkpointMs: number): Promise<EoLatencyRow> {
  const name = `eo-latency-${checkpointMs}-${Date.now().toString(36)}`;
  const [input, output] = [`bench.${name}.in`, `bench.${name}.out`];
  const kafka = createKafkaClient({ brokers, clientId: "runnel-bench-latency" }, { logLevel: "error" });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics([input, output].map((topic) => ({ topic, partitions: PARTITIONS, replicationFactor: 1, configs: KEEP_BENCH_DATA })));
  } finally {
    await admin.disconnect();
  }
  const dir = mkdtempSync(join(tmpdir(), "runnel-bench-eo-latency-"));
  const file = join(dir, "job.yaml");
  writeFileSync(
    file,
    manifest({ name, brokers, input, output, partitions: PARTITIONS, stateful: false, checkpoint: { interval: `${checkpointMs}ms`, mode: "exactly-once" } }),
  );
  const worker = startWorker(file, dir);
  const arrivals = new Map<number, number[]>();
  const reader = await readCommitted({
    brokers,
    topic: output,
    startFrom: "earliest",
    eachBatch: (records) => {
      const now = Date.now();
      for (const r of records) {
        const n = (JSON.parse(String(r.value)) as { n: number }).n;
        const seen = arrivals.get(n) ?? [];
        seen.push(now - Number(r.timestamp));
        arrivals.set(n, seen);
      }
    },
  });
  try {
    await worker.waitForLog(/running tasks/, 120_000);
    const kept = await feed(kafka, input, rate, seconds);
    const deadline = Date.now() + 60_000;
    while (arrivals.size < kept.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const verified = arrivals.size === kept.size && [...arrivals].every(([n, seen]) => kept.has(n) && seen.length === 1);
    const warmUp = Math.floor((rate * seconds) / 10);
    const latencies = [...arrivals].flatMap(([n, seen]) => (n >= warmUp ? seen : [])).sort((a, b) => a - b);
    return {
      checkpointMs,
      rate,
      records: latencies.length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
      verified,
    };
  } finally {
    await reader.stop().catch(() => undefined);
    await worker.stop();
    await cleanup(kafka, [jobPrefix("bench", name)], [input, output], []).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Exactly-once latency of the filter job at each checkpoint interval, `rate` records/s for `seconds` each. */
export async function eoLatency(options: {
  brokers: string[];
  rate: number;
  seconds: number;
  intervals: number[];
  log?: (line: string) => void;
}): Promise<EoLatencyRow[]> {
  const log = options.log ?? ((line: string): void => console.log(line));
  const rows: EoLatencyRow[] = [];
  for (const ms of options.intervals) {
    const row = await latencyRun(options.brokers, options.rate, options.seconds, ms);
    log(
      `kafka exactly-once latency, ${ms} ms checkpoints: p50 ${row.p50} ms, p99 ${row.p99} ms over ${row.records} records (${row.verified ? "verified" : "NOT verified"})`,
    );
    rows.push(row);
  }
  return rows;
}

/** The Markdown part of docs/benchmarks.md for `rows`. */
export function eoLatencyTable(rows: EoLatencyRow[], seconds: number): string {
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  const lines = rows.map((r) => {
    const bound = r.checkpointMs + 100;
    return `| ${fmt(r.checkpointMs)} | ${fmt(r.rate)} | ${fmt(r.records)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.verified ? "yes" : "**no**"} | p99 ≤ ${fmt(bound)} ms: ${r.p99 <= bound ? "met" : "**missed**"} |`;
  });
  return `Exactly-once end-to-end latency (bench/kafka-latency.ts): the filter job above in its own
\`runnel worker\` process (4 tasks), fed in real time for ${seconds} s per row in 10 ms slices, each record
stamped with the moment it was sent; a read-committed reader polling all along takes the output.
Latency = when the reader got a record − its send time; the first tenth of each run is warm-up. Every
record the filter keeps arrived exactly once and nothing else did ("verified"). Target: p99 within
the checkpoint interval + 100 ms.

Where the time beyond the interval went, found by timing each stage of a checkpoint (2026-12-06):
kafkajs looked the coordinator up before every transactional request (four of a checkpoint's nine
round trips; now remembered, ADR 30), the first send after a commit waited out kafkajs's 300 ms
retry of the broker's CONCURRENT_TRANSACTIONS answer (now 20 ms, as Kafka's Java client), and the
worker stood still while each checkpoint committed (now rounds go on and their output waits for the
next transaction, ADR 29). Without the 20 ms retries this job's p99 at 200 ms was 506–648 ms.

| checkpoint ms | records/s | records | p50 ms | p99 ms | max ms | verified | target |
|---:|---:|---:|---:|---:|---:|---|---|
${lines.join("\n")}
`;
}
