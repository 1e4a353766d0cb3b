/**
 * Redis lookup tables: `CREATE TABLE users (user_id STRING, age_group STRING, PRIMARY KEY (user_id)
 * NOT ENFORCED) WITH ('connector' = 'redis', 'address' = 'redis:6379', 'key-prefix' = 'user:')`,
 * joined `FOR SYSTEM_TIME AS OF` a processing-time attribute. A row is the Redis hash at
 * key-prefix + the primary key's value; its fields are the table's physical columns (HMGET),
 * converted to their types as JSON values are (a hash value is text: numbers and booleans are
 * read from text, MAP/ARRAY/ROW columns from JSON text). As the pipeline's Redis lookup (ADR 25):
 * the stream is keyed by the lookup key, and each task fetches the keys of a micro-batch missing
 * from its cache in one pipeline before joining its rows from memory; the cache is bounded
 * ('lookup.partial-cache.max-rows') and rows expire ('lookup.partial-cache.expire-after-write'),
 * as Flink's partial lookup cache. Locally, 'local.path' names an ndjson file standing in for Redis.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Key, KeyedProcessFunction } from "../api/functions.ts";
import { lookupCache, memoryLookupStore, sharedLookupStore, type LookupRow } from "../connectors/lookup.ts";
import type { RedisEndpoint } from "../connectors/redis/connection.ts";
import { redisHashStore } from "../connectors/redis/lookup.ts";
import { InternalError, RecordError } from "../errors.ts";
import type { TableDef } from "./catalog.ts";
import { fail, type SqlPosition, type StatementRef } from "./errors.ts";
import type { Column } from "./expr-compile.ts";
import { expressionErrors } from "./plan.ts";
import { operatorUid, opName, type Relation, type Row, type StatementPlan } from "./relation.ts";
import { BadRow, rowConverter } from "./scan.ts";
import { textOf } from "./values.ts";

/** The options of a Redis table (besides 'connector'). */
export const REDIS_OPTIONS = [
  "address",
  "database",
  "tls",
  "key-prefix",
  "password.secret",
  "lookup.partial-cache.max-rows",
  "lookup.partial-cache.expire-after-write",
  "local.path",
];

/** Where a Redis table's rows are and how they are cached. */
export interface RedisTable {
  endpoint: RedisEndpoint;
  keyPrefix: string;
  maxRows: number;
  ttlMs: number;
  /** An ndjson file standing in for Redis in a local run. */
  localPath?: string;
}

/** Reads and checks a Redis table's options. */
export function redisTableOf(
  stmt: StatementRef,
  def: TableDef,
  get: (k: string) => string | undefined,
  posOf: (k: string) => SqlPosition,
  duration: (k: string, text: string) => number,
): RedisTable {
  const at = def.stmt.pos;
  const address = get("address");
  if (address === undefined) fail(stmt, at, `the redis table ${def.name} needs an 'address'`, "'address' = 'redis:6379'");
  if (!/^[^\s:]+:[0-9]{1,5}$/.test(address)) fail(stmt, posOf("address"), `'address' must be host:port, got '${address}'`, "e.g. 'redis:6379'");
  if (def.primaryKey?.length !== 1)
    fail(
      stmt,
      at,
      `the redis table ${def.name} needs a PRIMARY KEY of one column: its value (after 'key-prefix') is the key of the row's hash`,
      "PRIMARY KEY (id) NOT ENFORCED",
    );
  const whole = (k: string, max: number, fallback: number): number => {
    const v = get(k);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) fail(stmt, posOf(k), `'${k}' must be a whole number from 0 to ${max}, got '${v}'`);
    return n;
  };
  const database = whole("database", 15, 0);
  const tls = get("tls");
  if (tls !== undefined && tls !== "true" && tls !== "false") fail(stmt, posOf("tls"), `'tls' must be 'true' or 'false', got '${tls}'`);
  const secret = get("password.secret");
  const ref = secret === undefined ? undefined : /^([a-z0-9][a-z0-9.-]*)\/([-._a-zA-Z0-9]+)$/.exec(secret);
  if (secret !== undefined && !ref)
    fail(stmt, posOf("password.secret"), `'password.secret' must be <secret name>/<key>, got '${secret}'`, "e.g. 'redis-auth/password'");
  const ttl = get("lookup.partial-cache.expire-after-write");
  const local = get("local.path");
  return {
    endpoint: {
      address,
      database,
      ...(tls === "true" ? { tls: true } : {}),
      ...(ref ? { passwordSecretRef: { name: ref[1] as string, key: ref[2] as string } } : {}),
    },
    keyPrefix: get("key-prefix") ?? "",
    maxRows: whole("lookup.partial-cache.max-rows", 10_000_000, 100_000),
    ttlMs: ttl === undefined ? 60_000 : duration("lookup.partial-cache.expire-after-write", ttl),
    ...(local === undefined ? {} : { localPath: local }),
  };
}

/** A hash field's text as the JSON value the column's reader takes (structured columns hold JSON text). */
function fieldValue(text: unknown, column: Column): unknown {
  const kind = column.type.kind;
  if (typeof text !== "string" || (kind !== "MAP" && kind !== "ARRAY" && kind !== "ROW")) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The rows of a local stand-in file by their primary key's value. */
function localRows(plan: StatementPlan, t: TableDef, path: string, pk: string): Map<string, LookupRow> {
  const file = resolve(plan.env.ctx.options.baseDir, path);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return fail(t.stmt.ref, t.options.get("local.path")?.pos ?? t.stmt.pos, `cannot read ${file}: ${(err as Error).message}`);
  }
  const rows = new Map<string, LookupRow>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      fail(t.stmt.ref, t.options.get("local.path")?.pos ?? t.stmt.pos, `${file}:${i + 1} is not JSON: ${(err as Error).message}`);
    }
    const k = (row as Record<string, unknown> | null)?.[pk];
    if (k !== undefined && k !== null) rows.set(textOf(k), row as LookupRow);
  });
  return rows;
}

/** What planRedisLookup joins: the left side, the probe of the key, the residual ON condition. */
export interface RedisJoin {
  left: Relation;
  table: TableDef;
  probe: (r: Row) => unknown;
  extra?: (r: Row) => boolean;
  outer: boolean;
  columns: Column[];
}

/** A row of a Redis table that did not fit its types: the stream row goes to the dead-letter stream. */
class BadLookupRow extends RecordError {}

/** Plans a lookup join against a Redis table: a keyed operator that prepares each micro-batch's keys. */
export function planRedisLookup(plan: StatementPlan, j: RedisJoin): Relation {
  const t = j.table;
  const r = t.redis as RedisTable;
  const pk = (t.primaryKey as string[])[0] as string;
  const physical = t.physical.map((p) => ({ name: p.name, column: t.columns[p.index] as Column }));
  const { convert } = rowConverter(plan.env, t);
  const local = plan.env.ctx.options.mode === "local" && r.localPath !== undefined ? localRows(plan, t, r.localPath, pk) : undefined;
  const name = `${plan.scope}/${t.name}`;
  // One connection per process, shared by its tasks (each with its own cache).
  const store = sharedLookupStore(() =>
    local ? Promise.resolve(memoryLookupStore(local)) : redisHashStore(r.endpoint, { name, keyPrefix: r.keyPrefix, fields: physical.map((p) => p.name) }),
  );
  const keyText = (row: Row): string | undefined => {
    const v = j.probe(row);
    return v === null || v === undefined ? undefined : textOf(v);
  };
  const nulls: Row = new Array<unknown>(t.columns.length).fill(null);
  const onError = expressionErrors(plan, "join");
  const keyed = j.left.stream.keyBy((x: unknown): Key => {
    try {
      return keyText(x as Row) ?? "\u0000null";
    } catch {
      return "\u0000invalid";
    }
  });
  const stream = keyed.process<unknown>(
    (rt): KeyedProcessFunction<Key, unknown, unknown> => {
      let cache: ReturnType<typeof lookupCache> | undefined;
      // Converted rows by the hash they came from (a cached hash is converted once).
      const converted = new WeakMap<LookupRow, Row | BadRow>();
      const keys: string[] = [];
      const rowOf = (hash: LookupRow, key: string): Row => {
        let row = converted.get(hash);
        if (row === undefined) {
          const rec: Record<string, unknown> = {};
          for (const p of physical) rec[p.name] = fieldValue(hash[p.name] ?? null, p.column);
          if (rec[pk] === null) rec[pk] = key;
          row = convert(rec);
          converted.set(hash, row);
        }
        if (row instanceof BadRow) throw new BadLookupRow(`the row of ${t.name} at Redis key '${r.keyPrefix}${key}' does not fit the table: ${row.reason}`);
        return row;
      };
      return {
        async prepareBatch(values, count) {
          cache ??= lookupCache({ store: await store.acquire(), maxEntries: r.maxRows, ttlMs: r.ttlMs, now: () => Date.now() });
          keys.length = 0;
          for (let i = 0; i < count; i++) {
            try {
              const k = keyText(values[i] as Row);
              if (k !== undefined) keys.push(k);
            } catch {
              // the record's own processing reports it
            }
          }
          await cache.prepare(keys);
        },
        processElement(x, c, out) {
          const row = x as Row;
          let joined: Row | undefined;
          try {
            const k = keyText(row);
            const hash = k === undefined ? null : cache?.get(k);
            if (hash === undefined) throw new InternalError(`lookup key ${JSON.stringify(k)} was not prepared (task ${rt.taskIndex})`);
            if (hash !== null) {
              const match = row.concat(rowOf(hash, k as string));
              if (!j.extra || j.extra(match)) joined = match;
            }
          } catch (err) {
            onError(c, x, err);
            return;
          }
          if (joined) out.collect(joined);
          else if (j.outer) out.collect(row.concat(nulls));
        },
        async close() {
          if (!cache) return;
          cache = undefined;
          await store.release();
        },
      };
    },
    { uid: operatorUid(plan, "lookup", `${t.name}|redis`), name: opName(plan, `lookup join ${t.name} (redis)`) },
  );
  plan.env.ctx.deadLetterProducers.push(stream);
  return { stream, columns: j.columns, ...(j.left.rowtime === undefined ? {} : { rowtime: j.left.rowtime }) };
}
