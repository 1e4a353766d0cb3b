/** Same input, same output: across runs, batch sizes and (as a multiset) parallelism. */
import { describe, expect, it } from "vitest";
import { collectSink, count, job, sliding, topN, tumbling } from "../../../runtime/api/index.ts";
import { generatorSource, type GenEvent } from "../../../runtime/connectors/generator.ts";
import { runToEnd } from "./helpers.ts";

function pipeline(options: { parallelism?: number } = {}) {
  const out = collectSink<string>();
  const j = job("det", options);
  const events = j.source(generatorSource({ partitions: 3, countPerPartition: 2000, ratePerSec: 500, keys: 50, skew: 2, maxOutOfOrdernessMs: 50, seed: 42 }), {
    watermarks: { timestamp: (e: GenEvent) => e.ts, maxOutOfOrdernessMs: 50 },
  });
  const perKey = events
    .filter((e) => e.rnd < 0.9)
    .keyBy((e) => e.key)
    .window(sliding({ sizeMs: 1000, slideMs: 250 }))
    .aggregate(count<GenEvent>(), (n, i) => ({ key: i.key, end: i.window.end, n }));
  perKey
    .keyBy((r) => r.end)
    .window(tumbling({ sizeMs: 250 }))
    // Ties broken by key: arrival order across tasks depends on the number of tasks.
    .aggregate(
      topN({ n: 3, score: (r: { n: number; key: number }) => r.n * 1e6 - r.key }),
      (top, i) => `${i.window.end}:${top.map((t) => `${t.key}=${t.n}`).join(",")}`,
    )
    .sink(out);
  return { graph: j.build(), out };
}

describe("determinism", () => {
  it("produces identical output, in identical order, on every run and batch size", async () => {
    const a = pipeline();
    await runToEnd(a.graph, { batchSize: 128 });
    const b = pipeline();
    await runToEnd(b.graph, { batchSize: 128 });
    expect(a.out.values().length).toBeGreaterThan(20);
    expect(b.out.values()).toEqual(a.out.values());
    const c = pipeline();
    await runToEnd(c.graph, { batchSize: 1000 });
    expect([...c.out.values()].sort()).toEqual([...a.out.values()].sort());
  });

  it("produces the same results with a different number of tasks", async () => {
    const a = pipeline();
    await runToEnd(a.graph);
    const b = pipeline({ parallelism: 5 });
    await runToEnd(b.graph);
    expect([...b.out.values()].sort()).toEqual([...a.out.values()].sort());
    expect(new Set(b.out.records.map((r) => r.task)).size).toBeGreaterThan(1);
  });
});
