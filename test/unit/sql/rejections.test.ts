/**
 * What `runnel validate` says about SQL it cannot run: every unsupported construct is refused by
 * name (never ignored), and names, types, aggregation rules and time attributes are checked, each
 * finding naming the statement, line and column, what was expected, and showing the line.
 */
import { describe, expect, it } from "vitest";
import { formatFindings } from "../../../runtime/spec/findings.ts";
import { findings } from "./helpers.ts";

const BASE = `CREATE TABLE ev (user_id STRING, kind STRING, qty INT, tags ARRAY<STRING>, ts TIMESTAMP(3), proc AS PROCTIME(), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'ev.ndjson', 'format' = 'json');
CREATE TABLE nots (user_id STRING, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = 'n.ndjson', 'format' = 'json');
CREATE TABLE users (user_id STRING, tier STRING, PRIMARY KEY (user_id) NOT ENFORCED) WITH ('connector' = 'filesystem', 'path' = 'u.ndjson', 'format' = 'json');
CREATE TABLE o (a STRING) WITH ('connector' = 'print');
CREATE TABLE k (a STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json');
`;

/** The one error finding of a script (BASE + statements). */
async function error(statements: string, base = BASE): Promise<string> {
  const f = (await findings(base + statements)).filter((x) => x.severity === "error");
  expect(f, formatFindings(f)).toHaveLength(1);
  return `${f[0]?.message ?? ""}${f[0]?.hint ? ` (hint: ${f[0].hint})` : ""}`;
}

const unsupported: [string, string, RegExp][] = [
  ["SELECT DISTINCT", "INSERT INTO o SELECT DISTINCT user_id FROM ev;", /SELECT DISTINCT is not supported/],
  ["ORDER BY", "INSERT INTO o SELECT user_id FROM ev ORDER BY ts;", /ORDER BY on a stream is not supported/],
  ["LIMIT", "INSERT INTO o SELECT user_id FROM ev LIMIT 3;", /LIMIT is not supported/],
  ["a regular join", "INSERT INTO o SELECT e.user_id FROM ev e JOIN users u ON e.user_id = u.user_id;", /a regular join of two streams is not supported/],
  [
    "an event-time temporal join",
    "INSERT INTO o SELECT e.user_id FROM ev e JOIN users FOR SYSTEM_TIME AS OF e.ts AS u ON e.user_id = u.user_id;",
    /an event-time temporal join .* is not supported/,
  ],
  [
    "RIGHT JOIN",
    "INSERT INTO o SELECT e.user_id FROM ev e RIGHT JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.user_id;",
    /RIGHT JOIN is not supported/,
  ],
  [
    "FULL JOIN",
    "INSERT INTO o SELECT e.user_id FROM ev e FULL JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.user_id;",
    /FULL JOIN is not supported/,
  ],
  ["CROSS JOIN", "INSERT INTO o SELECT e.user_id FROM ev e CROSS JOIN users u;", /CROSS JOIN is not supported/],
  ["a comma join", "INSERT INTO o SELECT e.user_id FROM ev e, users u;", /a comma join \(FROM a, b\) is not supported/],
  ["UNNEST", "INSERT INTO o SELECT 'x' FROM UNNEST(ARRAY['a']);", /UNNEST is not supported|syntax error/],
  ["IN (subquery)", "INSERT INTO o SELECT user_id FROM ev WHERE user_id IN (SELECT user_id FROM users);", /IN \(subquery\) is not supported/],
  ["EXISTS", "INSERT INTO o SELECT user_id FROM ev WHERE EXISTS (SELECT user_id FROM users);", /EXISTS \(subquery\) is not supported/],
  ["a scalar subquery", "INSERT INTO o SELECT (SELECT tier FROM users) FROM ev;", /a scalar subquery is not supported/],
  ["UNION without ALL", "INSERT INTO o SELECT user_id FROM ev UNION SELECT user_id FROM nots;", /UNION \(without ALL\) is not supported/],
  ["INTERSECT", "INSERT INTO o SELECT user_id FROM ev INTERSECT SELECT user_id FROM nots;", /INTERSECT is not supported/],
  ["EXCEPT", "INSERT INTO o SELECT user_id FROM ev EXCEPT SELECT user_id FROM nots;", /EXCEPT is not supported/],
  [
    "the CUMULATE window",
    "INSERT INTO o SELECT user_id FROM TABLE(CUMULATE(TABLE ev, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR));",
    /the CUMULATE window is not supported/,
  ],
  ["GROUPING SETS", "INSERT INTO o SELECT kind FROM ev GROUP BY GROUPING SETS ((kind), ());", /GROUPINGSETS is not supported/],
  ["ROLLUP", "INSERT INTO o SELECT kind FROM ev GROUP BY ROLLUP (kind, user_id);", /ROLLUP is not supported/],
  ["CREATE FUNCTION", "CREATE FUNCTION f AS 'com.example.F'; INSERT INTO o SELECT user_id FROM ev;", /CREATE FUNCTION .* is not supported/],
  ["DROP TABLE", "DROP TABLE nots; INSERT INTO o SELECT user_id FROM ev;", /DROP TABLE nots is not supported/],
  ["ALTER TABLE", "ALTER TABLE nots RENAME TO x; INSERT INTO o SELECT user_id FROM ev;", /ALTER TABLE .* is not supported/],
  ["INSERT OVERWRITE", "INSERT OVERWRITE o SELECT user_id FROM ev;", /INSERT OVERWRITE is not supported/],
  ["INSERT ... VALUES", "INSERT INTO o VALUES ('x');", /VALUES is not supported/],
  ["a SELECT without INSERT INTO", "SELECT user_id FROM ev;", /a SELECT without INSERT INTO is not supported/],
  [
    "CREATE TABLE AS SELECT",
    "CREATE TABLE c WITH ('connector' = 'print') AS SELECT user_id FROM ev; INSERT INTO o SELECT user_id FROM ev;",
    /CREATE TABLE \.\.\. AS SELECT is not supported/,
  ],
  [
    "a METADATA column",
    "CREATE TABLE m (a STRING, p INT METADATA FROM 'partition') WITH ('connector' = 'print'); INSERT INTO o SELECT user_id FROM ev;",
    /a METADATA column is not supported/,
  ],
  [
    "PARTITIONED BY",
    "CREATE TABLE pt (a STRING) PARTITIONED BY (a) WITH ('connector' = 'print'); INSERT INTO o SELECT user_id FROM ev;",
    /PARTITIONED BY is not supported/,
  ],
  ["the TIME type", "CREATE TABLE tt (a TIME) WITH ('connector' = 'print'); INSERT INTO o SELECT user_id FROM ev;", /the type TIME is not supported/],
  ["TIMESTAMP(6)", "CREATE TABLE t6 (a TIMESTAMP(6)) WITH ('connector' = 'print'); INSERT INTO o SELECT user_id FROM ev;", /TIMESTAMP\(6\) is not supported/],
  ["an unknown connector", "CREATE TABLE j (a STRING) WITH ('connector' = 'jdbc'); INSERT INTO o SELECT user_id FROM ev;", /unknown connector 'jdbc'/],
  [
    "a Redis table read as a stream",
    "CREATE TABLE r (a STRING, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'redis', 'address' = 'redis:6379'); INSERT INTO o SELECT a FROM r;",
    /table r is a Redis lookup table: it is read only by a lookup join/,
  ],
  [
    "an unknown option",
    "CREATE TABLE u2 (a STRING) WITH ('connector' = 'print', 'sink.parallelism' = '2'); INSERT INTO o SELECT user_id FROM ev;",
    /the option 'sink.parallelism' is not supported for the print connector/,
  ],
  [
    "the csv format",
    "CREATE TABLE c2 (a STRING) WITH ('connector' = 'filesystem', 'path' = 'x', 'format' = 'csv'); INSERT INTO o SELECT user_id FROM ev;",
    /the format 'csv' is not supported/,
  ],
  [
    "a startup mode by timestamp",
    "CREATE TABLE s2 (a STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'scan.startup.mode' = 'timestamp'); INSERT INTO o SELECT user_id FROM ev;",
    /'scan.startup.mode' = 'timestamp' is not supported/,
  ],
  [
    "ROW_NUMBER OVER",
    "INSERT INTO o SELECT user_id FROM (SELECT user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM ev);",
    /ROW_NUMBER OVER \(\.\.\.\) is not supported/,
  ],
  [
    "OVER ... DESC",
    "INSERT INTO o SELECT user_id FROM (SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts DESC) AS n FROM ev);",
    /ORDER BY \.\.\. DESC in OVER is not supported/,
  ],
  [
    "an OVER frame ending FOLLOWING",
    "INSERT INTO o SELECT user_id FROM (SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS n FROM ev);",
    /an OVER frame ending 1 FOLLOWING is not supported/,
  ],
  [
    "OVER by processing time",
    "INSERT INTO o SELECT user_id FROM (SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY proc) AS n FROM ev);",
    /over the processing-time attribute 'proc' is not supported/,
  ],
  [
    "a processing-time window",
    "INSERT INTO o SELECT kind FROM ev GROUP BY TUMBLE(proc, INTERVAL '1' MINUTE), kind;",
    /TUMBLE over the processing-time attribute 'proc' is not supported/,
  ],
  ["a year-month interval", "INSERT INTO o SELECT kind FROM ev GROUP BY TUMBLE(ts, INTERVAL '1' MONTH), kind;", /a MONTH interval is not supported/],
  ["an unknown SET key", "SET 'parallelism.default' = '4'; INSERT INTO o SELECT user_id FROM ev;", /SET 'parallelism.default' is not supported/],
  ["an unknown function", "INSERT INTO o SELECT MD6(user_id) FROM ev;", /the function MD6 is not supported/],
  ["RLIKE", "INSERT INTO o SELECT user_id FROM ev WHERE user_id RLIKE 'a.*';", /RLIKE is not supported/],
  ["SIMILAR TO", "INSERT INTO o SELECT user_id FROM ev WHERE user_id SIMILAR TO 'a%';", /SIMILAR TO is not supported/],
  [
    "an updating result into an append-only table",
    "SET 'execution.runtime-mode' = 'streaming'; INSERT INTO k SELECT user_id FROM ev GROUP BY user_id;",
    /updating result .* which the kafka connector cannot take/,
  ],
  [
    "reading an upsert-kafka table as a stream",
    "CREATE TABLE up (a STRING, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'u', 'value.format' = 'json'); INSERT INTO o SELECT a FROM up;",
    /reading the upsert-kafka table up as a stream is not supported/,
  ],
];

describe("SQL: unsupported constructs are refused by name", () => {
  for (const [what, sql, message] of unsupported) {
    it(what, async () => {
      expect(await error(sql)).toMatch(message);
    });
  }
});

describe("SQL: validate checks names, types, aggregation and time attributes", () => {
  it("an unknown column names the columns there are", async () => {
    expect(await error("INSERT INTO o SELECT user_idd FROM ev;")).toMatch(/unknown column 'user_idd' \(hint: available: ev.user_id, ev.kind/);
  });

  it("a column in the wrong case gets a did-you-mean", async () => {
    expect(await error("INSERT INTO o SELECT USER_ID FROM ev;")).toMatch(
      /unknown column 'USER_ID' \(hint: did you mean 'user_id'\? \(names are case-sensitive\)\)/,
    );
  });

  it("a type mismatch in arithmetic and in a comparison", async () => {
    expect(await error("INSERT INTO o SELECT user_id + 1 FROM ev;")).toMatch(/cannot apply '\+' to STRING and INT \(user_id \+ 1\)/);
    expect(await error("INSERT INTO o SELECT user_id FROM ev WHERE qty = 'x';")).toMatch(/cannot compare INT with STRING/);
    expect(await error("INSERT INTO o SELECT user_id FROM ev WHERE qty;")).toMatch(/WHERE must be a BOOLEAN condition, got INT/);
  });

  it("a column neither grouped nor aggregated, and an aggregate in WHERE", async () => {
    expect(await error("INSERT INTO o SELECT user_id FROM ev GROUP BY kind;")).toMatch(
      /column 'user_id' is neither in GROUP BY nor inside an aggregate function/,
    );
    expect(await error("INSERT INTO o SELECT user_id FROM ev WHERE COUNT(*) > 1;")).toMatch(/the aggregate COUNT is not allowed here/);
    expect(await error("INSERT INTO o SELECT kind FROM ev GROUP BY kind HAVING MAX(COUNT(*)) > 1;")).toMatch(/aggregate functions cannot be nested/);
  });

  it("a window over a column that is not a time attribute", async () => {
    expect(await error("INSERT INTO o SELECT user_id FROM nots GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), user_id;")).toMatch(
      /TUMBLE needs a time attribute, and 'ts' is not one/,
    );
    expect(
      await error(
        "INSERT INTO o SELECT user_id FROM (SELECT user_id, CAST(ts AS TIMESTAMP(3)) AS t2 FROM ev) GROUP BY TUMBLE(t2, INTERVAL '1' MINUTE), user_id;",
      ),
    ).toMatch(/TUMBLE needs a time attribute, and 't2' is not one/);
  });

  it("INSERT into a table whose columns do not match the query", async () => {
    expect(await error("INSERT INTO o SELECT user_id, kind FROM ev;")).toMatch(/INSERT INTO o: the query gives 2 columns but the table takes 1 \(a\)/);
    expect(await error("INSERT INTO o SELECT qty FROM ev;")).toMatch(/INSERT INTO o: column a is STRING but the query gives INT/);
    expect(await error("INSERT INTO nowhere SELECT qty FROM ev;")).toMatch(/INSERT INTO 'nowhere': no such table/);
    expect(await error("INSERT INTO o SELECT a FROM nope;")).toMatch(/unknown table 'nope'/);
  });

  it("a syntax error names the statement, line and column and what was expected, and shows the line", async () => {
    const f = await findings(`${BASE}INSERT INTO o\nSELECT user_id,\nFROM ev;`);
    expect(f).toEqual([
      {
        path: ".spec.sql",
        message: 'statement 6 (INSERT INTO o), line 9, column 1: syntax error: unexpected "FROM"; expected a select item (an expression, optionally AS alias)',
        severity: "error",
        excerpt: ["FROM ev;", "^"],
      },
    ]);
  });

  it("a type error shows the line with a caret under the problem", async () => {
    const f = await findings(`${BASE}INSERT INTO o SELECT user_id FROM ev\nWHERE qty > 'many';`);
    expect(f[0]?.message).toMatch(/^statement 6 \(INSERT INTO o\), line 8, column 7: cannot compare INT with STRING/);
    expect(f[0]?.excerpt).toEqual(["WHERE qty > 'many';", "      ^"]);
  });

  it("a script without INSERT INTO is refused", async () => {
    expect(await error("", BASE)).toMatch(/the script has no INSERT INTO statement/);
  });
});
