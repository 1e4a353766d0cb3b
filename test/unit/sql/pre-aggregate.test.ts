/**
 * SQL windows pre-aggregated before their keyBy (ADR 40) where their aggregates merge exactly:
 * counts, extremes, DISTINCT, and sums and averages of integers and DECIMALs (scaled integers) —
 * with the same rows as without; a DOUBLE sum or COLLECT(DISTINCT …) keeps the records as they are.
 */
import { describe, expect, it } from "vitest";
import type { CompiledPipeline } from "../../../runtime/pipeline/compile.ts";
import { planPreAggregation } from "../../../runtime/graph/pre-aggregate.ts";
import { compile, dataDir, run } from "./helpers.ts";

const TABLES = `
CREATE TABLE ev (user_id STRING, qty INT, amount DOUBLE, price DECIMAL(10, 2), ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'ev.ndjson', 'format' = 'json');
`;

/** 2,000 rows of 5 users, a second apart, out of order by up to 3 s. */
function rows(): object[] {
  let s = 7;
  const r = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: 2000 }, (_, i) => {
    const t = Date.UTC(2026, 0, 1) + i * 1000 - Math.floor(r() * 3000);
    return {
      user_id: `u${Math.floor(r() * 5)}`,
      qty: Math.floor(r() * 10),
      amount: Math.round(r() * 10_000) / 1000,
      price: (Math.floor(r() * 10_000) / 100).toFixed(2),
      ts: new Date(t).toISOString().replace("T", " ").slice(0, 23),
    };
  });
}

function script(aggregates: string, columns: string): string {
  return `${TABLES}CREATE TABLE o (user_id STRING, s TIMESTAMP(3), ${columns}) WITH ('connector' = 'print');
INSERT INTO o SELECT user_id, TUMBLE_START(ts, INTERVAL '30' SECOND), ${aggregates} FROM ev GROUP BY TUMBLE(ts, INTERVAL '30' SECOND), user_id;`;
}

const kinds = (c: CompiledPipeline): string[] => c.graph.nodes.map((n) => n.spec.kind);

describe("SQL windows pre-aggregated before their keyBy", () => {
  it("folds counts, extremes, DISTINCT and integer and DECIMAL sums, with the rows of records sent one by one", async () => {
    const sql = script(
      "COUNT(*), COUNT(DISTINCT qty), SUM(qty), AVG(qty), SUM(price), MIN(qty), MAX(amount), FIRST_VALUE(qty), LAST_VALUE(qty), SUM(DISTINCT amount)",
      "n BIGINT, dq BIGINT, sq INT, aq INT, sp DECIMAL(10, 2), mq INT, ma DOUBLE, fq INT, lq INT, sda DOUBLE",
    );
    const dir = dataDir({ "ev.ndjson": rows() });
    const plain = compile(sql, dir);
    const folded = compile(sql, dir);
    const planned = { ...folded, graph: planPreAggregation(folded.graph) };
    expect(kinds(plain)).not.toContain("preAggregate");
    expect(kinds(planned)).toContain("preAggregate");
    // Rows of one firing come in the order their keys' timers were registered: compare them sorted.
    const sorted = (rs: object[] | undefined): string[] => (rs ?? []).map((r) => JSON.stringify(r)).sort();
    const one = sorted((await run(plain, 64)).o);
    const other = sorted((await run(planned, 64)).o);
    expect(one.length).toBeGreaterThan(300);
    expect(other).toEqual(one);
  });

  it("keeps the records of a window with a DOUBLE sum or average, or COLLECT(DISTINCT …)", () => {
    for (const [aggregates, columns] of [
      ["COUNT(*), SUM(amount)", "n BIGINT, sa DOUBLE"],
      ["AVG(amount)", "aa DOUBLE"],
      ["COLLECT(DISTINCT qty)", "cq MULTISET<INT>"],
    ] as const) {
      const c = compile(script(aggregates, columns), dataDir({ "ev.ndjson": [] }));
      expect(kinds({ ...c, graph: planPreAggregation(c.graph) }), aggregates).not.toContain("preAggregate");
    }
  });
});
