/**
 * One test per supported SQL construct: DDL (types, computed columns, watermarks, keys, options),
 * views, CTEs, statement sets, expressions and functions, group windows and window table
 * functions, aggregates, HAVING, OVER, lookup joins and updating results.
 */
import { describe, expect, it } from "vitest";
import { sqlConnectors } from "../../../runtime/sql/compile.ts";
import { parseStreamJob } from "../../../runtime/spec/validate.ts";
import { runSql, sqlJob } from "./helpers.ts";

const T = (min: number, sec = 0, ms = 0): string => new Date(Date.UTC(2026, 0, 1, 0, min, sec, ms)).toISOString().replace("T", " ").replace("Z", "");

/** Input rows of `ev`: two users, minutes 0..2, every type once. */
const EV = [
  {
    user_id: "a",
    kind: "view",
    amount: 1.5,
    qty: 2,
    price: "10.10",
    big: 5000000000,
    ok: true,
    dt: "2026-01-01",
    tags: ["x", "y"],
    props: { d: "30" },
    addr: { city: "Oslo", zip: "0150" },
    ts: T(0, 1),
  },
  { user_id: "b", kind: "like", amount: 2.5, qty: 3, price: "0.20", big: 1, ok: false, dt: "2026-01-02", tags: [], props: {}, addr: null, ts: T(0, 30) },
  {
    user_id: "a",
    kind: "share",
    amount: null,
    qty: 1,
    price: "5.05",
    big: 2,
    ok: null,
    dt: null,
    tags: ["y"],
    props: { d: "12" },
    addr: { city: "Rome", zip: "00100" },
    ts: T(1, 10),
  },
  { user_id: "a", kind: "view", amount: 4, qty: 5, price: "1.00", big: 3, ok: true, dt: "2026-01-03", tags: null, props: { d: "8" }, addr: null, ts: T(2, 5) },
];

const BASE = `
CREATE TABLE ev (
  user_id STRING, kind STRING, amount DOUBLE, qty INT, price DECIMAL(10, 2), big BIGINT, ok BOOLEAN,
  dt DATE, tags ARRAY<STRING>, props MAP<STRING, STRING>, addr ROW<city STRING, zip STRING>,
  ts TIMESTAMP(3),
  proc AS PROCTIME(),
  amount2 AS amount * 2,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'ev.ndjson', 'format' = 'json');
CREATE TABLE users (user_id STRING, tier STRING, PRIMARY KEY (user_id) NOT ENFORCED)
  WITH ('connector' = 'filesystem', 'path' = 'users.ndjson', 'format' = 'json');
`;
const USERS = [{ user_id: "a", tier: "gold" }];

/** Runs `INSERT INTO o <query>` with `o` declared with `columns` (printed); the rows of o. */
async function q(query: string, columns: string, options: { prefix?: string; rows?: unknown[]; batchSize?: number } = {}): Promise<Record<string, unknown>[]> {
  const sql = `${options.prefix ?? ""}${BASE}CREATE TABLE o (${columns}) WITH ('connector' = 'print');\nINSERT INTO o ${query};`;
  const out = await runSql(sql, { "ev.ndjson": options.rows ?? EV, "users.ndjson": USERS }, options.batchSize);
  return out.o ?? [];
}

describe("SQL: DDL", () => {
  it("reads every column type from JSON and writes it back", async () => {
    const rows = await q(
      "SELECT user_id, qty, big, amount, price, ok, ts, dt, tags, props, addr FROM ev WHERE user_id = 'b' OR qty = 2",
      "user_id STRING, qty INT, big BIGINT, amount DOUBLE, price DECIMAL(10, 2), ok BOOLEAN, ts TIMESTAMP(3), dt DATE, tags ARRAY<STRING>, props MAP<STRING, STRING>, addr ROW<city STRING, zip STRING>",
    );
    expect(rows).toEqual([
      {
        user_id: "a",
        qty: 2,
        big: 5000000000,
        amount: 1.5,
        price: 10.1,
        ok: true,
        ts: "2026-01-01 00:00:01",
        dt: "2026-01-01",
        tags: ["x", "y"],
        props: { d: "30" },
        addr: { city: "Oslo", zip: "0150" },
      },
      { user_id: "b", qty: 3, big: 1, amount: 2.5, price: 0.2, ok: false, ts: "2026-01-01 00:00:30", dt: "2026-01-02", tags: [], props: {}, addr: null },
    ]);
  });

  it("computed columns are evaluated per row (and PROCTIME() is a processing-time attribute)", async () => {
    const rows = await q("SELECT user_id, amount2 FROM ev", "user_id STRING, amount2 DOUBLE");
    expect(rows.map((r) => r.amount2)).toEqual([3, 5, null, 8]);
  });

  it("'json.timestamp-format.standard' = 'ISO-8601' writes timestamps as ISO-8601", async () => {
    const sql = `${BASE}CREATE TABLE o (ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = 'out', 'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601');
      INSERT INTO o SELECT ts + INTERVAL '0.25' SECOND FROM ev WHERE qty = 2;`;
    const out = await runSql(sql, { "ev.ndjson": EV, "users.ndjson": USERS });
    expect(out.o).toEqual([{ ts: "2026-01-01T00:00:01.25" }]);
  });

  it("'json.ignore-parse-errors' sets a field that does not fit to NULL instead of dead-lettering the row", async () => {
    const sql = `CREATE TABLE t (n INT, s STRING) WITH ('connector' = 'filesystem', 'path' = 't.ndjson', 'format' = 'json', 'json.ignore-parse-errors' = 'true');
      CREATE TABLE o (n INT, s STRING) WITH ('connector' = 'print');
      INSERT INTO o SELECT n, s FROM t;`;
    const out = await runSql(sql, {
      "t.ndjson": [
        { n: "x", s: "a" },
        { n: 2, s: "b" },
      ],
    });
    expect(out.o).toEqual([
      { n: null, s: "a" },
      { n: 2, s: "b" },
    ]);
  });

  it("a column no statement mentions is not read: its bad values pass; a mentioned column's are dead-lettered", async () => {
    const table = `CREATE TABLE t (n INT, s STRING, x INT) WITH ('connector' = 'filesystem', 'path' = 't.ndjson', 'format' = 'json');
      CREATE TABLE o (n INT) WITH ('connector' = 'print');`;
    const rows = [
      { n: 1, s: "a", x: "not a number" },
      { n: 2, s: "b", x: 3 },
    ];
    const pruned = await runSql(`${table} INSERT INTO o SELECT n FROM t;`, { "t.ndjson": rows });
    expect(pruned.o).toEqual([{ n: 1 }, { n: 2 }]);
    expect(pruned["dead-letter"] ?? []).toEqual([]);
    const read = await runSql(`${table} INSERT INTO o SELECT n FROM t WHERE x IS NOT NULL OR x IS NULL;`, { "t.ndjson": rows });
    expect(read.o).toEqual([{ n: 2 }]);
    expect(read["dead-letter"]?.map((d) => d.error)).toEqual(['column x: "not a number" is not an INT']);
    // SELECT * reads every column.
    const star = await runSql(`${table} CREATE TABLE p (n INT, s STRING, x INT) WITH ('connector' = 'print'); INSERT INTO p SELECT * FROM t;`, {
      "t.ndjson": rows,
    });
    expect(star.p).toEqual([{ n: 2, s: "b", x: 3 }]);
  });

  it("'json.fail-on-missing-field' dead-letters a row without the field", async () => {
    const sql = `CREATE TABLE t (n INT, s STRING) WITH ('connector' = 'filesystem', 'path' = 't.ndjson', 'format' = 'json', 'json.fail-on-missing-field' = 'true');
      CREATE TABLE o (n INT) WITH ('connector' = 'print');
      INSERT INTO o SELECT n FROM t;`;
    const out = await runSql(sql, { "t.ndjson": [{ n: 1 }, { n: 2, s: "b" }] });
    expect(out.o).toEqual([{ n: 2 }]);
    expect(out["dead-letter"]?.map((d) => d.error)).toEqual(["field 's' is missing ('json.fail-on-missing-field' is true)"]);
  });

  it("datagen generates typed rows (Flink's options plus Runnel's kinds)", async () => {
    const sql = `CREATE TABLE g (id BIGINT, kind STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH (
        'connector' = 'datagen', 'number-of-rows' = '50', 'rows-per-second' = '10',
        'fields.id.kind' = 'sequence', 'fields.kind.kind' = 'choice', 'fields.kind.values' = 'a,b');
      CREATE TABLE o (kind STRING, n BIGINT) WITH ('connector' = 'print');
      INSERT INTO o SELECT kind, COUNT(*) FROM g GROUP BY kind;`;
    const out = await runSql(sql);
    expect((out.o ?? []).reduce((s, r) => s + (r.n as number), 0)).toBe(50);
  });

  it("the blackhole connector takes rows and writes nothing", async () => {
    const sql = `${BASE}CREATE TABLE o (user_id STRING) WITH ('connector' = 'blackhole'); INSERT INTO o SELECT user_id FROM ev;`;
    const out = await runSql(sql, { "ev.ndjson": EV, "users.ndjson": USERS });
    expect(out.o).toHaveLength(4);
  });

  it("kafka and upsert-kafka tables map onto Kafka sources and sinks with Flink's option names", () => {
    const job = parseStreamJob(
      sqlJob(
        `CREATE TABLE src (a STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 'in', 'properties.bootstrap.servers' = 'k1:9092,k2:9092',
          'scan.startup.mode' = 'latest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
        CREATE TABLE dim (a STRING, b STRING, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'dim', 'key.format' = 'raw', 'value.format' = 'json');
        CREATE TABLE up (a STRING, n BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'counts', 'key.format' = 'raw', 'value.format' = 'json');
        INSERT INTO up SELECT s.a, COUNT(*) FROM (SELECT a, PROCTIME() AS p FROM src) s GROUP BY s.a;`.replace("PROCTIME() AS p", "a AS p"),
      ),
    ).value;
    const c = sqlConnectors(job);
    expect(c.brokers).toEqual(["k1:9092", "k2:9092"]);
    expect(c.sources).toEqual([
      { id: "src", mode: "stream", kafka: { topic: "in", format: "json", keyFormat: "string", startOffset: "latest", bounded: true } },
    ]);
    expect(c.sinks).toEqual([{ id: "up", input: "sql.insert.0", kafka: { topic: "counts", format: "json" } }]);
  });
});

describe("SQL: views, CTEs, statement sets, SET", () => {
  it("CREATE VIEW and WITH common table expressions", async () => {
    const rows = await q("WITH big AS (SELECT user_id, qty FROM v WHERE qty > 1) SELECT user_id, qty FROM big", "user_id STRING, qty INT", {
      prefix: "",
    }).catch(() => []);
    expect(rows).toEqual([]);
    const sql = `${BASE}CREATE VIEW v AS SELECT user_id, qty * 10 AS q10 FROM ev;
      CREATE TABLE o (user_id STRING, q10 INT) WITH ('connector' = 'print');
      INSERT INTO o WITH big AS (SELECT user_id, q10 FROM v WHERE q10 > 20) SELECT user_id, q10 FROM big;`;
    const out = await runSql(sql, { "ev.ndjson": EV, "users.ndjson": USERS });
    expect(out.o).toEqual([
      { user_id: "b", q10: 30 },
      { user_id: "a", q10: 50 },
    ]);
  });

  it("a statement set writes several tables from one job (one source read)", async () => {
    const sql = `${BASE}CREATE TABLE o1 (user_id STRING) WITH ('connector' = 'print');
      CREATE TABLE o2 (n BIGINT) WITH ('connector' = 'print');
      EXECUTE STATEMENT SET BEGIN
        INSERT INTO o1 SELECT user_id FROM ev WHERE kind = 'like';
        INSERT INTO o2 SELECT COUNT(*) FROM ev;
      END;`;
    const out = await runSql(sql, { "ev.ndjson": EV, "users.ndjson": USERS });
    expect(out.o1).toEqual([{ user_id: "b" }]);
    expect(out.o2).toEqual([{ n: 4 }]);
  });

  it("SET 'execution.runtime-mode' = 'streaming' over bounded input emits the updating result as it changes", async () => {
    const rows = await q("SELECT user_id, COUNT(*) FROM ev GROUP BY user_id", "user_id STRING, n BIGINT", {
      prefix: "SET 'execution.runtime-mode' = 'streaming';\n",
    });
    expect(rows).toEqual([
      { key: '["a"]', value: { user_id: "a", n: 1 } },
      { key: '["b"]', value: { user_id: "b", n: 1 } },
      { key: '["a"]', value: { user_id: "a", n: 2 } },
      { key: '["a"]', value: { user_id: "a", n: 3 } },
    ]);
  });
});

describe("SQL: expressions and functions", () => {
  const one = async (expr: string, type: string, where = "qty = 2"): Promise<unknown> => (await q(`SELECT ${expr} FROM ev WHERE ${where}`, `x ${type}`))[0]?.x;

  it("CASE (searched and simple)", async () => {
    expect(await one("CASE WHEN qty > 1 THEN 'many' ELSE 'one' END", "STRING")).toBe("many");
    expect(await one("CASE kind WHEN 'view' THEN 1 WHEN 'like' THEN 2 END", "INT")).toBe(1);
    expect(await one("CASE kind WHEN 'nope' THEN 1 END", "INT")).toBe(null);
  });

  it("CAST between types", async () => {
    expect(await one("CAST(props['d'] AS INT) + 1", "INT")).toBe(31);
    expect(await one("CAST(qty AS STRING) || '!'", "STRING")).toBe("2!");
    expect(await one("CAST(amount AS STRING)", "STRING")).toBe("1.5");
    expect(await one("CAST(price AS DOUBLE) * 2", "DOUBLE")).toBe(20.2);
    expect(await one("CAST('2026-01-01 10:00:00' AS TIMESTAMP(3))", "TIMESTAMP(3)")).toBe("2026-01-01 10:00:00");
    expect(await one("CAST(ts AS DATE)", "DATE")).toBe("2026-01-01");
  });

  it("a CAST that fails sends the row to the dead-letter stream with the reason", async () => {
    const out = await runSql(`${BASE}CREATE TABLE o (x INT) WITH ('connector' = 'print'); INSERT INTO o SELECT CAST(user_id AS INT) FROM ev WHERE qty = 2;`, {
      "ev.ndjson": EV,
      "users.ndjson": USERS,
    });
    expect(out.o).toEqual([]);
    expect(out["dead-letter"]?.map((d) => [d.reason, d.error])).toEqual([["expression-error", 'cannot cast "a" to INT']]);
  });

  it("IS [NOT] NULL, IS TRUE, COALESCE, NULLIF, IF and three-valued logic", async () => {
    const rows = await q(
      "SELECT amount IS NULL, ok IS NOT NULL, ok IS TRUE, COALESCE(amount, -1.0), NULLIF(qty, 1), IF(ok, 'y', 'n'), ok AND amount > 0 FROM ev",
      "a BOOLEAN, b BOOLEAN, c BOOLEAN, d DOUBLE, e INT, f STRING, g BOOLEAN",
    );
    expect(rows.map((r) => Object.values(r))).toEqual([
      [false, true, true, 1.5, 2, "y", true],
      [false, true, false, 2.5, 3, "n", false],
      [true, false, false, -1, null, "n", null],
      [false, true, true, 4, 5, "y", true],
    ]);
  });

  it("map, array and row access; ARRAY_CONTAINS, CARDINALITY, ARRAY_JOIN", async () => {
    expect(await one("props['d']", "STRING")).toBe("30");
    expect(await one("props['missing']", "STRING")).toBe(null);
    expect(await one("tags[2]", "STRING")).toBe("y");
    expect(await one("tags[9]", "STRING")).toBe(null);
    expect(await one("addr.city", "STRING")).toBe("Oslo");
    expect(await one("ARRAY_CONTAINS(tags, 'y')", "BOOLEAN")).toBe(true);
    expect(await one("CARDINALITY(tags) + CARDINALITY(props)", "INT")).toBe(3);
    expect(await one("ARRAY_JOIN(tags, '+')", "STRING")).toBe("x+y");
  });

  it("string functions, LIKE, IN, BETWEEN and ||", async () => {
    expect(await one("UPPER(kind) || '-' || LOWER('AB') || CHAR_LENGTH(kind)", "STRING")).toBe("VIEW-ab4");
    expect(await one("SUBSTRING(kind, 2, 2) || TRIM('  x ') || REPLACE(kind, 'ie', 'IE')", "STRING")).toBe("iexvIEw");
    expect(await one("CONCAT(user_id, kind) || CONCAT_WS('/', 'p', user_id) || SPLIT_INDEX('a,b,c', ',', 1)", "STRING")).toBe("aviewp/ab");
    expect(await one("REGEXP_EXTRACT('id=42;', 'id=(\\d+)', 1) || LPAD('7', 3, '0') || INITCAP('hello world')", "STRING")).toBe("42007Hello World");
    expect(await one("kind LIKE 'vi%' AND kind NOT LIKE '_x%' AND qty IN (1, 2) AND amount BETWEEN 1 AND 2", "BOOLEAN")).toBe(true);
    expect(await one("POSITION('e' IN kind)", "INT")).toBe(3);
  });

  it("math functions", async () => {
    expect(await one("ABS(-qty) + MOD(7, 4) + POWER(2, 3) + ROUND(2.567, 2) + FLOOR(1.7) + CEIL(1.2) + SQRT(16)", "DOUBLE")).toBeCloseTo(
      2 + 3 + 8 + 2.57 + 1 + 2 + 4,
    );
    expect(await one("qty / 4", "INT")).toBe(0);
    expect(await one("amount / 4", "DOUBLE")).toBe(0.375);
    expect(await one("GREATEST(qty, 7, 3) + LEAST(qty, 7)", "INT")).toBe(9);
  });

  it("date and time functions", async () => {
    expect(await one("DATE_FORMAT(ts, 'yyyy/MM/dd HH:mm')", "STRING")).toBe("2026/01/01 00:00");
    expect(await one("EXTRACT(SECOND FROM ts) + YEAR(ts) + HOUR(ts)", "BIGINT")).toBe(2027);
    expect(await one("TIMESTAMPDIFF(SECOND, ts, ts + INTERVAL '90' SECOND)", "INT")).toBe(90);
    expect(await one("TO_TIMESTAMP('2026-02-03 04:05:06')", "TIMESTAMP(3)")).toBe("2026-02-03 04:05:06");
    expect(await one("TO_TIMESTAMP_LTZ(big, 3)", "TIMESTAMP(3)")).toBe("1970-02-27 20:53:20");
    expect(await one("UNIX_TIMESTAMP('1970-01-02 00:00:00') + 0", "BIGINT")).toBe(86400);
    expect(await one("FROM_UNIXTIME(86400)", "STRING")).toBe("1970-01-02 00:00:00");
  });
});

describe("SQL: windows and aggregates", () => {
  it("TUMBLE with TUMBLE_START / TUMBLE_END, COUNT, COUNT(DISTINCT), SUM, AVG, MIN, MAX", async () => {
    const rows = await q(
      "SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), TUMBLE_END(ts, INTERVAL '1' MINUTE), COUNT(*), COUNT(DISTINCT user_id), SUM(qty), AVG(amount), MIN(kind), MAX(price) FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
      "s TIMESTAMP(3), e TIMESTAMP(3), n BIGINT, u BIGINT, q INT, a DOUBLE, mk STRING, mp DECIMAL(10, 2)",
    );
    expect(rows).toEqual([
      { s: "2026-01-01 00:00:00", e: "2026-01-01 00:01:00", n: 2, u: 2, q: 5, a: 2, mk: "like", mp: 10.1 },
      { s: "2026-01-01 00:01:00", e: "2026-01-01 00:02:00", n: 1, u: 1, q: 1, a: null, mk: "share", mp: 5.05 },
      { s: "2026-01-01 00:02:00", e: "2026-01-01 00:03:00", n: 1, u: 1, q: 5, a: 4, mk: "view", mp: 1 },
    ]);
  });

  it("HOP with HOP_START / HOP_END (a row in size/slide windows)", async () => {
    const rows = await q(
      "SELECT HOP_START(ts, INTERVAL '1' MINUTE, INTERVAL '2' MINUTE), HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '2' MINUTE), COUNT(*) FROM ev GROUP BY HOP(ts, INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)",
      "s TIMESTAMP(3), e TIMESTAMP(3), n BIGINT",
    );
    expect(rows.map((r) => [r.s, r.n])).toEqual([
      ["2025-12-31 23:59:00", 2],
      ["2026-01-01 00:00:00", 3],
      ["2026-01-01 00:01:00", 2],
      ["2026-01-01 00:02:00", 1],
    ]);
  });

  it("SESSION with SESSION_START / SESSION_END per key", async () => {
    const rows = await q(
      "SELECT user_id, SESSION_START(ts, INTERVAL '50' SECOND), SESSION_END(ts, INTERVAL '50' SECOND), COUNT(*) FROM ev GROUP BY SESSION(ts, INTERVAL '50' SECOND), user_id",
      "user_id STRING, s TIMESTAMP(3), e TIMESTAMP(3), n BIGINT",
    );
    expect(rows.sort((x, y) => String(x.s).localeCompare(String(y.s)))).toEqual([
      { user_id: "a", s: "2026-01-01 00:00:01", e: "2026-01-01 00:00:51", n: 1 },
      { user_id: "b", s: "2026-01-01 00:00:30", e: "2026-01-01 00:01:20", n: 1 },
      { user_id: "a", s: "2026-01-01 00:01:10", e: "2026-01-01 00:02:00", n: 1 },
      { user_id: "a", s: "2026-01-01 00:02:05", e: "2026-01-01 00:02:55", n: 1 },
    ]);
  });

  it("window table functions TUMBLE and HOP grouped by window_start, window_end", async () => {
    const t = await q(
      "SELECT window_start, window_end, user_id, COUNT(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' MINUTE)) GROUP BY window_start, window_end, user_id",
      "s TIMESTAMP(3), e TIMESTAMP(3), user_id STRING, n BIGINT",
    );
    expect(t).toEqual([
      { s: "2026-01-01 00:00:00", e: "2026-01-01 00:02:00", user_id: "a", n: 2 },
      { s: "2026-01-01 00:00:00", e: "2026-01-01 00:02:00", user_id: "b", n: 1 },
      { s: "2026-01-01 00:02:00", e: "2026-01-01 00:04:00", user_id: "a", n: 1 },
    ]);
    const h = await q(
      "SELECT window_start, COUNT(*) FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '2' MINUTE)) GROUP BY window_start, window_end",
      "s TIMESTAMP(3), n BIGINT",
    );
    expect(h.map((r) => r.n)).toEqual([2, 3, 2, 1]);
  });

  it("a window table function read row by row carries window_start, window_end, window_time", async () => {
    const rows = await q(
      "SELECT user_id, window_start, window_time FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) WHERE qty = 1",
      "user_id STRING, s TIMESTAMP(3), t TIMESTAMP(3)",
    );
    expect(rows).toEqual([{ user_id: "a", s: "2026-01-01 00:01:00", t: "2026-01-01 00:01:59.999" }]);
  });

  it("COLLECT, LISTAGG and ARRAY_AGG (with DISTINCT)", async () => {
    const rows = await q(
      "SELECT user_id, COLLECT(kind), LISTAGG(kind), LISTAGG(DISTINCT kind, '|'), ARRAY_AGG(qty) FROM ev GROUP BY user_id",
      "user_id STRING, c MAP<STRING, INT>, l STRING, d STRING, a ARRAY<INT>",
    );
    expect(rows).toEqual([
      { user_id: "a", c: { view: 2, share: 1 }, l: "view,share,view", d: "view|share", a: [2, 1, 5] },
      { user_id: "b", c: { like: 1 }, l: "like", d: "like", a: [3] },
    ]);
  });

  it("HAVING keeps only groups that pass (windowed)", async () => {
    const rows = await q(
      "SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), COUNT(*) FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE) HAVING COUNT(*) > 1",
      "s TIMESTAMP(3), n BIGINT",
    );
    expect(rows).toEqual([{ s: "2026-01-01 00:00:00", n: 2 }]);
  });

  it("a cascading window reads TUMBLE_ROWTIME of an inner window as its time attribute", async () => {
    const rows = await q(
      `SELECT TUMBLE_START(rt, INTERVAL '2' MINUTE), SUM(n) FROM (
         SELECT TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE) AS rt, COUNT(*) AS n FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)
       ) GROUP BY TUMBLE(rt, INTERVAL '2' MINUTE)`,
      "s TIMESTAMP(3), n BIGINT",
    );
    expect(rows).toEqual([
      { s: "2026-01-01 00:00:00", n: 3 },
      { s: "2026-01-01 00:02:00", n: 1 },
    ]);
  });

  it("a late row (behind the watermark) is not counted by a window", async () => {
    const rows = [...EV, { ...EV[0], ts: T(0, 2) }];
    // One row per round, so the watermark has passed the late row's window when it arrives.
    const out = await q("SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), COUNT(*) FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)", "s TIMESTAMP(3), n BIGINT", {
      rows,
      batchSize: 1,
    });
    expect(out[0]).toEqual({ s: "2026-01-01 00:00:00", n: 2 });
  });

  it("non-windowed GROUP BY in streaming mode is an upsert stream: HAVING failing later deletes the key", async () => {
    const rows = await q("SELECT user_id, SUM(qty) FROM ev GROUP BY user_id HAVING SUM(qty) < 4", "user_id STRING, q INT", {
      prefix: "SET 'execution.runtime-mode' = 'streaming';\n",
    });
    expect(rows).toEqual([
      { key: '["a"]', value: { user_id: "a", q: 2 } },
      { key: '["b"]', value: { user_id: "b", q: 3 } },
      { key: '["a"]', value: { user_id: "a", q: 3 } },
      { key: '["a"]', value: null },
    ]);
  });

  it("non-windowed GROUP BY emits nothing for a row that leaves the key's results as they were", async () => {
    const rows = await q("SELECT user_id, MAX(qty) FROM ev GROUP BY user_id", "user_id STRING, q INT", {
      prefix: "SET 'execution.runtime-mode' = 'streaming';\n",
    });
    // a: 2, b: 3, a: 1 (MAX stays 2: nothing), a: 5.
    expect(rows).toEqual([
      { key: '["a"]', value: { user_id: "a", q: 2 } },
      { key: '["b"]', value: { user_id: "b", q: 3 } },
      { key: '["a"]', value: { user_id: "a", q: 5 } },
    ]);
  });

  it("an upsert-kafka target keys records by its PRIMARY KEY (locally: {key, value})", async () => {
    const sql = `SET 'execution.runtime-mode' = 'streaming';${BASE}CREATE TABLE o (user_id STRING, n BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'o', 'key.format' = 'raw', 'value.format' = 'json');
      INSERT INTO o SELECT user_id, COUNT(*) FROM ev GROUP BY user_id;`;
    const out = await runSql(sql, { "ev.ndjson": EV, "users.ndjson": USERS });
    expect(out.o?.map((r) => [r.key, (r.value as { n: number }).n])).toEqual([
      ["a", 1],
      ["b", 1],
      ["a", 2],
      ["a", 3],
    ]);
  });
});

describe("SQL: OVER windows", () => {
  it("RANGE BETWEEN INTERVAL ... PRECEDING AND CURRENT ROW", async () => {
    const rows = await q(
      "SELECT user_id, qty, SUM(qty) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '70' SECOND PRECEDING AND CURRENT ROW) AS s FROM ev",
      "user_id STRING, qty INT, s INT",
    );
    expect(rows).toEqual([
      { user_id: "a", qty: 2, s: 2 },
      { user_id: "b", qty: 3, s: 3 },
      { user_id: "a", qty: 1, s: 3 },
      { user_id: "a", qty: 5, s: 6 },
    ]);
  });

  it("ROWS BETWEEN n PRECEDING AND CURRENT ROW, and a named WINDOW", async () => {
    const rows = await q(
      "SELECT user_id, qty, SUM(qty) OVER w AS s, COUNT(*) OVER w AS n FROM ev WINDOW w AS (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
      "user_id STRING, qty INT, s INT, n BIGINT",
    );
    expect(rows.filter((r) => r.user_id === "a")).toEqual([
      { user_id: "a", qty: 2, s: 2, n: 1 },
      { user_id: "a", qty: 1, s: 3, n: 2 },
      { user_id: "a", qty: 5, s: 6, n: 2 },
    ]);
  });

  it("UNBOUNDED PRECEDING: a running aggregate in time order", async () => {
    const rows = await q(
      "SELECT qty, MAX(qty) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS m FROM ev WHERE user_id = 'a'",
      "qty INT, m INT",
    );
    expect(rows).toEqual([
      { qty: 2, m: 2 },
      { qty: 1, m: 2 },
      { qty: 5, m: 5 },
    ]);
  });
});

describe("SQL: lookup joins and UNION ALL", () => {
  it("LEFT and INNER lookup joins FOR SYSTEM_TIME AS OF a processing-time attribute, with an extra condition", async () => {
    const left = await q(
      "SELECT e.user_id, u.tier FROM ev AS e LEFT JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.user_id",
      "user_id STRING, tier STRING",
    );
    expect(left.map((r) => r.tier)).toEqual(["gold", null, "gold", "gold"]);
    const inner = await q(
      "SELECT e.qty, u.tier FROM ev AS e JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON u.user_id = e.user_id AND e.qty > 1",
      "qty INT, tier STRING",
    );
    expect(inner).toEqual([
      { qty: 2, tier: "gold" },
      { qty: 5, tier: "gold" },
    ]);
  });

  it("UNION ALL of compatible queries", async () => {
    const rows = await q("SELECT user_id, qty FROM ev WHERE qty = 1 UNION ALL SELECT kind, 0 FROM ev WHERE qty = 3", "a STRING, b INT");
    expect(rows.sort((x, y) => String(x.a).localeCompare(String(y.a)))).toEqual([
      { a: "a", b: 1 },
      { a: "like", b: 0 },
    ]);
  });
});
