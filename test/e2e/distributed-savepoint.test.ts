// Savepoints of a distributed job: a savepoint taken while the job runs (inspected, then disposed
// of with the CLI), then three workers stop with a savepoint (drained: nothing left in the
// internal topics), the job is changed — a step added, a stateful step and its sink removed — and
// restored from it. Without allowNonRestoredState the restore refuses, naming the removed operator;
// with it (and on two workers instead of three), the unchanged window keeps its state and every
// window comes out exactly once across both versions — as Runnel reads it and as Kafka's own Java
// consumer reads it in read_committed.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../runtime/worker-contract.ts";
import { KEEP_TEST_DATA, kafkaAdminHooks } from "../helpers/kafka.ts";
import {
  adminUrl,
  countManifest,
  createCountJob,
  exitWithin,
  javaCheck,
  logTail,
  OutputReader,
  produce,
  produceFlush,
  requestSavepoint,
  runnelCli,
  savepointOutcome,
  startWorker,
  stopGracefully,
  waitReady,
  type WorkerProcess,
} from "../helpers/distributed.ts";
import { workerMetric } from "../helpers/worker-process.ts";

const TOKEN = "savepoint-test-token";
const post = (url: string, body: { name?: string }): Promise<string> => requestSavepoint(url, TOKEN, body);

/** Polls a savepoint's status until it completed. */
async function pollCompleted(url: string): Promise<void> {
  const status = await savepointOutcome(url, 90_000);
  if (status.state !== "completed") throw new Error(`savepoint ${url}: ${JSON.stringify(status)}`);
}

describe("distributed runtime: stop-with-savepoint, change the job, restore (real broker)", () => {
  const k = kafkaAdminHooks();
  const running: WorkerProcess[] = [];
  afterAll(() => {
    for (const w of running) w.child.kill("SIGKILL");
  });

  it("keeps the state of unchanged operators across a changed job, exactly once", async () => {
    const { kafka, admin } = k;
    const job = await createCountJob(admin, 6);
    const five = `${job.name}-five`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: five, numPartitions: 1, configEntries: KEEP_TEST_DATA }] });
    // v1: the count job plus a 5-second window per user into its own topic.
    writeFileSync(
      job.manifest,
      countManifest({
        ...job,
        extraSteps: "      - id: per-five\n        input: by-user\n        window: { type: tumbling, size: 5s, aggregations: [{ name: events, fn: count }] }\n",
      }).replace("    sinks:\n", `    sinks:\n      - id: five\n        input: per-five\n        kafka: { topic: ${five} }\n`),
    );
    // v2: a filter step before the keyBy, and no 5-second window (nor its sink).
    const v2 = join(job.dir, "job-v2.yaml");
    writeFileSync(
      v2,
      countManifest({ ...job, extraSteps: "" }).replace(
        "      - id: by-user\n        input: clicks",
        '      - id: valid\n        input: clicks\n        filter: { condition: "record.n >= 0" }\n      - id: by-user\n        input: valid',
      ),
    );
    const env = { RUNNEL_ADMIN_TOKEN: TOKEN };
    const launch = (o: number, extra: string[], manifest?: string, workers = 3): WorkerProcess => {
      const w = startWorker(job, o, workers, { extraArgs: ["--admin", "127.0.0.1:0", ...extra], env, ...(manifest ? { manifest } : {}) });
      running.push(w);
      return w;
    };
    await produce(kafka, job, 3000);
    const reader = new OutputReader();
    await reader.start(job);
    const v1 = [0, 1, 2].map((o) => launch(o, []));
    const urls = await Promise.all(v1.map((w) => adminUrl(w)));
    // Stop mid-stream, once windows are coming out (so the windows in progress have state).
    await reader.waitForCount(200, 120_000);
    // A savepoint without stopping: every worker writes its tasks, then the job goes on.
    const periodic = join(job.savepointRoot, "periodic-1");
    const triggered = await Promise.all(urls.map((u) => post(`${u}/savepoints`, { name: "periodic-1" })));
    expect(new Set(triggered).size).toBe(1);
    for (const u of urls) await pollCompleted(`${u}/savepoints/${triggered[0] as string}`);
    const inspected = runnelCli(["savepoint", "inspect", periodic]);
    expect(inspected.status, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ id: triggered[0], job: job.name, tasks: 6, complete: true });
    const disposed = runnelCli(["savepoint", "dispose", periodic]);
    expect(disposed.status, disposed.stderr).toBe(0);
    expect(existsSync(periodic)).toBe(false);
    const seenBefore = reader.seen.size;
    await produce(kafka, job, 3000);
    await reader.waitForCount(seenBefore + 100, 120_000);
    const savepoint = join(job.savepointRoot, "upgrade-1");
    const unauthorized = await fetch(`${urls[0]}/stop`, { method: "POST", body: JSON.stringify({ name: "upgrade-1" }) });
    expect(unauthorized.status).toBe(401);
    const ids = await Promise.all(urls.map((u) => post(`${u}/stop`, { name: "upgrade-1" })));
    expect(new Set(ids).size).toBe(1);
    for (const w of v1) expect(await exitWithin(w), logTail(w)).toBe(0);
    // More input arrives while the job is down.
    await produce(kafka, job, 3000);

    // Restoring v2 without allowNonRestoredState is refused, naming the removed operator.
    const refused = launch(0, ["--restore-from", savepoint], v2);
    expect(await exitWithin(refused), logTail(refused)).toBe(EXIT_CODES.configuration);
    expect(logTail(refused, 5)).toMatch(/per-five.*allow-non-restored-state|allow-non-restored-state.*per-five/s);

    // Restored on two workers instead of three: a rescale from the savepoint at the same time.
    const restored = [0, 1].map((o) => launch(o, ["--restore-from", savepoint, "--allow-non-restored-state"], v2, 2));
    // More input once both restored workers run (restored and ready), so it lands on the new generation.
    await Promise.all(restored.map((w) => waitReady(w)));
    await produce(kafka, job, 3000);
    await produceFlush(kafka, job);
    await reader.waitFor(job, 180_000, () => restored.map((w) => logTail(w)).join("\n"));
    await reader.stop();
    for (const w of restored) expect(await stopGracefully(w), logTail(w)).toBe(0);
    expect(reader.duplicates.slice(0, 20)).toEqual([]);
    expect(reader.mismatches(job).slice(0, 20), `job ${job.name} in ${job.dir}`).toEqual([]);
    // The same output as Kafka's own Java consumer reads it in read_committed, independent of Runnel's reading.
    const java = await javaCheck(job);
    expect(java.duplicates.slice(0, 20), `job ${job.name}`).toEqual([]);
    expect(java.mismatches.slice(0, 20), `job ${job.name}`).toEqual([]);
  });

  it("takes savepoints of workers on threads (2 × 2), stops with one and restores it on 1 worker × 3 threads, exactly once", async () => {
    const { kafka, admin } = k;
    const job = await createCountJob(admin, 6);
    const env = { RUNNEL_ADMIN_TOKEN: TOKEN };
    const launch = (o: number, workers: number, extra: string[]): WorkerProcess => {
      const w = startWorker(job, o, workers, { extraArgs: ["--admin", "127.0.0.1:0", ...extra], env });
      running.push(w);
      return w;
    };
    await produce(kafka, job, 3000);
    const reader = new OutputReader();
    await reader.start(job);
    const v1 = [0, 1].map((o) => launch(o, 2, ["--threads", "2"]));
    const urls = await Promise.all(v1.map((w) => adminUrl(w)));
    await reader.waitForCount(200, 120_000);
    // One request per worker process; each process's threads write their shares under the one id.
    const triggered = await Promise.all(urls.map((u) => post(`${u}/savepoints`, { name: "threads-1" })));
    expect(new Set(triggered).size).toBe(1);
    for (const u of urls) await pollCompleted(`${u}/savepoints/${triggered[0] as string}`);
    const inspected = runnelCli(["savepoint", "inspect", join(job.savepointRoot, "threads-1")]);
    expect(inspected.status, inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ id: triggered[0], job: job.name, tasks: 6, complete: true });
    await produce(kafka, job, 3000);
    const ids = await Promise.all(urls.map((u) => post(`${u}/stop`, { name: "threads-stop" })));
    expect(new Set(ids).size).toBe(1);
    for (const w of v1) expect(await exitWithin(w), logTail(w)).toBe(0);
    await produce(kafka, job, 3000);
    const restored = launch(0, 1, ["--threads", "3", "--restore-from", join(job.savepointRoot, "threads-stop")]);
    await waitReady(restored);
    await produce(kafka, job, 3000);
    await produceFlush(kafka, job);
    await reader.waitFor(job, 180_000, () => logTail(restored));
    await reader.stop();
    expect(await stopGracefully(restored), logTail(restored)).toBe(0);
    expect(reader.duplicates.slice(0, 20)).toEqual([]);
    expect(reader.mismatches(job).slice(0, 20), `job ${job.name} in ${job.dir}`).toEqual([]);
    const java = await javaCheck(job);
    expect(java.duplicates.slice(0, 20), `job ${job.name}`).toEqual([]);
    expect(java.mismatches.slice(0, 20), `job ${job.name}`).toEqual([]);
  });

  it("re-splits a savepoint's keys, timers in the store among them, over more tasks when the input gained partitions (6 → 12)", async () => {
    const { kafka, admin } = k;
    // A cache of 10 entries: timers beyond 40 per operator are keyed entries of the savepoint, routed by their key.
    const job = await createCountJob(admin, 6, { stateCacheEntries: 10 });
    const env = { RUNNEL_ADMIN_TOKEN: TOKEN };
    const launch = (o: number, workers: number, extra: string[] = [], manifest?: string): WorkerProcess => {
      const w = startWorker(job, o, workers, { extraArgs: ["--admin", "127.0.0.1:0", ...extra], env, ...(manifest ? { manifest } : {}) });
      running.push(w);
      return w;
    };
    await produce(kafka, job, 4000);
    const reader = new OutputReader();
    await reader.start(job);
    const v1 = [0, 1, 2].map((o) => launch(o, 3));
    const urls = await Promise.all(v1.map((w) => adminUrl(w)));
    await reader.waitForCount(200, 120_000);
    for (const w of v1) expect(await workerMetric(w, "runnel_state_timers_stored_total"), logTail(w)).toBeGreaterThan(0);
    const savepoint = join(job.savepointRoot, "before-resize");
    await Promise.all(urls.map((u) => post(`${u}/stop`, { name: "before-resize" })));
    for (const w of v1) expect(await exitWithin(w), logTail(w)).toBe(0);
    // The input topic grows to 12 partitions; the job follows with 12 tasks on 4 workers.
    await admin.createPartitions({ topicPartitions: [{ topic: job.input, count: 12 }] });
    job.partitions = 12;
    const v2 = join(job.dir, "job-12.yaml");
    writeFileSync(v2, countManifest({ ...job, extraSteps: "" }));
    const restored = [0, 1, 2, 3].map((o) => launch(o, 4, ["--restore-from", savepoint], v2));
    await produce(kafka, job, 4000);
    await produceFlush(kafka, job);
    await reader.waitFor(job, 180_000, () => restored.map((w) => logTail(w)).join("\n"));
    await reader.stop();
    for (const w of restored) expect(await stopGracefully(w), logTail(w)).toBe(0);
    expect(reader.duplicates.slice(0, 20)).toEqual([]);
    expect(reader.mismatches(job).slice(0, 20), `job ${job.name} in ${job.dir}`).toEqual([]);
    // The same output as Kafka's own Java consumer reads it in read_committed, independent of Runnel's reading.
    const java = await javaCheck(job);
    expect(java.duplicates.slice(0, 20), `job ${job.name}`).toEqual([]);
    expect(java.mismatches.slice(0, 20), `job ${job.name}`).toEqual([]);
  });
});
