// The admin API of `runnel worker` over a worker built from a local engine: the worker's
// metrics (operators, checkpoints, source dead letters) on /metrics, its status, and the
// savepoint endpoints served through the worker's SavepointControl when it offers one.
import { afterEach, describe, expect, it } from "vitest";
import { collectionSource, collectSink, job } from "../../../runtime/api/index.ts";
import { serveWorkerAdmin, type WorkerAdmin } from "../../../runtime/cli/worker-admin.ts";
import type { Worker } from "../../../runtime/distributed/worker.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { BucketHistogram, CHECKPOINT_SECONDS_BUCKETS } from "../../../runtime/observe/histogram.ts";
import type { SavepointControl } from "../../../runtime/observe/savepoint-control.ts";

let admin: WorkerAdmin | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

async function localWorker(savepoints?: SavepointControl): Promise<Worker> {
  const j = job("wk");
  j.source(
    collectionSource<number>({
      partitions: [
        [1, 2, 3],
        [4, 5],
      ],
    }),
    { uid: "numbers" },
  ).sink(collectSink<number>(), { uid: "out" });
  const engine = createEngine({ graph: j.build(), idleSleepMs: 0 });
  await engine.run();
  const durations = new BucketHistogram(CHECKPOINT_SECONDS_BUCKETS);
  durations.observe(0.02);
  const worker = {
    job: { apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name: "wk" }, spec: {} },
    generation: "g3",
    ordinal: 0,
    engine,
    plan: { parallelism: 2 },
    tasks: [0, 1],
    metrics: { deadLetters: {}, dropped: {}, deadLetterSamples: {} },
    poisoned: () => 2,
    checkpointStats: { count: 1, lastDurationMs: 20, lastBytes: 512, failures: 0, durations },
    run: () => engine.run(),
    stop: () => engine.stop(),
    ...(savepoints ? { savepoints } : {}),
  };
  return worker as unknown as Worker;
}

describe("runnel worker admin API", () => {
  it("serves the worker's metrics and status", async () => {
    admin = await serveWorkerAdmin(await localWorker(), { at: { host: "127.0.0.1", port: 0 }, brokers: [], token: () => "t" });
    expect(admin.savepoints).toBe(false);
    const text = await (await fetch(`${admin.url}/metrics`)).text();
    expect(text).toContain('runnel_operator_records_out_total{job="wk",operator="numbers",task="0"} 3');
    expect(text).toContain('runnel_operator_records_in_total{job="wk",operator="out",task="1"} 2');
    expect(text).toContain('runnel_checkpoint_duration_seconds_count{job="wk"} 1');
    expect(text).toContain('runnel_checkpoint_size_bytes{job="wk"} 512');
    expect(text).toContain('runnel_source_dead_letters_total{job="wk"} 2');
    expect(text).toContain('runnel_end_to_end_latency_seconds_count{job="wk",operator="out"} 5');
    expect(text).not.toContain("runnel_consumer_lag_records{"); // no Kafka sources here
    const status = (await (await fetch(`${admin.url}/status`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({
      job: "wk",
      generation: "g3",
      ordinal: 0,
      tasks: [0, 1],
      recordsIn: 5,
      checkpoint: { count: 1, lastBytes: 512, failures: 0 },
      sourceDeadLetters: 2,
      // The contract's consumer lag, summed: no Kafka sources here, so none behind.
      consumerLag: 0,
    });
    const res = await fetch(`${admin.url}/savepoints`, { method: "POST", headers: { authorization: "Bearer t" } });
    expect(res.status).toBe(501);
  });

  it("serves savepoints through the worker's SavepointControl", async () => {
    const names: (string | undefined)[] = [];
    const control: SavepointControl = {
      trigger: async (name) => {
        names.push(name);
        return "7";
      },
      status: (id) => (id === "7" ? { id, state: "completed", path: "/sp/savepoint-7" } : undefined),
      stopWithSavepoint: async () => "8",
    };
    admin = await serveWorkerAdmin(await localWorker(control), { at: { host: "127.0.0.1", port: 0 }, brokers: [], token: () => "t" });
    expect(admin.savepoints).toBe(true);
    const started = await fetch(`${admin.url}/savepoints`, { method: "POST", headers: { authorization: "Bearer t" }, body: '{"name":"manual-1"}' });
    expect(started.status).toBe(202);
    expect(await started.json()).toEqual({ id: "7" });
    expect(names).toEqual(["manual-1"]);
    expect(await (await fetch(`${admin.url}/savepoints/7`)).json()).toEqual({ id: "7", state: "completed", path: "/sp/savepoint-7" });
    const stop = await fetch(`${admin.url}/stop`, { method: "POST", headers: { authorization: "Bearer t" } });
    expect(await stop.json()).toEqual({ id: "8" });
  });
});
