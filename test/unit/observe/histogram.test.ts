// Hot-path histograms: observe() puts a value in the first bucket whose bound is >= it
// (Prometheus `le`), merges add up, and the registry reports cumulative buckets, _sum and _count
// from the BucketHistogram at scrape time.
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { InternalError } from "../../../runtime/errors.ts";
import {
  BucketHistogram,
  histogramSamples,
  LATENCY_SECONDS_BUCKETS,
  LatencyRecorder,
  MAX_BUCKETS,
  mergeSeries,
  registerScrapedHistogram,
} from "../../../runtime/observe/histogram.ts";

describe("BucketHistogram", () => {
  it("counts each value in the first bucket whose upper bound is at least the value", () => {
    const h = new BucketHistogram([1, 2, 5]);
    for (const v of [0, 1, 1.5, 2, 4.9, 5, 5.1, 100]) h.observe(v);
    expect([...h.counts]).toEqual([2, 2, 2, 2]); // <=1, <=2, <=5, +Inf
    expect(h.count).toBe(8);
    expect(h.sum).toBeCloseTo(119.5);
    expect(JSON.stringify(h)).toBe(JSON.stringify({ count: 8, sum: h.sum }));
  });

  it("reports cumulative buckets with le labels, then _sum and _count", () => {
    const h = new BucketHistogram([0.5, 1]);
    h.observe(0.1);
    h.observe(0.7);
    h.observe(3);
    const samples = histogramSamples("x_seconds", { labels: { job: "j" }, histogram: h });
    expect(samples.map((s) => [s.metricName, s.labels.le, s.value])).toEqual([
      ["x_seconds_bucket", "0.5", 1],
      ["x_seconds_bucket", "1", 2],
      ["x_seconds_bucket", "+Inf", 3],
      ["x_seconds_sum", undefined, 3.8],
      ["x_seconds_count", undefined, 3],
    ]);
  });

  it("merges series with the same labels and refuses different bounds", () => {
    const a = new BucketHistogram([1, 2]);
    const b = new BucketHistogram([1, 2]);
    a.observe(0.5);
    b.observe(1.5);
    b.observe(9);
    const merged = mergeSeries([
      { labels: { op: "s" }, histogram: a },
      { labels: { op: "s" }, histogram: b },
      { labels: { op: "t" }, histogram: a },
    ]);
    expect(merged.map((s) => [s.labels.op, [...s.histogram.counts]])).toEqual([
      ["s", [1, 1, 1]],
      ["t", [1, 0, 0]],
    ]);
    expect([...a.counts]).toEqual([1, 0, 0]); // inputs untouched
    expect(() => a.add(new BucketHistogram([1, 3]))).toThrow(/different bounds/);
  });

  it("validates its bounds", () => {
    expect(() => new BucketHistogram([])).toThrow(InternalError);
    expect(() => new BucketHistogram([2, 1])).toThrow(/ascend/);
    expect(() => new BucketHistogram(Array.from({ length: MAX_BUCKETS + 1 }, (_, i) => i + 1))).toThrow(InternalError);
  });

  it("is read by the registry at scrape time", async () => {
    const registry = new Registry();
    const h = new BucketHistogram([0.1, 1]);
    registerScrapedHistogram({
      registry,
      name: "t_latency_seconds",
      help: "A test.",
      labelNames: ["job"],
      buckets: [0.1, 1],
      read: () => [{ labels: { job: "j" }, histogram: h }],
    });
    expect(await registry.metrics()).toContain('t_latency_seconds_count{job="j"} 0');
    h.observe(0.05);
    h.observe(0.5);
    const text = await registry.metrics();
    expect(text).toContain("# TYPE t_latency_seconds histogram");
    expect(text).toContain('t_latency_seconds_bucket{job="j",le="0.1"} 1');
    expect(text).toContain('t_latency_seconds_bucket{job="j",le="+Inf"} 2');
    expect(text).toContain('t_latency_seconds_sum{job="j"} 0.55');
    expect(text).toContain('t_latency_seconds_count{job="j"} 2');
  });
});

describe("LatencyRecorder", () => {
  it("buckets now minus each noted timestamp like observe() would, with future and NaN timestamps as 0", () => {
    const now = 1_000_000_000;
    const latenciesMs = [0, 1, 5, 6, 10, 24, 25, 26, 99, 100, 250, 499, 500, 1_000, 2_500, 60_000, 899_999, 900_000, 900_001, 86_400_000, -5, -1_000];
    for (let i = 0; i < 500; i++) latenciesMs.push(Math.floor(Math.abs(Math.sin(i)) * 10 ** (1 + (i % 7))));
    const recorder = new LatencyRecorder(() => now);
    const reference = new BucketHistogram(LATENCY_SECONDS_BUCKETS);
    for (const ms of latenciesMs) {
      recorder.record(now - ms);
      reference.observe(Math.max(0, ms) / 1000);
    }
    recorder.record(Number.NaN);
    reference.observe(0);
    expect(recorder.histogram.count).toBe(0); // nothing observed before the flush
    recorder.flush(now);
    expect([...recorder.histogram.counts]).toEqual([...reference.counts]);
    expect(recorder.histogram.count).toBe(reference.count);
    expect(recorder.histogram.sum).toBeCloseTo(reference.sum, 6);
  });

  it("keeps at most 64 Ki timestamps, observing them with a clock read when full", () => {
    let now = 5_000;
    const recorder = new LatencyRecorder(() => now);
    for (let i = 0; i < 65_536; i++) recorder.record(4_000);
    now = 6_000;
    recorder.record(4_000); // full: the 65,536 noted so far are observed at 6,000 (2 s)
    expect(recorder.histogram.count).toBe(65_536);
    expect(recorder.histogram.sum).toBeCloseTo(65_536 * 2);
    recorder.flush(4_500);
    expect(recorder.histogram.count).toBe(65_537);
  });
});
