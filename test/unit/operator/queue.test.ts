// The work queue: one entry per key, never handed out twice at once, re-queued when changed in
// flight, per-key exponential backoff with jitter, and a controller that owns retries.
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../runtime/log.ts";
import { createController, done, failed, requeueAfter, type ReconcileResult } from "../../../operator/machinery/controller.ts";
import { createOperatorMetrics } from "../../../operator/machinery/metrics.ts";
import { backoffDelay, createWorkQueue } from "../../../operator/machinery/queue.ts";
import { RunnelError } from "../../../runtime/errors.ts";
import { waitFor } from "../../helpers/wait.ts";

const quiet = createLogger("test", {}, { write: () => undefined });

describe("work queue", () => {
  it("holds a key once however often it is added", async () => {
    const q = createWorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.depth()).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands out a key in flight; a key added meanwhile comes back after done()", async () => {
    const q = createWorkQueue();
    q.add("a");
    const first = await q.get();
    q.add("a");
    expect(q.depth()).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBeUndefined();
    q.done(first as string);
    await new Promise((r) => setTimeout(r, 0));
    expect(second).toBe("a");
  });

  it("delays by base·2^failures within ±jitter, capped", () => {
    for (const [failures, base] of [
      [1, 500],
      [2, 1000],
      [3, 2000],
      [12, 300_000],
    ] as const) {
      expect(backoffDelay(failures, { random: () => 0 })).toBe(Math.round(base * 0.8));
      expect(backoffDelay(failures, { random: () => 0.999999 })).toBe(Math.round(base * 1.2 - base * 0.4 * 0.000001));
    }
    expect(backoffDelay(40, { maxMs: 1000, jitter: 0 })).toBe(1000);
  });

  it("counts failures per key and forgets them on success", () => {
    const q = createWorkQueue({ backoff: { baseMs: 60_000 } });
    q.addRateLimited("a");
    q.addRateLimited("a");
    q.addRateLimited("b");
    expect(q.failures("a")).toBe(2);
    expect(q.failures("b")).toBe(1);
    q.forget("a");
    expect(q.failures("a")).toBe(0);
    q.shutdown();
  });

  it("keeps the earlier of two delays for a key", async () => {
    const q = createWorkQueue();
    q.addAfter("a", 60_000);
    q.addAfter("a", 5);
    expect(await q.get()).toBe("a");
    q.shutdown();
  });

  it("releases waiting readers on shutdown", async () => {
    const q = createWorkQueue();
    const waiting = q.get();
    q.shutdown();
    expect(await waiting).toBeUndefined();
  });
});

describe("controller", () => {
  it("reconciles different keys concurrently but one key never twice at once", async () => {
    const active = new Set<string>();
    let overlap = false;
    let concurrent = 0;
    let maxConcurrent = 0;
    const seen: string[] = [];
    const c = createController({
      name: "t",
      log: quiet,
      concurrency: 4,
      reconcile: async ({ key }) => {
        if (active.has(key)) overlap = true;
        active.add(key);
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await new Promise((r) => setTimeout(r, 5));
        seen.push(key);
        active.delete(key);
        concurrent--;
        return done();
      },
    });
    const running = c.run();
    for (let i = 0; i < 20; i++) for (const k of ["a", "b", "c", "d"]) c.queue.add(k);
    await waitFor(
      "every key reconciled and nothing in flight",
      () => ["a", "b", "c", "d"].every((k) => seen.includes(k)) && concurrent === 0 && c.queue.depth() === 0,
      {
        intervalMs: 5,
      },
    );
    c.stop();
    await running;
    expect(overlap).toBe(false);
    expect(maxConcurrent).toBeGreaterThan(1);
    // 80 adds of 4 keys collapse into a few reconciles each.
    expect(seen.length).toBeLessThan(20);
  });

  it("retries retriable failures with backoff, drops the others, and requeues on request", async () => {
    const calls = new Map<string, number>();
    const metrics = createOperatorMetrics({ defaultMetrics: false });
    const c = createController({
      name: "t",
      log: quiet,
      metrics,
      backoff: { baseMs: 5, jitter: 0 },
      reconcile: async ({ key, attempt }): Promise<ReconcileResult> => {
        const n = (calls.get(key) ?? 0) + 1;
        calls.set(key, n);
        if (key === "flaky") return n < 3 ? failed(new RunnelError("conflict", true)) : done();
        if (key === "broken") return failed(new RunnelError("bad spec", false));
        if (key === "poll") return n < 3 ? requeueAfter(5) : done();
        expect(attempt).toBe(0);
        return done();
      },
    });
    const running = c.run();
    for (const k of ["flaky", "broken", "poll", "fine"]) c.queue.add(k);
    await waitFor(
      "the retries and requeues to run out",
      () => calls.get("flaky") === 3 && calls.get("poll") === 3 && calls.has("broken") && calls.has("fine"),
      {
        intervalMs: 5,
      },
    );
    c.stop();
    await running;
    expect(calls.get("flaky")).toBe(3);
    expect(calls.get("broken")).toBe(1);
    expect(calls.get("poll")).toBe(3);
    expect(calls.get("fine")).toBe(1);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/runnel_operator_reconcile_total\{controller="t",result="retry"\} 2/);
    expect(text).toMatch(/runnel_operator_reconcile_errors_total\{controller="t",retriable="false"\} 1/);
    expect(text).toMatch(/runnel_operator_queue_retries_total\{controller="t"\} 2/);
  });

  it("treats an unexpected throw as a retriable failure", async () => {
    let n = 0;
    const c = createController({
      name: "t",
      log: quiet,
      backoff: { baseMs: 1, jitter: 0 },
      reconcile: async () => {
        if (++n === 1) throw new Error("socket hang up");
        return done();
      },
    });
    const running = c.run();
    c.queue.add("k");
    await waitFor("the retry after the throw", () => n === 2, { intervalMs: 5 });
    c.stop();
    await running;
    expect(n).toBe(2);
  });
});
