/**
 * `npx node bench/declarative.ts`: the same Nexmark queries declaratively (a StreamJob pipeline,
 * compiled) and with the typed API, in one run, on the runtime engineer's Nexmark generator into a
 * blackhole; prints events/s of each and the ratio (target: declarative ≥ 0.7× typed).
 * Options: --events N (default 1,000,000), --runs N (median and spread of, default 3), --queries q0,q1,q2,q5s.
 * `npm run bench` runs it too (bench/main.ts imports declarativeVsTyped) and writes docs/benchmarks.md.
 */
import { parseArgs } from "node:util";
import { job, sliding, type WindowInfo } from "../runtime/api/index.ts";
import { blackholeSink, type BlackholeSink } from "../runtime/connectors/sinks.ts";
import { createEngine } from "../runtime/exec/engine.ts";
import type { JobGraph } from "../runtime/graph/graph.ts";
import { compilePipeline } from "../runtime/pipeline/compile.ts";
import { parseStreamJob } from "../runtime/spec/validate.ts";
import { checkDocument } from "../runtime/spec/check.ts";
import type { Source } from "../runtime/connectors/types.ts";
import { nexmarkSource, type Bid, type NexmarkEvent } from "./nexmark/model.ts";
import { q0, q1, q2 } from "./nexmark/queries.ts";
import { digestSink } from "./digest.ts";
import { fmtSpread, spreadOf, type Spread } from "./spread.ts";

const bids = {
  id: "events",
  kafka: { topic: "nexmark" },
  timestamp: { field: "dateTime" },
  fields: { type: "string", auction: "double", bidder: "double", price: "double", channel: "string", dateTime: "double" },
};
const onlyBids = { id: "bids", input: "events", filter: { condition: "record.type == 'bid'" } };

/** The declarative pipelines (steps after the source) and their output stream. */
const pipelines: Record<string, { steps: object[]; out: string }> = {
  q0: {
    steps: [
      onlyBids,
      {
        id: "q0",
        input: "bids",
        project: { fields: { auction: "record.auction", bidder: "record.bidder", price: "record.price", dateTime: "record.dateTime" } },
      },
    ],
    out: "q0",
  },
  q1: {
    steps: [
      onlyBids,
      {
        id: "q1",
        input: "bids",
        project: { fields: { auction: "record.auction", bidder: "record.bidder", price: "math.round(record.price * 0.908)", dateTime: "record.dateTime" } },
      },
    ],
    out: "q1",
  },
  q2: {
    steps: [
      { id: "q2f", input: "events", filter: { condition: "record.type == 'bid' && record.auction % 123 == 0.0" } },
      { id: "q2", input: "q2f", project: { fields: { auction: "record.auction", price: "record.price" } } },
    ],
    out: "q2",
  },
  q5s: {
    steps: [
      onlyBids,
      { id: "by-auction", input: "bids", keyBy: { key: "record.auction" } },
      {
        id: "q5s",
        input: "by-auction",
        window: {
          type: "sliding",
          size: "10s",
          slide: "2s",
          aggregations: [{ name: "n", fn: "count" }],
          select: { auction: "key", end: "window.end", n: "record.n" },
        },
      },
    ],
    out: "q5s",
  },
};

/** q5's first stage (bids per auction in 10 s windows every 2 s) on the typed API. */
function q5s(source: Source<NexmarkEvent>, sink: BlackholeSink<unknown>): JobGraph {
  const j = job("q5s");
  j.source(source, { watermarks: { timestamp: (e) => e.dateTime } })
    .filter((e): e is Bid => e.type === "bid")
    .keyBy((b) => b.auction)
    .window(sliding({ sizeMs: 10_000, slideMs: 2_000 }))
    .aggregate(
      { createAccumulator: () => 0, add: (_b: Bid, n: number) => n + 1, getResult: (n: number) => n, merge: (a: number, b: number) => a + b },
      (n, i: WindowInfo<number>) => ({ auction: i.key, end: i.window.end, n }),
    )
    .sink(sink);
  return j.build();
}

const typed: Record<string, (source: Source<NexmarkEvent>, sink: BlackholeSink<unknown>) => JobGraph> = { q0, q1, q2, q5s };

/** Throws unless `doc` passes `runnel validate`'s checks; `label` names it in the error. */
export async function assertValid(doc: object, label: string): Promise<void> {
  const errors = (await checkDocument(doc)).findings.filter((f) => f.severity === "error");
  if (errors.length > 0) throw new Error(`${label}: ${JSON.stringify(errors)}`);
}

/** The declarative (StreamJob pipeline) version of a query, compiled. */
export async function declarative(name: string, events: number, sink: BlackholeSink<unknown>): Promise<JobGraph> {
  const p = pipelines[name] as { steps: object[]; out: string };
  const doc = {
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name: `decl-${name}` },
    spec: { pipeline: { sources: [bids], steps: p.steps, sinks: [{ id: "out", input: p.out, kafka: { topic: "out" } }] } },
  };
  await assertValid(doc, name);
  return compilePipeline(parseStreamJob(doc).value, { mode: "local", baseDir: ".", sourceOverride: () => nexmarkSource({ events }), sinkOverride: () => sink })
    .graph;
}

/** Builds a job's graph around a sink (checking and compiling it first: not timed). */
export type BuildJob = (sink: BlackholeSink<unknown>) => JobGraph | Promise<JobGraph>;

/** Events/s of one run of a job into a blackhole, and the records it wrote. */
export async function timeOnce(events: number, build: BuildJob): Promise<{ rate: number; out: number }> {
  const sink = blackholeSink<unknown>();
  const graph = await build(sink);
  const t0 = performance.now();
  await createEngine({ graph }).run();
  return { rate: events / ((performance.now() - t0) / 1000), out: sink.count };
}

/** The digest of one untimed run's results (digest.ts). */
async function digestOf(build: BuildJob): Promise<string> {
  const sink = digestSink<unknown>();
  await createEngine({ graph: await build(sink) }).run();
  return sink.digest();
}

/**
 * Two builds of one job run `runs` times each, alternating (the machine's load changes while a
 * benchmark runs): each one's median and spread; then each once more untimed into a digesting
 * sink, `same` telling whether both wrote the same records.
 */
export async function alternating(
  events: number,
  runs: number,
  a: BuildJob,
  b: BuildJob,
): Promise<[{ rate: Spread; out: number }, { rate: Spread; out: number }, { same: boolean }]> {
  const ra: number[] = [];
  const rb: number[] = [];
  let outs: [number, number] = [0, 0];
  for (let r = 0; r < runs; r++) {
    const ta = await timeOnce(events, a);
    const tb = await timeOnce(events, b);
    ra.push(ta.rate);
    rb.push(tb.rate);
    outs = [ta.out, tb.out];
  }
  const same = (await digestOf(a)) === (await digestOf(b));
  return [{ rate: spreadOf(ra), out: outs[0] }, { rate: spreadOf(rb), out: outs[1] }, { same }];
}

/** One query measured both ways in the same run. */
export interface DeclarativeRow {
  query: string;
  typed: Spread;
  declarative: Spread;
  /** Results of the typed and the declarative job (equal when both compute the same). */
  results: [number, number];
  /** Both wrote the same records (compared by digest, untimed). */
  same: boolean;
}

/** Runs each query typed and declaratively, alternating, `runs` times each, on `events` Nexmark events. */
export async function declarativeVsTyped(options: { events: number; runs: number; queries?: string[] }): Promise<DeclarativeRow[]> {
  const rows: DeclarativeRow[] = [];
  for (const q of options.queries ?? Object.keys(pipelines)) {
    const t = typed[q];
    if (!t || !pipelines[q]) throw new Error(`unknown query ${q}; known: ${Object.keys(pipelines).join(", ")}`);
    const [a, d, check] = await alternating(
      options.events,
      options.runs,
      (sink) => t(nexmarkSource({ events: options.events }), sink),
      (sink) => declarative(q, options.events, sink),
    );
    rows.push({ query: q, typed: a.rate, declarative: d.rate, results: [a.out, d.out], same: check.same });
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "1000000" },
      runs: { type: "string", default: "3" },
      queries: { type: "string", default: "q0,q1,q2,q5s" },
    },
  });
  const events = Number(values.events);
  const runs = Number(values.runs);
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  console.log(`${fmt(events)} Nexmark events, median (slowest–fastest) of ${runs}`);
  console.log("| query | typed events/s | declarative events/s | ratio | results |");
  console.log("|---|---|---|---|---|");
  for (const r of await declarativeVsTyped({ events, runs, queries: values.queries.split(",") })) {
    const ratio = r.declarative.median / r.typed.median;
    console.log(
      `| ${r.query} | ${fmtSpread(r.typed)} | ${fmtSpread(r.declarative)} | ${ratio.toFixed(2)}× ${ratio >= 0.7 ? "" : "(below 0.7)"} | ${fmt(r.results[0])} / ${fmt(r.results[1])}${r.same ? ", same records" : ", **records differ**"} |`,
    );
  }
}

// Standalone when run directly; bench/main.ts imports declarativeVsTyped for `npm run bench`.
if (import.meta.main) await main();
