// At least once across worker crashes, with checkpoints that complete while rounds run (the
// Kafka checkpointer's beginCheckpoint): three `runnel worker --delivery at-least-once`
// processes run the windowed count job on 12-partition topics against the real broker and are
// killed with SIGKILL mid-stream. Nothing may be lost: every window must come out, counting at
// least every record of it. (It may count some twice: a restarted task writes its records to the
// repartition topic again, and the task that counts them may not have restarted — at least once,
// as in Kafka Streams.) Read by Runnel's reader and by Kafka's own Java consumer.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import {
  type CountJob,
  createCountJob,
  isWorkerReady,
  javaCheck,
  kill9,
  logTail,
  OutputReader,
  produce,
  produceContinuously,
  produceFlush,
  startWorker,
  stopGracefully,
  supervisedWorkers,
  type WorkerProcess,
} from "../helpers/distributed.ts";
import { waitFor } from "../helpers/wait.ts";

/** Windows of the reference missing from `seen`, or counting fewer records than they hold (lost input). */
function lost(job: CountJob, seen: Map<string, { events: number }>): string[] {
  const bad: string[] = [];
  for (const [k, v] of job.reference) {
    const g = seen.get(k);
    if (!g) bad.push(`${k}: missing`);
    else if (g.events < v.events) bad.push(`${k}: ${g.events} events, expected at least ${v.events}`);
  }
  return bad;
}

describe("distributed runtime: at least once through kill -9 (real broker, worker processes)", () => {
  const k = kafkaAdminHooks();
  const running: WorkerProcess[] = [];
  afterAll(() => {
    for (const w of running) w.child.kill("SIGKILL");
  });

  it("3 workers, 8 kill -9 with restarts while checkpoints complete in the background: no window lost, none short", async () => {
    const { kafka, admin } = k;
    const job = await createCountJob(admin, 12);
    await produce(kafka, job, 6000);
    const args = ["--delivery", "at-least-once", "--admin", "127.0.0.1:0"];
    const pods = supervisedWorkers(3, (o) => {
      const w = startWorker(job, o, 3, { extraArgs: args });
      running.push(w);
      return w;
    });
    const workers = pods.workers;
    const reader = new OutputReader();
    await reader.start(job);
    await reader.waitForCount(100, 120_000);
    // At least 5,200 windows in the reference, however fast the job ran while it was being killed.
    const feed = produceContinuously(kafka, job, 5200);
    let windowsAtLastKill = 0;
    const logs = (): string => workers.map((w) => `--- worker ${w.ordinal} (${w.log})\n${logTail(w)}`).join("\n");
    for (let kill = 0; kill < 8; kill++) {
      await waitFor("every worker ready", async () => (await Promise.all(workers.map((w) => isWorkerReady(w)))).every(Boolean), { timeoutMs: 180_000 });
      await reader.waitForCount(reader.seen.size + 1 + ((kill * 37) % 90), 120_000);
      const o = kill % 3;
      windowsAtLastKill = reader.seen.size;
      await kill9(workers[o] as WorkerProcess);
      // Every fourth restart loses its local state: the changelog alone must rebuild it.
      if (kill % 4 === 3) rmSync(join(job.dir, `state-w${o}`), { recursive: true, force: true });
      pods.replace(o);
    }
    await feed.stop();
    await produceFlush(kafka, job);
    await reader.waitFor(job, 240_000, logs);
    await reader.stop();
    pods.stop();
    for (const w of workers) expect(await stopGracefully(w), logs()).toBe(0);
    expect(lost(job, reader.seen).slice(0, 20), `job ${job.name} in ${job.dir}`).toEqual([]);
    // Kafka's own consumer finds every window (what it cannot find shows as missing).
    const java = await javaCheck(job);
    expect(java.mismatches.filter((m) => m.endsWith(": missing")).slice(0, 20), `job ${job.name}`).toEqual([]);
    // The last kill landed mid-stream: windows came out after it.
    expect(windowsAtLastKill).toBeLessThan(job.reference.size);
  });
});
