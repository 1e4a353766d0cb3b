/**
 * Pre-aggregation before a window's keyBy (ADR 40): the same results, late-record counts and
 * emission timestamps as records sent one by one, on random out-of-order input over several
 * tasks and many small rounds; fewer records cross the keyBy; the planner leaves alone every
 * window whose results would change; a partial survives the bytes of a repartition topic.
 */
import { describe, expect, it } from "vitest";
import {
  collect,
  collectSink,
  collectionSource,
  combine,
  count,
  job,
  max,
  session,
  sliding,
  sum,
  topN,
  tumbling,
  type AggregateFunction,
  type WindowInfo,
} from "../../../runtime/api/index.ts";
import type { JobConfig, JobGraph } from "../../../runtime/graph/graph.ts";
import { planPreAggregation, whyNotPreAggregated } from "../../../runtime/graph/pre-aggregate.ts";
import { decodeRecord, encodeRecord } from "../../../runtime/exec/record-codec.ts";
import { operatorCounts } from "../../../runtime/observe/engine-metrics.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { asPartial, partialAwareAggregate, preAggregateOperator, type Partial } from "../../../runtime/window/pre-aggregate.ts";
import type { WindowAssigner } from "../../../runtime/window/types.ts";
import { countDistinct } from "../../../runtime/window/aggregators.ts";
import { evTime, type Ev } from "./helpers.ts";

/** A seeded PRNG, so a failing case can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Events of `keys` keys over `partitions` partitions, out of order by up to `jitter` ms (some beyond the watermark bound: late). */
function events(seed: number, partitions: number, perPartition: number, keys: number, jitter: number): Ev[][] {
  const r = rng(seed);
  return Array.from({ length: partitions }, (_, p) =>
    Array.from({ length: perPartition }, (_, i) => ({ k: `k${Math.floor(r() ** 2 * keys)}`, t: i + p - Math.floor(r() * jitter), v: Math.floor(r() * 100) })),
  );
}

const aggregate = () =>
  combine({
    n: count<Ev>(),
    top: max<Ev>((e) => e.v),
    distinct: countDistinct<Ev>((e) => e.v % 10),
    best: topN<Ev>({ n: 3, score: (e) => e.v }),
    vs: collect<Ev, number>((e) => e.v),
  });

type Out = { key: string; start: number; end: number; r: unknown };

/** Runs keyBy → window(assigner) → aggregate over `input`; its results (as sorted lines), late drops and the pre-aggregation's record counts. */
async function run(input: Ev[][], assigner: WindowAssigner, config: JobConfig, batchSize: number) {
  const out = collectSink<Out>();
  const j = job("pre", { ...config, parallelism: 3 });
  j.source(collectionSource({ partitions: input }), { watermarks: evTime(8) })
    .keyBy((e) => e.k)
    .window(assigner)
    .aggregate(aggregate(), (r, { key, window }: WindowInfo<string>) => ({ key, start: window.start, end: window.end, r }))
    .uid("w")
    .sink(out);
  const engine = createEngine({ graph: j.build(), idleSleepMs: 0, batchSize });
  const progress = await engine.run();
  const counts = operatorCounts(engine.state).filter((c) => c.operator === "w.pre-aggregate");
  const sumOf = (f: "recordsIn" | "recordsOut"): number => counts.reduce((n, c) => n + c[f], 0);
  return {
    lines: out.records.map((x) => `${x.ts} ${JSON.stringify(x.value)}`).sort(),
    lateDropped: progress.lateDropped,
    kinds: engine.state.graph.nodes.map((n) => n.spec.kind),
    folded: { in: sumOf("recordsIn"), out: sumOf("recordsOut") },
  };
}

describe("pre-aggregation before a window's keyBy", () => {
  const assigners: [string, WindowAssigner][] = [
    ["tumbling", tumbling({ sizeMs: 20 })],
    ["tumbling with an offset", tumbling({ sizeMs: 30, offsetMs: 7 })],
    ["sliding", sliding({ sizeMs: 30, slideMs: 10 })],
    ["sliding, slide not dividing size", sliding({ sizeMs: 25, slideMs: 10, offsetMs: 3 })],
  ];
  for (const [name, assigner] of assigners) {
    it(`gives the results of records sent one by one: ${name}`, async () => {
      let late = 0;
      for (const seed of [1, 2, 3]) {
        const input = events(seed, 3, 400, 6, 40);
        for (const batchSize of [1, 7, 64]) {
          const folded = await run(input, assigner, { preAggregate: true }, batchSize);
          const plain = await run(input, assigner, {}, batchSize);
          expect(folded.kinds).toContain("preAggregate");
          expect(plain.kinds).not.toContain("preAggregate");
          expect(folded.lines).toEqual(plain.lines);
          expect(folded.lateDropped).toBe(plain.lateDropped);
          late += plain.lateDropped;
          expect(folded.folded.in).toBe(1200);
          // Records of one key and pane in a round cross as one (64 records a round over 6 keys and 3–6 panes).
          if (batchSize === 64) expect(folded.folded.out).toBeLessThan(folded.folded.in * 0.8);
        }
      }
      // Some records came behind the watermark: late ones are dropped (and counted) the same way.
      expect(late).toBeGreaterThan(0);
    });
  }

  it("is planned only where the results are the same", () => {
    const base = { assigner: tumbling({ sizeMs: 10 }), trigger: { kind: "eventTime" as const }, allowedLatenessMs: 0 };
    const fn = (a: AggregateFunction<never, unknown, unknown>) => ({
      kind: "aggregate" as const,
      aggregate: a as AggregateFunction<unknown, unknown, unknown>,
    });
    const spec = { kind: "window" as const, ...base, fn: fn(count()) };
    expect(whyNotPreAggregated(spec)).toBeUndefined();
    expect(whyNotPreAggregated({ ...spec, fn: fn(combine({ n: count<Ev>(), m: max<Ev>((e) => e.v) })) })).toBeUndefined();
    expect(whyNotPreAggregated({ ...spec, fn: fn(sum<Ev>((e) => e.v)) })).toMatch(/merge is not exact/);
    expect(whyNotPreAggregated({ ...spec, fn: fn(combine({ n: count<Ev>(), s: sum<Ev>((e) => e.v) })) })).toMatch(/merge is not exact/);
    expect(whyNotPreAggregated({ ...spec, allowedLatenessMs: 5 })).toMatch(/allowed lateness/);
    expect(whyNotPreAggregated({ ...spec, lateTag: "late" })).toMatch(/side output/);
    expect(whyNotPreAggregated({ ...spec, trigger: { kind: "count", count: 3 } })).toMatch(/count trigger/);
    expect(whyNotPreAggregated({ ...spec, assigner: session({ gapMs: 5 }) })).toMatch(/session/);
    expect(whyNotPreAggregated({ ...spec, assigner: tumbling({ sizeMs: 10, time: "processing" }) })).toMatch(/processing-time/);
    expect(whyNotPreAggregated({ ...spec, fn: { kind: "process", process: () => {} } })).toMatch(/process window function/);
  });

  it("is planned by workers before repartition topics or where asked, not by the job builder", () => {
    const build = (config: JobConfig) => {
      const j = job("where", config);
      j.source(collectionSource<Ev>({ partitions: [[]] }), { watermarks: evTime() })
        .keyBy((e) => e.k)
        .window(tumbling({ sizeMs: 10 }))
        .aggregate(count<Ev>())
        .sink(collectSink());
      return j.build();
    };
    const kinds = (g: JobGraph) => g.nodes.map((n) => n.spec.kind);
    expect(kinds(build({}))).toEqual(["source", "window", "sink"]);
    expect(kinds(planPreAggregation(build({})))).toEqual(["source", "preAggregate", "window", "sink"]);
    expect(kinds(planPreAggregation(planPreAggregation(build({}))))).toEqual(["source", "preAggregate", "window", "sink"]);
    expect(kinds(planPreAggregation(build({ preAggregate: false })))).toEqual(["source", "window", "sink"]);
    expect(kinds(createEngine({ graph: build({}) }).state.graph)).toEqual(["source", "window", "sink"]);
    expect(kinds(createEngine({ graph: build({ preAggregate: true }) }).state.graph)).toEqual(["source", "preAggregate", "window", "sink"]);
  });

  it("leaves a keyBy alone whose input is partitioned by its key already", () => {
    const j = job("colocated");
    j.source(collectionSource<Ev>({ partitions: [[]] }), { watermarks: evTime() })
      .keyBy((e) => e.k, { colocated: true })
      .window(tumbling({ sizeMs: 10 }))
      .aggregate(count<Ev>())
      .sink(collectSink());
    expect(planPreAggregation(j.build()).nodes.map((n) => n.spec.kind)).toEqual(["source", "window", "sink"]);
  });

  it("sends a lone record as it is and several of one key and pane as one partial, in the order keys came", async () => {
    const sent: [unknown, number][] = [];
    const op = preAggregateOperator({ assigner: sliding({ sizeMs: 20, slideMs: 10 }), aggregate: count(), key: (e: Ev) => e.k });
    await op.open({ output: { emit: (v: unknown, ts: number) => sent.push([v, ts]), emitSide: () => {} } } as never);
    for (const e of [
      { k: "b", t: 11 },
      { k: "a", t: 1 },
      { k: "b", t: 3 },
      { k: "b", t: 15 },
      { k: "b", t: 19 },
    ])
      op.processElement(0, { ...e, v: 0 }, e.t, undefined);
    op.flush?.();
    const plain = (p: Partial) => ({ key: p.key, acc: p.acc, n: p.n });
    expect(sent.map(([v, ts]) => [asPartial(v) ? plain(asPartial(v) as Partial) : v, ts])).toEqual([
      [{ key: "b", acc: 3, n: 3 }, 11],
      [{ k: "b", t: 3, v: 0 }, 3],
      [{ k: "a", t: 1, v: 0 }, 1],
    ]);
    op.flush?.();
    expect(sent).toHaveLength(3);
  });

  it("keeps a partial a partial through a repartition topic's bytes, and the window merges it", () => {
    const agg = countDistinct<Ev>((e) => e.v) as AggregateFunction<unknown, Set<unknown>, number>;
    const sent: unknown[] = [];
    const op = preAggregateOperator({ assigner: tumbling({ sizeMs: 10 }), aggregate: agg, key: (e: Ev) => e.k });
    void op.open({ output: { emit: (v: unknown) => sent.push(v), emitSide: () => {} } } as never);
    for (const v of [1, 2, 2, 3]) op.processElement(0, { k: "a", t: 1, v }, 1, undefined);
    op.flush?.();
    const back = decodeRecord(encodeRecord(sent[0]));
    expect(asPartial(back)).toMatchObject({ key: "a", n: 4 });
    const window = partialAwareAggregate(agg);
    const acc = window.add({ k: "a", t: 2, v: 9 }, window.createAccumulator());
    expect(window.getResult(window.add(back, acc))).toBe(4);
    expect(asPartial({ k: "a" })).toBeUndefined();
  });
});
