/** Built-in aggregators and OVER (range) aggregation. */
import { describe, expect, it } from "vitest";
import {
  avg,
  collect,
  collectSink,
  collectionSource,
  combine,
  count,
  countDistinct,
  job,
  max,
  min,
  sum,
  topN,
  tumbling,
  type AggregateFunction,
} from "../../../runtime/api/index.ts";
import { ev, evTime, runToEnd, type Ev } from "./helpers.ts";

function fold<A, R>(agg: AggregateFunction<Ev, A, R>, values: Ev[]): R {
  let acc = agg.createAccumulator();
  for (const v of values) acc = agg.add(v, acc);
  return agg.getResult(acc);
}

function foldMerged<A, R>(agg: AggregateFunction<Ev, A, R>, left: Ev[], right: Ev[]): R {
  let a = agg.createAccumulator();
  for (const v of left) a = agg.add(v, a);
  let b = agg.createAccumulator();
  for (const v of right) b = agg.add(v, b);
  return agg.getResult(agg.merge(a, b));
}

const data = [ev("x", 1, 4), ev("y", 2, 9), ev("x", 3, 1), ev("z", 4, 9), ev("x", 5, 6)];

describe("aggregators", () => {
  it("compute count, sum, avg, min, max, count-distinct, collect and top-N", () => {
    expect(fold(count(), data)).toBe(5);
    expect(
      fold(
        sum((e: Ev) => e.v),
        data,
      ),
    ).toBe(29);
    expect(
      fold(
        avg((e: Ev) => e.v),
        data,
      ),
    ).toBeCloseTo(5.8);
    expect(
      fold(
        avg((e: Ev) => e.v),
        [],
      ),
    ).toBeUndefined();
    expect(
      fold(
        min((e: Ev) => e.v),
        data,
      ),
    ).toBe(1);
    expect(
      fold(
        max((e: Ev) => e.v),
        data,
      ),
    ).toBe(9);
    expect(
      fold(
        max((e: Ev) => e.v),
        [],
      ),
    ).toBeUndefined();
    expect(
      fold(
        countDistinct((e: Ev) => e.k),
        data,
      ),
    ).toBe(3);
    expect(
      fold(
        collect((e: Ev) => e.v),
        data,
      ),
    ).toEqual([4, 9, 1, 9, 6]);
    // Ties keep arrival order: y (t=2) before z (t=4).
    expect(fold(topN({ n: 3, score: (e: Ev) => e.v }), data).map((e) => e.t)).toEqual([2, 4, 5]);
    expect(fold(topN({ n: 2, score: (e: Ev) => e.v, ascending: true }), data).map((e) => e.v)).toEqual([1, 4]);
  });

  it("merge like a single fold (session windows depend on it)", () => {
    const l = data.slice(0, 2);
    const r = data.slice(2);
    const all = combine({
      n: count<Ev>(),
      s: sum((e: Ev) => e.v),
      a: avg((e: Ev) => e.v),
      lo: min((e: Ev) => e.v),
      hi: max((e: Ev) => e.v),
      d: countDistinct((e: Ev) => e.k),
      c: collect((e: Ev) => e.t),
      top: topN({ n: 2, score: (e: Ev) => e.v }),
    });
    expect(foldMerged(all, l, r)).toEqual(fold(all, data));
  });
});

describe("OVER range aggregation", () => {
  it("emits each row once the watermark passes it, with the aggregate of [ts - range, ts] of its key", async () => {
    const out = collectSink<string>();
    const j = job("over");
    j.source(
      collectionSource({
        partitions: [[ev("a", 10, 1), ev("a", 30, 2), ev("b", 31, 100), ev("a", 20, 4), ev("a", 30, 8), ev("a", 45, 16), ev("a", 5, 32)]],
      }),
      { watermarks: evTime(15) },
    )
      .keyBy((e) => e.k)
      .over({ rangeMs: 20, aggregate: sum((e: Ev) => e.v), select: (e, s) => `${e.k}@${e.t}:${e.v}->${s}` })
      .sink(out);
    const p = await runToEnd(j.build(), { batchSize: 1 });
    expect(out.values()).toEqual([
      "a@10:1->1",
      "a@20:4->5",
      "a@30:2->15", // peers at 30 share a result: 1 + 4 + 2 + 8
      "a@30:8->15",
      "b@31:100->100",
      "a@45:16->26", // 10 dropped (< 25)
    ]);
    expect(p.lateDropped).toBe(1); // a@5 arrives at watermark 29
    expect(p.stateSize).toBe(0); // cleanup timers freed every key's retained rows
  });
});

describe("window function shaping", () => {
  it("passes key and window to the shaping function and stamps results with the window's max timestamp", async () => {
    const out = collectSink<{ k: string; start: number; stats: { n: number; avg: number | undefined } }>();
    const j = job("shape");
    j.source(collectionSource({ partitions: [[ev("a", 1, 2), ev("a", 2, 4), ev("b", 12, 1)]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .aggregate(combine({ n: count<Ev>(), avg: avg((e: Ev) => e.v) }), (stats, { key, window }) => ({ k: key, start: window.start, stats }))
      .sink(out);
    await runToEnd(j.build());
    expect(out.records.map((r) => [r.value, r.ts])).toEqual([
      [{ k: "a", start: 0, stats: { n: 2, avg: 3 } }, 9],
      [{ k: "b", start: 10, stats: { n: 1, avg: 1 } }, 19],
    ]);
  });
});
