/**
 * The Redis sink and the Redis lookup join against the real Redis of test/env: versioned,
 * replay-safe sorted-set and hash writes with expiry, pipelined hash lookups, and a compiled job
 * that joins from Redis and writes to Redis in cluster mode, run twice (a replay) with the same
 * end state; a SQL job joining a Redis table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { collectionSource } from "../../runtime/connectors/memory.ts";
import { redisHashStore } from "../../runtime/connectors/redis/lookup.ts";
import { redisWriteTarget, versionKey, type RedisWrite } from "../../runtime/connectors/redis/sink.ts";
import { ConnectorError } from "../../runtime/errors.ts";
import { createEngine } from "../../runtime/exec/engine.ts";
import { compilePipeline } from "../../runtime/pipeline/compile.ts";
import { parseManifests } from "../../runtime/spec/manifest.ts";
import { parseStreamJob } from "../../runtime/spec/validate.ts";
import { plain } from "../../runtime/pipeline/values.ts";
import { compileSql } from "../../runtime/sql/compile.ts";
import { testEnv, uniqueName } from "../helpers/env.ts";

const address = (): string => new URL(testEnv().redisUrl).host;

describe("Redis connectors (real Redis)", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("replaces a sorted set whole, never goes back to an older version, and re-applying gives the same state", async () => {
    const key = uniqueName("recs");
    const target = await redisWriteTarget({ address: address() }, { name: "recs" });
    const v = (version: number, items: [string, number][]): RedisWrite => ({
      op: "zreplace",
      key,
      members: items.map(([member, score]) => ({ member, score })),
      ttlMs: 3_600_000,
      version,
    });
    try {
      expect(
        await target.apply([
          v(100, [
            ["a", 3],
            ["b", 2],
          ]),
          v(200, [
            ["c", 5],
            ["a", 1],
          ]),
        ]),
      ).toBe(2);
      const after = await redis.zrevrange(key, 0, -1, "WITHSCORES");
      expect(after).toEqual(["c", "5", "a", "1"]);
      // A replay after a crash: the older write is skipped, the newer one applies again unchanged.
      expect(
        await target.apply([
          v(100, [
            ["a", 3],
            ["b", 2],
          ]),
          v(200, [
            ["c", 5],
            ["a", 1],
          ]),
        ]),
      ).toBe(1);
      expect(await redis.zrevrange(key, 0, -1, "WITHSCORES")).toEqual(after);
      expect(await redis.get(versionKey(key))).toBe("200");
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
      expect(await redis.pttl(versionKey(key))).toBeGreaterThan(3_500_000);
      // An empty list empties the set (the user has no recommendations any more).
      await target.apply([v(300, [])]);
      expect(await redis.exists(key)).toBe(0);
    } finally {
      await target.close();
      await redis.del(key, versionKey(key));
    }
  });

  it("adds to sorted sets keeping the best maxSize, writes hashes, and names the key of a refused write", async () => {
    const key = uniqueName("top");
    const hash = uniqueName("profile");
    const target = await redisWriteTarget({ address: address() }, { name: "mixed" });
    try {
      await target.apply([
        {
          op: "zadd",
          key,
          members: [
            { member: "a", score: 1 },
            { member: "b", score: 5 },
          ],
          maxSize: 2,
        },
        { op: "zadd", key, members: [{ member: "c", score: 3 }], maxSize: 2 },
        { op: "hset", key: hash, fields: { views: "3", likes: "1" }, ttlMs: 60_000, version: 7 },
        { op: "hset", key: hash, fields: { views: "2" }, version: 6 },
      ]);
      expect(await redis.zrevrange(key, 0, -1)).toEqual(["b", "c"]);
      expect(await redis.hgetall(hash)).toEqual({ views: "3", likes: "1" });
      expect(await redis.pttl(key)).toBe(-1);
      const err = await target.apply([{ op: "hset", key, fields: { x: "1" } }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectorError);
      expect((err as ConnectorError).retriable).toBe(false);
      expect((err as Error).message).toMatch(new RegExp(`writing key '${key}' failed: WRONGTYPE.*holds another type`));
    } finally {
      await target.close();
      await redis.del(key, hash, versionKey(hash));
    }
  });

  it("looks up a batch of hashes in one pipeline, all fields or the named ones", async () => {
    const prefix = `${uniqueName("dim")}:`;
    await redis.hset(`${prefix}u1`, { ageGroup: "18-24", country: "NL" });
    await redis.hset(`${prefix}u2`, { ageGroup: "45+" });
    const all = await redisHashStore({ address: address() }, { name: "users", keyPrefix: prefix });
    const some = await redisHashStore({ address: address() }, { name: "users", keyPrefix: prefix, fields: ["country"] });
    try {
      expect(await all.getMany(["u1", "u3", "u2"])).toEqual([{ ageGroup: "18-24", country: "NL" }, null, { ageGroup: "45+" }]);
      expect(await some.getMany(["u1", "u2"])).toEqual([{ country: "NL" }, null]);
    } finally {
      await all.close();
      await some.close();
      await redis.del(`${prefix}u1`, `${prefix}u2`);
    }
  });

  it("fails to connect with a transient error naming the address", async () => {
    const err = await redisWriteTarget({ address: "127.0.0.1:1" }, { name: "recs", connectTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).retriable).toBe(true);
    expect((err as Error).message).toMatch(/recs: cannot reach Redis at 127\.0\.0\.1:1/);
  });

  it("a compiled job joins from Redis and writes ranked sets to Redis; running it again (a replay) leaves the same state", async () => {
    const prefix = `${uniqueName("job")}:`;
    await redis.hset(`${prefix}user:u1`, { segment: "gold" });
    await redis.hset(`${prefix}user:u2`, { segment: "new" });
    const manifest = `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: redis-job }
spec:
  parallelism: 2
  pipeline:
    sources:
      - { id: clicks, kafka: { topic: clicks }, timestamp: { field: ts } }
    steps:
      - { id: by-user, input: clicks, keyBy: { key: record.userId } }
      - id: enriched
        input: by-user
        lookupJoin:
          redis: { address: "${address()}", keyPrefix: "${prefix}user:", cache: { ttl: 1s } }
          key: record.userId
          select: { userId: record.userId, item: record.item, ts: record.ts, weight: "row == null ? 1.0 : (row.segment == 'gold' ? 2.0 : 1.0)" }
      - id: ranked
        input: enriched
        keyBy: { key: record.userId }
      - id: top
        input: ranked
        window:
          type: tumbling
          size: 1m
          aggregations:
            - { name: items, fn: topN, of: "{'item': record.item, 'score': record.weight * double(record.ts % 100)}", by: "record.weight * double(record.ts % 100)", limit: 2 }
    sinks:
      - id: recs
        input: top
        redis:
          address: "${address()}"
          keyPrefix: "${prefix}recs:"
          sortedSet: { key: string(key), member: "record.items.map(i, {'member': i.item, 'score': i.score})", replace: true }
          ttl: 1h
          version: record.windowEnd
`;
    const clicks = [
      { userId: "u1", item: "a", ts: 10 },
      { userId: "u1", item: "b", ts: 20 },
      { userId: "u1", item: "c", ts: 5 },
      { userId: "u2", item: "d", ts: 30 },
      { userId: "u3", item: "e", ts: 40 },
      { userId: "u1", item: "f", ts: 60_050 },
    ];
    const runOnce = async (): Promise<void> => {
      const job = parseStreamJob(parseManifests(manifest)[0]).value;
      const c = compilePipeline(job, { mode: "cluster", baseDir: ".", sourceOverride: () => collectionSource({ partitions: [clicks, []] }) });
      await createEngine({ graph: c.graph, idleSleepMs: 0, batchSize: 2 }).run();
    };
    const state = async (): Promise<Record<string, string[]>> => {
      const out: Record<string, string[]> = {};
      for (const u of ["u1", "u2", "u3"]) out[u] = await redis.zrevrange(`${prefix}recs:${u}`, 0, -1, "WITHSCORES");
      return out;
    };
    try {
      await runOnce();
      const first = await state();
      // u1's second window (ending 120 000) replaced its first; u1 is gold (weight 2).
      expect(first).toEqual({ u1: ["f", "100"], u2: ["d", "30"], u3: ["e", "40"] });
      expect(await redis.get(versionKey(`${prefix}recs:u1`))).toBe("120000");
      await runOnce();
      expect(await state()).toEqual(first);
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });

  it("a SQL job joins a Redis table: the hashes of each batch's keys, typed; a new run reads a changed hash", async () => {
    const prefix = `${uniqueName("sql")}:`;
    await redis.hset(`${prefix}u1`, { id: "u1", age: "31", segment: "gold" });
    await redis.hset(`${prefix}u2`, { age: "22" });
    const sql = `CREATE TABLE ev (user_id STRING, n INT, proc AS PROCTIME()) WITH ('connector' = 'kafka', 'topic' = 'ev', 'format' = 'json');
CREATE TABLE users (id STRING, age INT, segment STRING, PRIMARY KEY (id) NOT ENFORCED) WITH (
  'connector' = 'redis', 'address' = '${address()}', 'key-prefix' = '${prefix}',
  'lookup.partial-cache.max-rows' = '1', 'lookup.partial-cache.expire-after-write' = '1 h');
CREATE TABLE o (user_id STRING, n INT, age INT, segment STRING) WITH ('connector' = 'print');
INSERT INTO o SELECT e.user_id, e.n, u.age, u.segment FROM ev AS e LEFT JOIN users FOR SYSTEM_TIME AS OF e.proc AS u ON e.user_id = u.id;`;
    const events = [
      { user_id: "u1", n: 1 },
      { user_id: "u2", n: 2 },
      { user_id: "u3", n: 3 },
      { user_id: "u1", n: 4 },
    ];
    const runOnce = async (): Promise<Record<string, unknown>[]> => {
      const doc = { apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name: "sql-redis" }, spec: { sql } };
      const c = compileSql(parseStreamJob(doc).value, {
        mode: "local",
        baseDir: ".",
        sourceOverride: () => collectionSource({ partitions: [events.slice(0, 2), events.slice(2)] }),
        sinkOverride: "collect",
      });
      await createEngine({ graph: c.graph, idleSleepMs: 0, batchSize: 2 }).run();
      const rows = [...(c.collected.get("o")?.values() ?? [])].map((v) => plain(v) as Record<string, unknown>);
      return rows.sort((a, b) => (a.n as number) - (b.n as number));
    };
    try {
      expect(await runOnce()).toEqual([
        { user_id: "u1", n: 1, age: 31, segment: "gold" },
        { user_id: "u2", n: 2, age: 22, segment: null },
        { user_id: "u3", n: 3, age: null, segment: null },
        { user_id: "u1", n: 4, age: 31, segment: "gold" },
      ]);
      // A new run has a new cache: the changed hash is read.
      await redis.hset(`${prefix}u1`, { segment: "silver" });
      expect((await runOnce())[0]).toEqual({ user_id: "u1", n: 1, age: 31, segment: "silver" });
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
});
