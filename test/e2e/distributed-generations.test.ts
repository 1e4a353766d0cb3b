// Generations through an upgrade (ADR 16), on the real broker with worker processes: v1 runs in
// the first generation; a savepoint asked of one worker only fails after --savepoint-timeout,
// naming the worker whose drained markers never came, and the job goes on; stop-with-savepoint
// seals v1, so restarting a v1 worker (even while input keeps arriving) processes nothing and
// exits 0 — also when only the changelog knows of the seal; v2 restores into a new generation;
// the savepoint is disposed of; after kill -9, v2's workers restarted without --generation (one
// still naming the disposed savepoint, one with no --restore-from at all) resume v2 — not v1;
// naming v1's generation explicitly is refused (78). Every window comes out exactly once, read by
// Kafka's own Java consumer in read_committed.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generationsTopic, jobPrefix } from "../../runtime/distributed/topics.ts";
import { EXIT_CODES } from "../../runtime/worker-contract.ts";
import { inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import {
  adminUrl,
  countManifest,
  createCountJob,
  exitWithin,
  javaCheck,
  kill9,
  logTail,
  OutputReader,
  produce,
  produceFlush,
  requestSavepoint,
  runnelCli,
  savepointOutcome,
  startWorker,
  stopGracefully,
  type WorkerProcess,
} from "../helpers/distributed.ts";

const TOKEN = "generations-test-token";
const post = (url: string, body: { name?: string }): Promise<string> => requestSavepoint(url, TOKEN, body);

describe("distributed runtime: generations through an upgrade (real broker)", () => {
  const k = kafkaAdminHooks();
  const running: WorkerProcess[] = [];
  afterAll(() => {
    for (const w of running) w.child.kill("SIGKILL");
  });

  it("resumes the newest generation after restarts, seals the stopped one, refuses an old one: every window exactly once", async () => {
    const { kafka, admin } = k;
    const job = await createCountJob(admin, 6);
    const env = { RUNNEL_ADMIN_TOKEN: TOKEN };
    const launch = (o: number, workers: number, extra: string[], manifest?: string): WorkerProcess => {
      const w = startWorker(job, o, workers, { extraArgs: ["--admin", "127.0.0.1:0", ...extra], env, ...(manifest ? { manifest } : {}) });
      running.push(w);
      return w;
    };
    const v2 = join(job.dir, "job-v2.yaml");
    writeFileSync(
      v2,
      countManifest(job).replace(
        "      - id: by-user\n        input: clicks",
        '      - id: valid\n        input: clicks\n        filter: { condition: "record.n >= 0" }\n      - id: by-user\n        input: valid',
      ),
    );
    await produce(kafka, job, 3000);
    const reader = new OutputReader();
    await reader.start(job);

    // v1 on two workers, in the first generation (g0: none named, none recorded).
    const v1 = [0, 1].map((o) => launch(o, 2, ["--savepoint-timeout", "10s"]));
    const urls = await Promise.all(v1.map((w) => adminUrl(w)));
    await reader.waitForCount(100, 120_000);
    expect(logTail(v1[0] as WorkerProcess, 40)).toMatch(/"generation":"g0"/);

    // Only worker 0 is asked: its drain waits for worker 1's markers, fails naming it, and resumes.
    const lonely = await post(`${urls[0]}/savepoints`, { name: "only-one" });
    const failed = await savepointOutcome(`${urls[0]}/savepoints/${lonely}`);
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatch(/timeout 10 s\): no drained markers yet from worker 1 \(tasks 1,3,5\); did every worker get the savepoint request\?/);
    const afterFailure = reader.seen.size;
    await produce(kafka, job, 1500);
    await reader.waitForCount(afterFailure + 50, 120_000);

    // Stop with a savepoint: both workers seal g0 and exit 0.
    const ids = await Promise.all(urls.map((u) => post(`${u}/stop`, { name: "upgrade-1" })));
    expect(new Set(ids).size).toBe(1);
    for (const w of v1) expect(await exitWithin(w), logTail(w)).toBe(EXIT_CODES.ok);
    const savepoint = join(job.savepointRoot, "upgrade-1");
    // Everything v1 wrote is in the log once its workers exited: the output's end offsets at the seal.
    const outputEnds = async (): Promise<string[]> => (await admin.fetchTopicOffsets(job.output)).map((o) => `${o.partition}:${o.high}`).sort();
    const endsAtSeal = await outputEnds();
    const sealedAt = reader.seen.size;

    // A v1 pod restarted after the stop (as a StatefulSet does) runs nothing, while input keeps arriving.
    await produce(kafka, job, 1500);
    for (const extra of [[], ["--generation", "g0"]]) {
      const again = launch(0, 2, extra);
      expect(await exitWithin(again), logTail(again)).toBe(EXIT_CODES.ok);
      expect(logTail(again, 40)).toMatch(new RegExp(`generation g0 was stopped with savepoint ${ids[0] as string} .*; nothing to run`));
      expect(logTail(again, 40)).not.toMatch(/running tasks/);
    }
    // Had the seal not reached the generations topic (a crash right after the seal's checkpoint),
    // the tasks' own changelog metadata still says so: the worker restores, finds it, and ends.
    const record = { generation: "g0", startedAt: new Date().toISOString() };
    const producer = inputProducer(kafka);
    await producer.connect();
    await producer.send({ topic: generationsTopic(jobPrefix("test", job.name)), messages: [{ key: "g0", value: JSON.stringify(record), partition: 0 }] });
    await producer.disconnect();
    const unrecorded = launch(1, 2, []);
    expect(await exitWithin(unrecorded), logTail(unrecorded)).toBe(EXIT_CODES.ok);
    expect(logTail(unrecorded, 40)).toMatch(new RegExp(`generation g0 was stopped with savepoint ${ids[0] as string} .*; nothing to run`));
    // Both pods exited: whatever they might have written is in the log now, and they wrote nothing.
    expect(await outputEnds()).toEqual(endsAtSeal);

    // v2 on three workers from the savepoint: a new generation named after it.
    let workers = [0, 1, 2].map((o) => launch(o, 3, ["--restore-from", savepoint], v2));
    await produce(kafka, job, 1500);
    await reader.waitForCount(sealedAt + 50, 180_000);
    expect(logTail(workers[0] as WorkerProcess, 40)).toMatch(
      new RegExp(`new generation ${ids[0] as string} from savepoint|resuming generation ${ids[0] as string}`),
    );
    // Every task checkpointed in the new generation: the savepoint is no longer needed.
    const disposed = runnelCli(["savepoint", "dispose", savepoint]);
    expect(disposed.status, disposed.stderr).toBe(0);
    expect(existsSync(savepoint)).toBe(false);

    // kill -9 mid-stream; the restarts name no generation: worker 0 keeps its (disposed) --restore-from, the others have none.
    await produce(kafka, job, 1500);
    await reader.waitForCount(reader.seen.size + 50, 180_000);
    for (const w of workers) await kill9(w);
    workers = [launch(0, 3, ["--restore-from", savepoint], v2), launch(1, 3, [], v2), launch(2, 3, [], v2)];
    for (const w of workers) await adminUrl(w);
    expect(logTail(workers[1] as WorkerProcess, 40)).toMatch(new RegExp(`resuming the current generation ${ids[0] as string}`));

    // An explicitly older generation is refused with one line naming the current one.
    const old = launch(0, 3, ["--generation", "g0"], v2);
    expect(await exitWithin(old), logTail(old)).toBe(EXIT_CODES.configuration);
    expect(logTail(old, 5)).toMatch(new RegExp(`generation g0 is not the job's current generation ${ids[0] as string}.*--allow-old-generation`));

    await produce(kafka, job, 1500);
    await produceFlush(kafka, job);
    await reader.waitFor(job, 240_000, () => workers.map((w) => logTail(w)).join("\n"));
    await reader.stop();
    for (const w of workers) expect(await stopGracefully(w), logTail(w)).toBe(EXIT_CODES.ok);
    expect(reader.duplicates.slice(0, 20)).toEqual([]);
    expect(reader.mismatches(job).slice(0, 20), `job ${job.name} in ${job.dir}`).toEqual([]);
    const java = await javaCheck(job);
    expect(java.duplicates.slice(0, 20), `job ${job.name}`).toEqual([]);
    expect(java.mismatches.slice(0, 20), `job ${job.name}`).toEqual([]);
    expect(java.windows).toBe(job.reference.size);
  });
});
