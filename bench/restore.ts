/**
 * Restore at scale (`npm run bench:restore`): how fast keyed state comes back and how much memory
 * that takes, for a savepoint (chunked task files → LevelDB, the path of every restore from a
 * savepoint or local checkpoint) and, when a broker is reachable, a changelog replay (Kafka →
 * LevelDB, the path of every distributed restart). Each restore runs in a child process of its
 * own, so its peak RSS is the restore's alone; sizes run side by side to show memory does not
 * grow with the state. Options: --sizes 1000000,10000000 (keys), --kafka-sizes 1000000 (0: skip),
 * --value-bytes 96, --kafka host:port (default: the test environment's broker, if up), --no-write.
 * Results replace the "Restore at scale" section of docs/benchmarks.md.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { blackholeSink, collectionSource, job, type KeyedProcessFunction } from "../runtime/api/index.ts";
import { FORMAT_VERSION, writeSnapshot, type StoreEntry } from "../runtime/checkpoint/format.ts";
import { CHUNK_ENTRIES } from "../runtime/checkpoint/task-files.ts";
import { createKafkaClient } from "../runtime/kafka/index.ts";
import { replayChangelog, SENTINEL_KEY, TASK_META_KEY, type TaskMeta } from "../runtime/distributed/changelog.ts";
import { replayStores, TaskRestore } from "../runtime/distributed/task-restore.ts";
import { createEngine } from "../runtime/exec/engine.ts";
import { DEFAULT_MAX_CACHED_ENTRIES, KeyedStateBackend } from "../runtime/state/backend.ts";
import { encodeValue } from "../runtime/state/codec.ts";
import { levelStore } from "../runtime/state/store.ts";
import { systemClock } from "../runtime/time/clock.ts";
import { serialize } from "node:v8";
import { jsonFromChild } from "./child.ts";
import { benchBrokers, brokerReachable } from "./kafka.ts";
import { replaceSection } from "./sections.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000000,10000000" },
    "kafka-sizes": { type: "string", default: "1000000" },
    "value-bytes": { type: "string", default: "96" },
    kafka: { type: "string" },
    "no-write": { type: "boolean" },
    child: { type: "string" },
    dir: { type: "string" },
    topic: { type: "string" },
    keys: { type: "string" },
  },
});

/** The operator whose state is restored: one value per key. */
const UID = "profiles";
const STATE = "profile";

/**
 * The job restored into: one task, a keyed function with one value state (the entries' operator).
 * Its input touches the first `touch` keys once, so after the restore the job runs with its state
 * cache full: the memory a worker needs anyway, to compare the restore's with.
 */
function restoreJob(touch = 0) {
  const j = job("restore-bench");
  j.source(collectionSource<{ k: string }>({ partitions: [Array.from({ length: touch }, (_, i) => ({ k: `user-${i}` }))] }))
    .keyBy((r) => r.k)
    .process(
      (rt): KeyedProcessFunction<string, { k: string }, never> => {
        const profile = rt.valueState<{ visits: number }>({ name: STATE });
        return {
          processElement() {
            const p = profile.value();
            if (p) profile.update({ ...p, visits: p.visits + 1 });
          },
        };
      },
      { uid: UID },
    )
    .sink(blackholeSink());
  return j.build();
}

/** `count` entries of the restore job's state, in chunks: keys user-<i>, values of about `valueBytes`. */
async function* entries(count: number, valueBytes: number): AsyncGenerator<StoreEntry[]> {
  const pad = "x".repeat(Math.max(0, valueBytes - 40));
  const values = Array.from({ length: 16 }, (_, i) => encodeValue({ visits: i, amount: i * 1.5, tags: pad }));
  for (let i = 0; i < count; i += CHUNK_ENTRIES) {
    const chunk: StoreEntry[] = [];
    for (let j = i; j < Math.min(count, i + CHUNK_ENTRIES); j++) chunk.push([`${UID}\u0000${STATE}\u0000suser-${j}`, values[j % 16] as Uint8Array]);
    yield chunk;
  }
}

/** What a child process measured. */
interface Measured {
  entries: number;
  seconds: number;
  /** CPU seconds (user + system) of the restore: less sensitive than wall time to other load on the machine. */
  cpuSeconds: number;
  /** Resident set size before the restore began and at its peak (the process's maxRSS), MiB. */
  baselineMiB: number;
  peakMiB: number;
  /** RSS afterwards, running with the state cache full, MiB (savepoint restores only). */
  runningMiB?: number;
}

const mib = (bytes: number): number => bytes / 1024 / 1024;
const cpuOf = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

/** Child: restores the savepoint in `dir` into a fresh LevelDB, then runs with the state cache full. */
async function childSnapshot(dir: string, keys: number): Promise<Measured> {
  const state = await mkdtemp(join(tmpdir(), "runnel-restore-state-"));
  try {
    const engine = createEngine({ graph: restoreJob(DEFAULT_MAX_CACHED_ENTRIES), state: { kind: "level", dir: state }, restoreFrom: dir, batchSize: 16_384 });
    const baselineMiB = mib(process.memoryUsage().rss);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await engine.open();
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = cpuOf(process.cpuUsage(cpu0));
    const peakMiB = process.resourceUsage().maxRSS / 1024;
    while (!engine.progress().finished) await engine.round();
    const runningMiB = mib(process.memoryUsage().rss);
    await engine.close();
    return { entries: keys, seconds, cpuSeconds, baselineMiB, peakMiB, runningMiB };
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

/** Child: replays changelog `topic` (partition 0, up to its sentinel) into a fresh LevelDB. */
async function childReplay(brokers: string[], topic: string): Promise<Measured> {
  const state = await mkdtemp(join(tmpdir(), "runnel-replay-state-"));
  try {
    const backend = new KeyedStateBackend({ store: await levelStore({ path: join(state, "task-0") }), clock: systemClock, trackChanges: true });
    const restore = await TaskRestore.open(0, backend, topic);
    const baselineMiB = mib(process.memoryUsage().rss);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await replayStores({
      restores: [restore],
      sentinels: new Map([[0, Number.MAX_SAFE_INTEGER]]),
      replay: (sinks) =>
        replayChangelog({
          connection: { brokers },
          topic,
          readerGroup: `bench-replay-${Date.now()}`,
          sinks,
          sentinels: new Map([[0, "end"]]),
        }),
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = cpuOf(process.cpuUsage(cpu0));
    const applied = restore.applied;
    await backend.close();
    return { entries: applied, seconds, cpuSeconds, baselineMiB, peakMiB: process.resourceUsage().maxRSS / 1024 };
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

/** Runs this file as a child in `mode`; returns what it printed as JSON. */
function inChild(args: string[]): Promise<Measured> {
  return jsonFromChild<Measured>(import.meta.url, args);
}

/** Writes a savepoint of `keys` entries (one task) into a fresh folder; returns it and its size on disk. */
async function makeSavepoint(keys: number, valueBytes: number): Promise<{ dir: string; seconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), "runnel-restore-sp-"));
  const graph = restoreJob();
  const t0 = performance.now();
  await writeSnapshot(
    dir,
    {
      version: FORMAT_VERSION,
      kind: "savepoint",
      job: graph.name,
      id: 1,
      createdAt: new Date().toISOString(),
      parallelism: 1,
      operators: graph.nodes.map((n) => ({ uid: n.uid, kind: n.spec.kind })),
      sources: {},
      sourceMaxTimestamps: {},
      sinks: {},
    },
    [{ entries: () => entries(keys, valueBytes), timers: {}, operators: {} }],
  );
  return { dir, seconds: (performance.now() - t0) / 1000 };
}

/** Writes `keys` state records, a checkpoint's metadata and the sentinel to a fresh one-partition changelog topic. */
async function makeChangelog(brokers: string[], keys: number, valueBytes: number): Promise<{ topic: string; seconds: number }> {
  const kafka = createKafkaClient({ brokers, clientId: "bench-restore" });
  const topic = `runnel.bench.restore-${Date.now().toString(36)}.changelog`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics([
    { topic, partitions: 1, replicationFactor: 1, configs: { "cleanup.policy": "compact", "max.message.bytes": String(64 * 1024 * 1024) } },
  ]);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const t0 = performance.now();
  for await (const chunk of entries(keys, valueBytes)) {
    await producer.send(
      topic,
      chunk.map(([k, v]) => ({ key: k, value: Buffer.from(v), partition: 0 })),
    );
  }
  const meta: TaskMeta = { id: 1, job: "restore-bench", positions: {}, maxTimestamps: {}, timers: {}, sinks: {} };
  await producer.send(topic, [
    { key: TASK_META_KEY, value: serialize(meta), partition: 0 },
    { key: SENTINEL_KEY, value: "end", partition: 0 },
  ]);
  await producer.disconnect();
  return { topic, seconds: (performance.now() - t0) / 1000 };
}

async function deleteTopic(brokers: string[], topic: string): Promise<void> {
  const admin = createKafkaClient({ brokers, clientId: "bench-restore" }).admin();
  await admin.connect();
  await admin.deleteTopics([topic]).catch(() => undefined);
  await admin.disconnect();
}

if (values.child === "make") {
  console.log(JSON.stringify(await makeSavepoint(Number(values.keys), Number(values["value-bytes"]))));
  process.exit(0);
}
if (values.child === "snapshot") {
  console.log(JSON.stringify(await childSnapshot(values.dir as string, Number(values.keys))));
  process.exit(0);
}
if (values.child === "replay") {
  console.log(JSON.stringify(await childReplay((values.kafka as string).split(","), values.topic as string)));
  process.exit(0);
}

const valueBytes = Number(values["value-bytes"]);
const sizes = values.sizes.split(",").map(Number);
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const loadAtStart = loadavg()[0] ?? 0;
const rows: string[] = [];

/** Prints one measured restore and adds its row to the table. */
function report(kind: "savepoint" | "changelog", keys: number, bytes: number | undefined, m: Measured): void {
  const rate = m.entries / m.seconds;
  const perCpu = m.entries / m.cpuSeconds;
  const size = bytes === undefined ? "-" : `${(bytes / 1e9).toFixed(2)} GB`;
  console.log(
    `${kind} ${fmt(keys)} keys (${size}): ${fmt(rate)} entries/s, ${m.seconds.toFixed(1)} s (${m.cpuSeconds.toFixed(1)} CPU s), peak RSS ${fmt(m.peakMiB)} MiB`,
  );
  const target = kind === "savepoint" ? ` (≥ 200,000: ${rate >= 200_000 ? "met" : "**missed**"})` : "";
  const running = m.runningMiB === undefined ? "-" : `${fmt(m.runningMiB)} (peak < 2×: ${m.peakMiB < 2 * m.runningMiB ? "met" : "**missed**"})`;
  const path = kind === "savepoint" ? "savepoint files → LevelDB" : "changelog (Kafka) → LevelDB";
  rows.push(
    `| ${path} | ${fmt(keys)} | ${size} | ${m.seconds.toFixed(1)} | **${fmt(rate)}**${target} | ${m.cpuSeconds.toFixed(1)} | ${fmt(perCpu)} | ${fmt(m.baselineMiB)} | **${fmt(m.peakMiB)}** | ${running} |`,
  );
}

for (const keys of sizes) {
  const sp = await makeSavepoint(keys, valueBytes);
  try {
    const bytes = Number(execFileSync("du", ["-sb", sp.dir]).toString().split("\t")[0]);
    report("savepoint", keys, bytes, await inChild(["--child", "snapshot", "--dir", sp.dir, "--keys", String(keys)]));
  } finally {
    await rm(sp.dir, { recursive: true, force: true });
  }
}

const brokers = await benchBrokers(values.kafka);
const kafkaSizes = values["kafka-sizes"]
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
let kafkaNote = "No broker was reachable: the changelog replay was not measured.";
if (brokers && kafkaSizes.length > 0 && (await brokerReachable(brokers))) {
  kafkaNote = `Kafka at ${brokers.join(",")} (the test environment's single-node broker on this machine).`;
  for (const keys of kafkaSizes) {
    const cl = await makeChangelog(brokers, keys, valueBytes);
    try {
      report("changelog", keys, undefined, await inChild(["--child", "replay", "--kafka", brokers.join(","), "--topic", cl.topic, "--keys", String(keys)]));
    } finally {
      await deleteTopic(brokers, cl.topic);
    }
  }
}

const section = `Generated by \`npm run bench:restore -- --sizes ${values.sizes} --kafka-sizes ${values["kafka-sizes"]} --value-bytes ${valueBytes}\` (bench/restore.ts) on ${new Date().toISOString().slice(0, 10)}.
Machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}, Node ${process.version}; 1-minute load average ${loadAtStart.toFixed(1)} at the start and ${(loadavg()[0] ?? 0).toFixed(1)} at the end (the machine is shared). One run each. ${kafkaNote}

One task's keyed state (keys \`user-<i>\`, values of about ${valueBytes} bytes: a V8-serialised object) is restored into a
fresh LevelDB, each restore in a child process of its own. Seconds: from the start of the restore until the state
is in the store; CPU s: the child's user and system CPU seconds meanwhile (every thread, LevelDB's included) — on
a shared machine wall time depends on what else runs, CPU time much less. Peak RSS: the child's maxRSS during the restore (baseline: its RSS just before, the Node process
with the runtime loaded). Running RSS: the same process afterwards, running the job with its state cache full
(${fmt(DEFAULT_MAX_CACHED_ENTRIES)} entries, the default) — the memory a worker of this job needs anyway, which the restore is
compared with (target: peak under 2×). A savepoint is written as chunk files of ${fmt(CHUNK_ENTRIES)} entries and imported
chunk by chunk, one LevelDB batch each; a changelog replay writes each fetch (up to 10,000 records) as one batch.
What a restore holds is the store's own buffers (two 32 MiB write buffers and an 8 MiB block cache per task store),
a chunk in flight and V8's heap headroom — not the state: ten times the state restores with about the same peak.

| restore | keys | on disk | seconds | entries/s | CPU s | entries per CPU s | baseline RSS MiB | peak RSS MiB | running RSS MiB |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join("\n")}
`;
console.log(section);
if (values["no-write"] !== true) {
  const file = new URL("../docs/benchmarks.md", import.meta.url);
  await writeFile(file, replaceSection(await readFile(file, "utf8"), "Restore at scale", section));
}
