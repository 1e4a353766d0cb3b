import { describe, expect, it } from "vitest";
import { cpuCores, mergeSavepointStatuses, mergeStatuses, threadsFor, virtualWorker, type ThreadStatus } from "../../../runtime/distributed/threads/merge.ts";
import { startWorkerThreads, type ThreadedWorker } from "../../../runtime/distributed/threads/pool.ts";
import { createLogger } from "../../../runtime/log.ts";
import { SavepointRequestError } from "../../../runtime/observe/savepoint-control.ts";

describe("threads per worker", () => {
  it("reads CPU quantities and takes the whole cores of the limit, at least 1, unless threadsPerWorker says", () => {
    expect([cpuCores("2"), cpuCores("1500m"), cpuCores(3), cpuCores("0.5"), cpuCores("2Gi"), cpuCores("0"), cpuCores(undefined)]).toEqual([
      2,
      1.5,
      3,
      0.5,
      undefined,
      undefined,
      undefined,
    ]);
    expect(threadsFor({})).toBe(1);
    expect(threadsFor({ resources: { limits: { cpu: "4" } } })).toBe(4);
    expect(threadsFor({ resources: { limits: { cpu: "2500m" } } })).toBe(2);
    expect(threadsFor({ resources: { limits: { cpu: "500m" } } })).toBe(1);
    expect(threadsFor({ resources: { requests: { cpu: "4" } } })).toBe(1);
    expect(threadsFor({ threadsPerWorker: 3, resources: { limits: { cpu: "8" } } })).toBe(3);
  });

  it("numbers thread t of worker o as worker o × threads + t of workers × threads, covering every task once", () => {
    expect(virtualWorker(1, 3, 1, 2)).toEqual({ ordinal: 3, workers: 6 });
    const owners = new Map<number, number>();
    for (let o = 0; o < 3; o++)
      for (let t = 0; t < 2; t++) {
        const v = virtualWorker(o, 3, t, 2);
        for (let task = 0; task < 12; task++) if (task % v.workers === v.ordinal) owners.set(task, (owners.get(task) ?? 0) + 1);
      }
    expect([...owners.values()]).toEqual(Array(12).fill(1));
  });

  it("merges the threads' statuses: counts add, tasks unite, watermark and last checkpoint are the lowest", () => {
    const a: ThreadStatus = {
      job: "j",
      generation: "g1",
      ordinal: 2,
      tasks: [2, 6],
      parallelism: 8,
      rounds: 5,
      recordsIn: 100,
      recordsOut: 40,
      watermark: 2000,
      checkpoints: 3,
      lastCheckpoint: 9,
      checkpoint: { count: 3, lastDurationMs: 20, lastBytes: 100, failures: 0 },
      consumerLag: 7,
      sourceDeadLetters: 1,
    };
    const b: ThreadStatus = {
      ...a,
      ordinal: 3,
      tasks: [3, 7],
      recordsIn: 50,
      watermark: 1500,
      lastCheckpoint: 8,
      checkpoint: { count: 2, lastDurationMs: 35, lastBytes: 50, failures: 1 },
      consumerLag: 3,
      consumerLagError: "no leader",
    };
    expect(mergeStatuses(1, [a, b])).toMatchObject({
      ordinal: 1,
      threads: 2,
      tasks: [2, 3, 6, 7],
      recordsIn: 150,
      recordsOut: 80,
      watermark: 1500,
      checkpoints: 6,
      lastCheckpoint: 8,
      checkpoint: { count: 5, lastDurationMs: 35, lastBytes: 150, failures: 1 },
      consumerLag: 10,
      consumerLagError: "no leader",
      sourceDeadLetters: 2,
    });
  });

  it("merges a savepoint's shares: failed when one failed, completed when all completed, else pending", () => {
    const done = { id: "sp", state: "completed" as const, path: "/sp" };
    expect(mergeSavepointStatuses("sp", [undefined, undefined])).toBeUndefined();
    expect(mergeSavepointStatuses("sp", [done, { id: "sp", state: "pending" }])).toEqual({ id: "sp", state: "pending" });
    expect(mergeSavepointStatuses("sp", [done, undefined])).toEqual({ id: "sp", state: "pending" });
    expect(mergeSavepointStatuses("sp", [done, done])).toEqual(done);
    expect(mergeSavepointStatuses("sp", [done, { id: "sp", state: "failed", error: "timeout" }])).toEqual({
      id: "sp",
      state: "failed",
      error: "thread 1: timeout",
    });
  });
});

describe("a worker on threads (scripted threads speaking the protocol)", () => {
  const entry = new URL("../../fixtures/threads/scripted-thread.ts", import.meta.url);
  const log = createLogger("test", {}, { write: () => undefined });
  const start = (script: string, threads = 2) =>
    startWorkerThreads({
      entry,
      options: { manifest: "unused", name: script, ordinal: 1, workers: 2, namespace: "t", stateDir: "unused" },
      threads,
      brokers: [],
      logOptions: {},
      log,
    });

  it("runs thread t of worker 1 as worker 2 + t of 4, serves their metrics summed and their status merged, and exits 0 once all stopped", async () => {
    const started = await start("run").started;
    if (typeof started === "number") throw new Error(`ended with ${started}`);
    expect(started.tasks).toEqual([2, 3, 6, 7]);
    const admin = started.adminSource(() => "t");
    const text = await admin.registry.metrics();
    // Worker 2 counted 30, worker 3 counted 40; the process's own metrics come once.
    expect(text).toMatch(/^runnel_records_in_total\{job="j"\} 70$/m);
    expect(text.match(/^runnel_process_cpu_user_seconds_total /gm)).toHaveLength(1);
    expect(await admin.ready()).toBe(true);
    expect(await admin.status()).toMatchObject({ ordinal: 1, threads: 2, tasks: [2, 3, 6, 7], recordsIn: 70, watermark: 1002, lastCheckpoint: 7 });
    started.stop();
    expect(await started.exited).toBe(0);
  });

  it("asks every thread for a savepoint under one name, merges its state, and passes a refusal on with its HTTP status", async () => {
    const started = (await start("run").started) as ThreadedWorker;
    const control = started.adminSource(() => "t").savepoints;
    expect(await control?.trigger("daily")).toBe("sp-daily");
    expect(await control?.status("sp-daily")).toEqual({ id: "sp-daily", state: "pending" });
    expect(await control?.status("sp-other")).toBeUndefined();
    const refused = await control?.trigger("refused").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SavepointRequestError);
    expect((refused as SavepointRequestError).status).toBe(409);
    started.stop();
    expect(await started.exited).toBe(0);
  });

  it("ends every thread with the first failure's exit code", async () => {
    // On a busy machine the failing thread may end before its siblings report their start.
    const started = await start("fail-3", 3).started;
    expect(typeof started === "number" ? started : await started.exited).toBe(75);
  });

  it("returns the exit code when threads end before they start (a sealed generation)", async () => {
    expect(await start("sealed").started).toBe(0);
  });
});
