/**
 * `node bench/sql.ts`: the Nexmark queries of bench/declarative.ts as SQL (spec.sql, compiled by
 * runtime/sql) and as the declarative pipeline, in one run, on the same Nexmark generator into a
 * blackhole; prints events/s of each and the ratio (target: SQL ≥ 0.8× the pipeline).
 * Options: --events N (default 1,000,000), --runs N (alternating, median and spread of each; default 4), --queries q0,q1,q2,q5s.
 * `npm run bench` runs it too (bench/main.ts imports sqlVsPipeline) and writes docs/benchmarks.md.
 */
import { parseArgs } from "node:util";
import type { BlackholeSink } from "../runtime/connectors/sinks.ts";
import type { JobGraph } from "../runtime/graph/graph.ts";
import { parseStreamJob } from "../runtime/spec/validate.ts";
import { compileSql } from "../runtime/sql/compile.ts";
import { alternating, assertValid, declarative } from "./declarative.ts";
import { fmtSpread, type Spread } from "./spread.ts";
import { nexmarkSource } from "./nexmark/model.ts";

const EVENTS = `CREATE TABLE events (
  type STRING, auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, \`dateTime\` BIGINT,
  ts AS TO_TIMESTAMP_LTZ(\`dateTime\`, 3),
  WATERMARK FOR ts AS ts
) WITH ('connector' = 'kafka', 'topic' = 'nexmark', 'format' = 'json');
`;

/** The queries in SQL, each writing table `results` (a blackhole here). */
export const sqlQueries: Record<string, string> = {
  q0: `CREATE TABLE results (auction BIGINT, bidder BIGINT, price BIGINT, \`dateTime\` BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO results SELECT auction, bidder, price, \`dateTime\` FROM events WHERE type = 'bid';`,
  q1: `CREATE TABLE results (auction BIGINT, bidder BIGINT, price DOUBLE, \`dateTime\` BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO results SELECT auction, bidder, ROUND(price * 0.908E0), \`dateTime\` FROM events WHERE type = 'bid';`,
  q2: `CREATE TABLE results (auction BIGINT, price BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO results SELECT auction, price FROM events WHERE type = 'bid' AND MOD(auction, 123) = 0;`,
  q5s: `CREATE TABLE results (auction BIGINT, window_end TIMESTAMP(3), n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO results SELECT auction, HOP_END(ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND), COUNT(*) FROM events
WHERE type = 'bid' GROUP BY HOP(ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND), auction;`,
};

/** The SQL version of a query, validated and compiled with the Nexmark source and the blackhole. */
export async function sqlJob(name: string, events: number, sink: BlackholeSink<unknown>): Promise<JobGraph> {
  const doc = { apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name: `sql-${name}` }, spec: { sql: EVENTS + (sqlQueries[name] as string) } };
  await assertValid(doc, name);
  return compileSql(parseStreamJob(doc).value, { mode: "local", baseDir: ".", sourceOverride: () => nexmarkSource({ events }), sinkOverride: () => sink })
    .graph;
}

/** One query measured as SQL and as a pipeline in the same run. */
export interface SqlRow {
  query: string;
  pipeline: Spread;
  sql: Spread;
  /** Records written by the pipeline and by the SQL job (equal when both compute the same). */
  results: [number, number];
  /** Both wrote the same records (compared by digest, untimed). */
  same: boolean;
}

/** Runs each query as a pipeline and as SQL, alternating, `runs` times each, on `events` Nexmark events. */
export async function sqlVsPipeline(options: { events: number; runs: number; queries?: string[] }): Promise<SqlRow[]> {
  const rows: SqlRow[] = [];
  for (const q of options.queries ?? Object.keys(sqlQueries)) {
    if (!sqlQueries[q]) throw new Error(`unknown query ${q}; known: ${Object.keys(sqlQueries).join(", ")}`);
    const [p, s, check] = await alternating(
      options.events,
      options.runs,
      (sink) => declarative(q, options.events, sink),
      (sink) => sqlJob(q, options.events, sink),
    );
    rows.push({ query: q, pipeline: p.rate, sql: s.rate, results: [p.out, s.out], same: check.same });
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "1000000" },
      runs: { type: "string", default: "4" },
      queries: { type: "string", default: "q0,q1,q2,q5s" },
    },
  });
  const events = Number(values.events);
  const runs = Number(values.runs);
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  console.log(`${fmt(events)} Nexmark events, median (slowest–fastest) of ${runs}`);
  console.log("| query | pipeline events/s | SQL events/s | ratio | results |");
  console.log("|---|---|---|---|---|");
  for (const r of await sqlVsPipeline({ events, runs, queries: values.queries.split(",") })) {
    const ratio = r.sql.median / r.pipeline.median;
    console.log(
      `| ${r.query} | ${fmtSpread(r.pipeline)} | ${fmtSpread(r.sql)} | ${ratio.toFixed(2)}× ${ratio >= 0.8 ? "" : "(below 0.8)"} | ${fmt(r.results[0])} / ${fmt(r.results[1])}${r.same ? ", same records" : ", **records differ**"} |`,
    );
  }
}

// Standalone when run directly; bench/main.ts imports sqlVsPipeline for `npm run bench`.
if (import.meta.main) await main();
