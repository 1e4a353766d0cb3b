// Job metrics read from a running engine and a worker's statistics: records in/out per
// operator and task (forward and exchange inputs), end-to-end latency at sinks against the
// engine's clock, checkpoint duration/size/failures, source dead letters and consumer lag.
import { describe, expect, it } from "vitest";
import { collectionSource, collectSink, count, job, tumbling } from "../../../runtime/api/index.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { kafkaPositions, operatorCounts, sinkLatencies, sourceTopic } from "../../../runtime/observe/engine-metrics.ts";
import { BucketHistogram, CHECKPOINT_SECONDS_BUCKETS } from "../../../runtime/observe/histogram.ts";
import { createJobMetrics } from "../../../runtime/observe/metrics.ts";
import { manualClock } from "../../../runtime/time/clock.ts";

interface Ev {
  k: string;
  t: number;
}

const progress = () => ({
  rounds: 1,
  recordsIn: 0,
  recordsOut: 0,
  lateDropped: 0,
  watermark: 0,
  stateSize: 0,
  finished: false,
  checkpoints: 0,
  lastCheckpoint: -1,
});

describe("job metrics", () => {
  it("counts records in and out per operator and task, through forward and keyed edges", async () => {
    const j = job("ops");
    const evs = (ks: string[]): Ev[] => ks.map((k, i) => ({ k, t: i }));
    const src = j.source(collectionSource<Ev>({ partitions: [evs(["a", "b", "x", "a"]), evs(["b", "x"])] }), {
      uid: "src",
      watermarks: { timestamp: (e) => e.t },
    });
    src
      .filter((e) => e.k !== "x")
      .uid("no-x")
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 100 }))
      .aggregate(count<Ev>(), (n, { key }) => ({ key, n }))
      .uid("counts")
      .sink(collectSink<{ key: string; n: number }>(), { uid: "out" });
    const engine = createEngine({ graph: j.build(), idleSleepMs: 0 });
    await engine.run();
    const sum = (op: string, field: "recordsIn" | "recordsOut"): number =>
      operatorCounts(engine.state)
        .filter((c) => c.operator === op)
        .reduce((n, c) => n + c[field], 0);
    expect([sum("src", "recordsIn"), sum("src", "recordsOut")]).toEqual([6, 6]);
    expect([sum("no-x", "recordsIn"), sum("no-x", "recordsOut")]).toEqual([6, 4]);
    expect([sum("counts", "recordsIn"), sum("counts", "recordsOut")]).toEqual([4, 2]); // a: 2, b: 2
    expect([sum("out", "recordsIn"), sum("out", "recordsOut")]).toEqual([2, 2]);
    expect(operatorCounts(engine.state).filter((c) => c.operator === "src")).toEqual([
      { operator: "src", task: 0, recordsIn: 4, recordsOut: 4 },
      { operator: "src", task: 1, recordsIn: 2, recordsOut: 2 },
    ]);

    const text = await createJobMetrics({ job: "ops", progress: () => engine.progress(), engineState: () => engine.state }).metrics();
    expect(text).toContain('runnel_operator_records_in_total{job="ops",operator="no-x",task="0"} 4');
    expect(text).toContain('runnel_operator_records_out_total{job="ops",operator="no-x",task="1"} 1');
    expect(text).toContain("# TYPE runnel_end_to_end_latency_seconds histogram");
    expect(text).toContain('runnel_end_to_end_latency_seconds_count{job="ops",operator="out"} 2');
  });

  it("observes processing time minus event time at sinks, per record", async () => {
    const clock = manualClock(10_000);
    const j = job("latency");
    const events = j.source(
      collectionSource<Ev>({
        partitions: [
          [
            { k: "a", t: 10_000 },
            { k: "b", t: 9_990 },
            { k: "c", t: 9_000 },
            { k: "d", t: 12_000 },
          ],
        ],
      }),
      {
        watermarks: { timestamp: (e) => e.t },
      },
    );
    events.sink(collectSink<Ev>(), { uid: "sink" });
    events.sink(collectSink<Ev>("repartition:internal"), { uid: "shuffle" }); // an internal sink, not an end
    const engine = createEngine({ graph: j.build(), idleSleepMs: 0, clock });
    await engine.run();
    expect(sinkLatencies(engine.state).length).toBe(1);
    const [series] = sinkLatencies(engine.state);
    expect(series?.labels).toEqual({ operator: "sink" });
    const h = series?.histogram as BucketHistogram;
    expect(h.count).toBe(4);
    expect(h.sum).toBeCloseTo(1.01); // 0 + 0.01 + 1 + 0 (a future timestamp counts as 0)
    const le = (bound: number): number => h.counts.slice(0, h.bounds.indexOf(bound) + 1).reduce((a, b) => a + b, 0);
    expect([le(0.005), le(0.01), le(0.5), le(1)]).toEqual([2, 3, 3, 4]);
  });

  it("reports checkpoints, source dead letters and consumer lag of a worker", async () => {
    const durations = new BucketHistogram(CHECKPOINT_SECONDS_BUCKETS);
    durations.observe(0.2);
    durations.observe(3);
    const stats = { count: 2, lastDurationMs: 3000, lastBytes: 4096, failures: 1, durations };
    const registry = createJobMetrics({
      job: "w",
      progress,
      checkpoints: () => stats,
      sourceDeadLetters: () => 3,
      consumerLag: async () => [
        { topic: "orders", partition: 0, lag: 12 },
        { topic: "orders", partition: 3, lag: 0 },
      ],
    });
    const text = await registry.metrics();
    expect(text).toContain('runnel_checkpoint_duration_seconds_bucket{job="w",le="0.25"} 1');
    expect(text).toContain('runnel_checkpoint_duration_seconds_bucket{job="w",le="+Inf"} 2');
    expect(text).toContain('runnel_checkpoint_duration_seconds_count{job="w"} 2');
    expect(text).toContain('runnel_checkpoint_size_bytes{job="w"} 4096');
    expect(text).toContain('runnel_checkpoint_failures_total{job="w"} 1');
    expect(text).toContain('runnel_source_dead_letters_total{job="w"} 3');
    expect(text).toContain("# TYPE runnel_consumer_lag_records gauge");
    expect(text).toContain('runnel_consumer_lag_records{job="w",topic="orders",partition="0"} 12');
    expect(text).toContain('runnel_consumer_lag_records{job="w",topic="orders",partition="3"} 0');
  });

  it("leaves out what the source does not offer", async () => {
    const text = await createJobMetrics({ job: "j", progress }).metrics();
    for (const name of ["runnel_operator_records_in_total", "runnel_checkpoint_size_bytes", "runnel_consumer_lag_records", "runnel_source_dead_letters_total"])
      expect(text).not.toContain(name);
    expect(text).toContain("runnel_watermark_delay_seconds");
  });

  it("finds the Kafka topic and position of source partitions", async () => {
    expect(sourceTopic("kafka:orders")).toBe("orders");
    expect(sourceTopic("repartition:job.ns.keyed-0")).toBe("job.ns.keyed-0");
    expect(sourceTopic("collection")).toBeUndefined();
    expect(sourceTopic("kafka:")).toBeUndefined();
    const j = job("positions");
    j.source(collectionSource<number>({ partitions: [[1, 2, 3], [4]], name: "kafka:numbers" }), { uid: "numbers" }).sink(collectSink<number>());
    const engine = createEngine({ graph: j.build(), idleSleepMs: 0 });
    await engine.open();
    await engine.round();
    expect(kafkaPositions(engine.state)).toEqual([
      { topic: "numbers", partition: 0, position: 3 },
      { topic: "numbers", partition: 1, position: 1 },
    ]);
    await engine.close();
  });
});
