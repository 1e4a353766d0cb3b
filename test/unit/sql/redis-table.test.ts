/**
 * Redis lookup tables in SQL ('connector' = 'redis'): options checked with the field named, the
 * join keyed by the lookup key and fed per micro-batch, hash text converted to the columns' types,
 * a row that does not fit sent to the dead-letter stream. Here the table's 'local.path' file
 * stands in for Redis (a local run); test/integration/redis-connectors.test.ts joins real Redis.
 */
import { describe, expect, it } from "vitest";
import { compile, dataDir, run, runSql } from "./helpers.ts";

const EVENTS = `CREATE TABLE ev (user_id STRING, n INT, proc AS PROCTIME())
  WITH ('connector' = 'filesystem', 'path' = 'ev.ndjson', 'format' = 'json');
CREATE TABLE o (user_id STRING, n INT, age INT, tags ARRAY<STRING>) WITH ('connector' = 'print');
`;
const users = (options: string): string => `CREATE TABLE users (id STRING, age INT, tags ARRAY<STRING>, PRIMARY KEY (id) NOT ENFORCED)
  WITH ('connector' = 'redis', 'address' = 'redis:6379', 'key-prefix' = 'user:', 'local.path' = 'users.ndjson'${options});
`;
const EV = [
  { user_id: "u1", n: 1 },
  { user_id: "u2", n: 2 },
  { user_id: "u3", n: 3 },
  { user_id: "u1", n: 4 },
];
// Hash values are text, as Redis keeps them.
const USERS = [
  { id: "u1", age: "31", tags: '["a","b"]' },
  { id: "u2", age: "forty" },
];

describe("SQL: Redis lookup tables", () => {
  it("LEFT and INNER joins read each key's hash, converting text to the columns' types; a row that does not fit dead-letters the stream row", async () => {
    const left = `${EVENTS}${users("")}INSERT INTO o SELECT e.user_id, e.n, u.age, u.tags FROM ev AS e
      LEFT JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.id;`;
    const out = await runSql(left, { "ev.ndjson": EV, "users.ndjson": USERS }, 2);
    const byN = (rows: Record<string, unknown>[] | undefined): Record<string, unknown>[] => [...(rows ?? [])].sort((a, b) => (a.n as number) - (b.n as number));
    expect(byN(out.o)).toEqual([
      { user_id: "u1", n: 1, age: 31, tags: ["a", "b"] },
      { user_id: "u3", n: 3, age: null, tags: null },
      { user_id: "u1", n: 4, age: 31, tags: ["a", "b"] },
    ]);
    expect(out["dead-letter"]?.map((d) => d.error)).toEqual([
      `the row of users at Redis key 'user:u2' does not fit the table: column age: "forty" is not an INT`,
    ]);
    const inner = await runSql(
      `${EVENTS}${users("")}INSERT INTO o SELECT e.user_id, e.n, u.age, u.tags FROM ev AS e
      JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON u.id = e.user_id AND u.age > 30;`,
      { "ev.ndjson": EV, "users.ndjson": USERS },
    );
    expect(byN(inner.o).map((r) => r.n)).toEqual([1, 4]);
  });

  it("a Redis table is only a lookup table: read as a stream or written, it is refused by name", () => {
    const files = dataDir({ "users.ndjson": USERS, "ev.ndjson": EV });
    expect(() => compile(`${EVENTS}${users("")}INSERT INTO o SELECT id, 1, age, tags FROM users;`, files)).toThrow(
      /table users is a Redis lookup table: it is read only by a lookup join/,
    );
    expect(() => compile(`${EVENTS}${users("")}INSERT INTO users SELECT user_id, n, CAST(NULL AS ARRAY<STRING>) FROM ev;`, files)).toThrow(
      /writing to a Redis table \(users\) is not supported/,
    );
  });

  it("checks its options: address, primary key, cache settings, password Secret", () => {
    const files = dataDir({ "users.ndjson": USERS, "ev.ndjson": EV });
    const join = "INSERT INTO o SELECT e.user_id, e.n, u.age, u.tags FROM ev AS e JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.id;";
    const attempt =
      (ddl: string): (() => unknown) =>
      () =>
        compile(`${EVENTS}${ddl}${join}`, files);
    expect(attempt(users(", 'lookup.partial-cache.max-rows' = 'many'"))).toThrow(/'lookup.partial-cache.max-rows' must be a whole number/);
    expect(attempt(users(", 'lookup.partial-cache.expire-after-write' = 'soon'"))).toThrow(
      /'lookup.partial-cache.expire-after-write' = 'soon' is not a duration/,
    );
    expect(attempt(users(", 'password.secret' = 'no key'"))).toThrow(/'password.secret' must be <secret name>\/<key>/);
    expect(attempt(users(", 'ttl' = '1h'"))).toThrow(/the option 'ttl' is not supported for the redis connector/);
    expect(attempt(`CREATE TABLE users (id STRING, age INT, tags ARRAY<STRING>) WITH ('connector' = 'redis', 'address' = 'redis:6379');`)).toThrow(
      /needs a PRIMARY KEY of one column/,
    );
    expect(attempt(`CREATE TABLE users (id STRING, age INT, tags ARRAY<STRING>, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'redis');`)).toThrow(
      /the redis table users needs an 'address'/,
    );
    expect(
      attempt(`CREATE TABLE users (id STRING, age INT, tags ARRAY<STRING>, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'redis', 'address' = 'redis');`),
    ).toThrow(/'address' must be host:port/);
  });

  it("runs in one compiled job with a statement set, each INSERT with its own lookup operator", async () => {
    const sql = `${EVENTS}${users("")}CREATE TABLE p (user_id STRING, age INT) WITH ('connector' = 'print');
      INSERT INTO o SELECT e.user_id, e.n, u.age, u.tags FROM ev AS e JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.id WHERE e.n = 1;
      INSERT INTO p SELECT e.user_id, u.age FROM ev AS e LEFT JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.id WHERE e.n = 3;`;
    const out = await run(compile(sql, dataDir({ "ev.ndjson": EV, "users.ndjson": USERS })));
    expect(out.o).toEqual([{ user_id: "u1", n: 1, age: 31, tags: ["a", "b"] }]);
    expect(out.p).toEqual([{ user_id: "u3", age: null }]);
  });
});
