/**
 * The analytics system's queries (test/fixtures/streamjobs/analytics.yaml as a pipeline, the
 * same queries as SQL statements) over the same generated user-behaviour stream, one query at a
 * time, SQL and pipeline in alternating runs (median and spread of each), into a blackhole. Target: SQL ≥ 0.8×
 * the pipeline's events/s. `npm run bench` runs it (bench/main.ts) and writes docs/benchmarks.md;
 * alone: `node bench/sql-analytics.ts --events N --runs N`.
 */
import { parseArgs } from "node:util";
import type { BlackholeSink } from "../runtime/connectors/sinks.ts";
import type { JobGraph } from "../runtime/graph/graph.ts";
import type { Source } from "../runtime/connectors/types.ts";
import { compilePipeline } from "../runtime/pipeline/compile.ts";
import { manifestGenerator } from "../runtime/pipeline/generator.ts";
import { DEFAULT_START_TIME } from "../runtime/pipeline/sources.ts";
import type { GeneratorSource } from "../runtime/spec/generated/types.ts";
import { parseStreamJob } from "../runtime/spec/validate.ts";
import { compileSql } from "../runtime/sql/compile.ts";
import { alternating, assertValid } from "./declarative.ts";
import { fmtSpread, type Spread } from "./spread.ts";

/** The user-behaviour stream of the analytics manifest (ts in epoch ms). */
const generator = (events: number): GeneratorSource => ({
  rate: 5000,
  count: events,
  seed: 7,
  partitions: 4,
  outOfOrderness: "3s",
  fields: {
    userId: { kind: "key", prefix: "u", cardinality: 10000, skew: 1.1 },
    videoId: { kind: "key", prefix: "v", cardinality: 50000 },
    type: { kind: "choice", values: ["view", "like", "share", "comment"], weights: [80, 10, 5, 5] },
    region: { kind: "choice", values: ["north", "south", "east", "west"] },
    duration: { kind: "double", min: 1, max: 300 },
    ts: { kind: "eventTime" },
  },
});

const USERS = Array.from({ length: 8000 }, (_, i) => ({ userId: `u${i}`, ageGroup: ["18-24", "25-34", "35-44", "45+"][i % 4] }));

/** Each query as pipeline steps (from analytics.yaml) and as a SQL statement over the same records. */
const queries: Record<string, { steps: object[]; out: string; sql: string }> = {
  "per-minute": {
    steps: [
      { id: "by-type", input: "behaviour", keyBy: { key: "record.type" } },
      {
        id: "q",
        input: "by-type",
        window: {
          type: "tumbling",
          size: "1m",
          aggregations: [
            { name: "events", fn: "count" },
            { name: "users", fn: "countDistinct", of: "record.userId" },
            { name: "avgDuration", fn: "avg", of: "record.duration" },
          ],
        },
      },
    ],
    out: "q",
    sql: `SELECT TUMBLE_START(rt, INTERVAL '1' MINUTE), \`type\`, COUNT(*), COUNT(DISTINCT userId), AVG(duration) FROM behaviour GROUP BY TUMBLE(rt, INTERVAL '1' MINUTE), \`type\``,
  },
  profile: {
    steps: [
      { id: "by-user", input: "behaviour", keyBy: { key: "record.userId" } },
      {
        id: "q",
        input: "by-user",
        over: {
          aggregations: [
            { name: "views", fn: "count", where: "record.type == 'view'" },
            { name: "likes", fn: "count", where: "record.type == 'like'" },
            { name: "watchTime", fn: "sum", of: "record.duration" },
          ],
        },
      },
    ],
    out: "q",
    sql: `SELECT userId, SUM(CASE WHEN \`type\` = 'view' THEN 1 ELSE 0 END), SUM(CASE WHEN \`type\` = 'like' THEN 1 ELSE 0 END), SUM(duration) FROM behaviour GROUP BY userId`,
  },
  sessions: {
    steps: [
      { id: "by-user", input: "behaviour", keyBy: { key: "record.userId" } },
      {
        id: "q",
        input: "by-user",
        window: {
          type: "session",
          gap: "30m",
          aggregations: [
            { name: "types", fn: "collect", of: "record.type", distinct: true },
            { name: "events", fn: "count" },
          ],
          select: {
            userId: "key",
            start: "window.start",
            events: "record.events",
            engagement: "['view', 'like', 'share'].all(t, t in record.types) ? 'HIGH_ENGAGEMENT' : 'NORMAL'",
          },
        },
      },
    ],
    out: "q",
    sql: `SELECT userId, SESSION_START(rt, INTERVAL '30' MINUTE), COUNT(*),
      CASE WHEN SUM(CASE WHEN \`type\` = 'view' THEN 1 ELSE 0 END) > 0 AND SUM(CASE WHEN \`type\` = 'like' THEN 1 ELSE 0 END) > 0
        AND SUM(CASE WHEN \`type\` = 'share' THEN 1 ELSE 0 END) > 0 THEN 'HIGH_ENGAGEMENT' ELSE 'NORMAL' END
      FROM behaviour GROUP BY SESSION(rt, INTERVAL '30' MINUTE), userId`,
  },
  "hourly-features": {
    steps: [
      { id: "by-user", input: "behaviour", keyBy: { key: "record.userId" } },
      {
        id: "f",
        input: "by-user",
        over: {
          range: "1h",
          aggregations: [
            { name: "views1h", fn: "count" },
            { name: "avgDuration1h", fn: "avg", of: "record.duration" },
          ],
        },
      },
      {
        id: "q",
        input: "f",
        lookupJoin: {
          table: "users",
          key: "record.userId",
          type: "left",
          select: {
            userId: "record.userId",
            views1h: "record.views1h",
            avgDuration1h: "record.avgDuration1h",
            ageGroup: "row == null ? 'unknown' : row.ageGroup",
          },
        },
      },
    ],
    out: "q",
    sql: `SELECT f.userId, f.views1h, f.avg1h, COALESCE(u.ageGroup, 'unknown') FROM (
        SELECT userId, proc, COUNT(*) OVER w AS views1h, AVG(duration) OVER w AS avg1h FROM behaviour
        WINDOW w AS (PARTITION BY userId ORDER BY rt RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)
      ) AS f LEFT JOIN users FOR SYSTEM_TIME AS OF f.proc AS u ON f.userId = u.userId`,
  },
  "five-seconds": {
    steps: [
      { id: "by-type-region", input: "behaviour", keyBy: { key: "[record.type, record.region]" } },
      { id: "q", input: "by-type-region", window: { type: "tumbling", size: "5s", aggregations: [{ name: "events", fn: "count" }] } },
    ],
    out: "q",
    sql: `SELECT window_start, \`type\`, region, COUNT(*) FROM TABLE(TUMBLE(TABLE behaviour, DESCRIPTOR(rt), INTERVAL '5' SECOND)) GROUP BY window_start, window_end, \`type\`, region`,
  },
};

/** Output columns of each SQL statement (a blackhole table). */
const sinkColumns: Record<string, string> = {
  "per-minute": "s TIMESTAMP(3), t STRING, events BIGINT, users BIGINT, avg_duration DOUBLE",
  profile: "user_id STRING, view_count INT, like_count INT, watch DOUBLE",
  sessions: "user_id STRING, s TIMESTAMP(3), events BIGINT, engagement STRING",
  "hourly-features": "user_id STRING, view_count BIGINT, avg_duration DOUBLE, age_group STRING",
  "five-seconds": "s TIMESTAMP(3), t STRING, region STRING, events BIGINT",
};

const doc = (name: string, spec: object): object => ({ apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name }, spec });

/** `d`, once it passes `runnel validate`'s checks. */
async function checked(d: object, label: string): Promise<object> {
  await assertValid(d, label);
  return d;
}

async function pipelineJob(q: string, events: number, sink: BlackholeSink<unknown>): Promise<JobGraph> {
  const query = queries[q] as (typeof queries)[string];
  const d = await checked(
    doc(`pipe-${q}`, {
      pipeline: {
        sources: [
          { id: "behaviour", timestamp: { field: "ts" }, watermark: { outOfOrderness: "5s" }, local: { generator: generator(events) } },
          { id: "users", mode: "table", local: { file: { path: "users.ndjson" } } },
        ],
        steps: query.steps,
        sinks: [{ id: "out", input: query.out, blackhole: {} }],
      },
    }),
    `pipeline ${q}`,
  );
  return compilePipeline(parseStreamJob(d).value, {
    mode: "local",
    baseDir: ".",
    tableOverride: () => ({ rows: USERS }),
    sinkOverride: () => sink,
  }).graph;
}

async function sqlJob(q: string, events: number, sink: BlackholeSink<unknown>): Promise<JobGraph> {
  const query = queries[q] as (typeof queries)[string];
  const g = generator(events);
  const script = `SET 'execution.runtime-mode' = 'streaming';
CREATE TABLE behaviour (userId STRING, videoId STRING, \`type\` STRING, region STRING, duration DOUBLE, ts BIGINT,
  rt AS TO_TIMESTAMP_LTZ(ts, 3), proc AS PROCTIME(), WATERMARK FOR rt AS rt - INTERVAL '5' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '${events}');
CREATE TABLE users (userId STRING, ageGroup STRING, PRIMARY KEY (userId) NOT ENFORCED) WITH ('connector' = 'filesystem', 'path' = 'users.ndjson', 'format' = 'json');
CREATE TABLE results (${sinkColumns[q] ?? ""}) WITH ('connector' = 'blackhole');
INSERT INTO results ${query.sql};`;
  const d = await checked(doc(`sql-${q}`, { sql: script }), `sql ${q}`);
  // The same generator as the pipeline's (the datagen options only declare the table as bounded).
  return compileSql(parseStreamJob(d).value, {
    mode: "local",
    baseDir: ".",
    sourceOverride: (spec) => (spec.id === "behaviour" ? pipelineSource(g) : undefined),
    tableOverride: () => ({ rows: USERS }),
    sinkOverride: () => sink,
  }).graph;
}

/** The pipeline's generator as a plain source (what both jobs read). */
function pipelineSource(g: GeneratorSource): Source<unknown> {
  return manifestGenerator(g, { startTime: DEFAULT_START_TIME, throttle: false });
}

/** One analytics query measured as SQL and as a pipeline. */
export interface AnalyticsRow {
  query: string;
  pipeline: Spread;
  sql: Spread;
  results: [number, number];
}

/** Runs each analytics query as a pipeline and as SQL, alternating, `runs` times each. */
export async function sqlAnalyticsVsPipeline(options: { events: number; runs: number; queries?: string[] }): Promise<AnalyticsRow[]> {
  const rows: AnalyticsRow[] = [];
  for (const q of options.queries ?? Object.keys(queries)) {
    // The pipeline and the SQL statement write differently shaped records (window bounds as
    // numbers or as a formatted start, other column names): compared by count, not content.
    const [p, s] = await alternating(
      options.events,
      options.runs,
      (sink) => pipelineJob(q, options.events, sink),
      (sink) => sqlJob(q, options.events, sink),
    );
    rows.push({ query: q, pipeline: p.rate, sql: s.rate, results: [p.out, s.out] });
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { events: { type: "string", default: "300000" }, runs: { type: "string", default: "3" }, queries: { type: "string" } },
  });
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  const rows = await sqlAnalyticsVsPipeline({
    events: Number(values.events),
    runs: Number(values.runs),
    ...(values.queries ? { queries: values.queries.split(",") } : {}),
  });
  console.log("| query | pipeline events/s | SQL events/s | ratio | results |");
  for (const r of rows)
    console.log(
      `| ${r.query} | ${fmtSpread(r.pipeline)} | ${fmtSpread(r.sql)} | ${(r.sql.median / r.pipeline.median).toFixed(2)}× | ${fmt(r.results[0])} / ${fmt(r.results[1])} |`,
    );
}

if (import.meta.main) await main();
