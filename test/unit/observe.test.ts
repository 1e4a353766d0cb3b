// The admin API and Prometheus metrics of a running job: /healthz, /readyz before and after the
// first round, /metrics with Prometheus-named series read from the engine, /status as JSON.
import { afterEach, describe, expect, it } from "vitest";
import { collectionSource, collectSink, job } from "../../runtime/api/index.ts";
import { createEngine } from "../../runtime/exec/engine.ts";
import { startAdminServer, type AdminServer } from "../../runtime/observe/admin-server.ts";
import { createJobMetrics } from "../../runtime/observe/metrics.ts";

let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`${server?.url}${path}`);
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

describe("admin API", () => {
  it("serves health, readiness, Prometheus metrics and status of a running job", async () => {
    const j = job("observed");
    j.source(collectionSource({ partitions: [[1, 2, 3, -4, 5]] }))
      .filter((n: number) => n > 0)
      .sink(collectSink<number>());
    const engine = createEngine({ graph: j.build(), idleSleepMs: 0 });
    const deadLetters = { "valid/negative": 1 };
    const registry = createJobMetrics({ job: "observed", progress: () => engine.progress(), deadLetters: () => deadLetters });
    server = await startAdminServer({ registry, ready: () => engine.progress().rounds > 0, status: () => engine.progress() }, { host: "127.0.0.1", port: 0 });

    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/readyz")).status).toBe(503); // not started yet
    await engine.run();
    expect((await get("/readyz")).status).toBe(200);

    const metrics = await get("/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.type).toContain("text/plain");
    expect(metrics.body).toContain('runnel_records_in_total{job="observed"} 5');
    expect(metrics.body).toContain('runnel_records_out_total{job="observed"} 4');
    expect(metrics.body).toContain('runnel_dead_letters_total{job="observed",step="valid",reason="negative"} 1');
    expect(metrics.body).toContain("# TYPE runnel_records_in_total counter");
    expect(metrics.body).toContain("runnel_process_resident_memory_bytes");

    const status = JSON.parse((await get("/status")).body) as { recordsIn: number; finished: boolean };
    expect(status).toMatchObject({ recordsIn: 5, finished: true });
    expect((await get("/nope")).status).toBe(404);
  });

  it("reports totals again on every scrape (a counter is set from the engine, not added to)", async () => {
    let recordsIn = 10;
    const progress = () => ({
      rounds: 1,
      recordsIn,
      recordsOut: 0,
      lateDropped: 0,
      watermark: 0,
      stateSize: 0,
      finished: false,
      checkpoints: 0,
      lastCheckpoint: -1,
    });
    const registry = createJobMetrics({ job: "j", progress });
    server = await startAdminServer({ registry, ready: () => true, status: progress }, { host: "127.0.0.1", port: 0 });
    expect((await get("/metrics")).body).toContain('runnel_records_in_total{job="j"} 10');
    recordsIn = 25;
    expect((await get("/metrics")).body).toContain('runnel_records_in_total{job="j"} 25');
  });
});
