/**
 * The Redis sink: sorted sets (replaced whole or added to) and hashes, each write with an expiry
 * and an optional version guard, written idempotently (ADR 25). Records arrive as the writes they
 * stand for (`RedisWrite`, shaped by the pipeline from the sink's expressions); each round's writes
 * go out as one pipeline of one Lua script call per write, in order. A write whose version is
 * lower than the key's stored version is skipped, so replaying records after a crash (the engine
 * restores the last checkpoint and runs again) never moves a key back to an older value, and
 * re-applying the same write leaves the same state. Writes are not part of Kafka transactions:
 * a reader may see a write before the checkpoint that produced it commits; after a crash the
 * replay writes the same values again.
 */
import type { Redis } from "ioredis";
import type { Sink, SinkWriter } from "../types.ts";
import { openRedis, redisError, type OpenRedisOptions, type RedisEndpoint } from "./connection.ts";

/** One member of a sorted set. */
export interface ScoredMember {
  member: string;
  score: number;
}

/** One write to Redis. */
export type RedisWrite =
  | {
      op: "zreplace" | "zadd";
      key: string;
      members: ScoredMember[];
      /** Keep only the highest-scored members. */
      maxSize?: number;
      ttlMs?: number;
      version?: number;
    }
  | { op: "hset"; key: string; fields: Record<string, string>; ttlMs?: number; version?: number };

/** The key holding a key's version (beside it, with the same expiry). */
export function versionKey(key: string): string {
  return `${key}#version`;
}

/**
 * KEYS: data key, version key. ARGV: version ("" = unguarded), ttl ms (""), mode (zreplace|zadd|hset),
 * maxSize (""), then score/member pairs or field/value pairs. Returns 1 when applied, 0 when older.
 */
const APPLY = `
local v = ARGV[1]
if v ~= "" then
  local cur = redis.call("GET", KEYS[2])
  if cur and tonumber(cur) > tonumber(v) then return 0 end
end
local mode = ARGV[3]
if mode == "zreplace" then redis.call("DEL", KEYS[1]) end
local n = #ARGV
local i = 5
while i <= n do
  local last = math.min(i + 199, n)
  if mode == "hset" then
    redis.call("HSET", KEYS[1], unpack(ARGV, i, last))
  else
    redis.call("ZADD", KEYS[1], unpack(ARGV, i, last))
  end
  i = last + 1
end
if ARGV[4] ~= "" then redis.call("ZREMRANGEBYRANK", KEYS[1], 0, -(tonumber(ARGV[4]) + 1)) end
if ARGV[2] ~= "" then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
if v ~= "" then
  if ARGV[2] ~= "" then redis.call("SET", KEYS[2], v, "PX", ARGV[2]) else redis.call("SET", KEYS[2], v) end
end
return 1
`;

/** The script's arguments for one write. */
export function scriptArgs(w: RedisWrite): string[] {
  const head = [w.version === undefined ? "" : String(Math.trunc(w.version)), w.ttlMs === undefined ? "" : String(Math.trunc(w.ttlMs)), w.op];
  if (w.op === "hset") return [...head, "", ...Object.entries(w.fields).flatMap(([f, v]) => [f, v])];
  return [...head, w.maxSize === undefined ? "" : String(w.maxSize), ...w.members.flatMap((m) => [String(m.score), m.member])];
}

/** A Redis client with the sink's script defined as a command. */
type ScriptedRedis = Redis & { runnelApply(key: string, version: string, ...args: string[]): Promise<number> };

/** Where writes go: the interface the sink needs (the Redis implementation below; fakes in tests). */
export interface RedisWriteTarget {
  /** Applies the writes in order (one round trip); returns how many were applied (not skipped as older). */
  apply(writes: readonly RedisWrite[]): Promise<number>;
  close(): Promise<void>;
}

/** The real target: one pipeline of script calls per batch. */
export async function redisWriteTarget(endpoint: RedisEndpoint, options: OpenRedisOptions): Promise<RedisWriteTarget> {
  const client = (await openRedis(endpoint, options)) as ScriptedRedis;
  client.defineCommand("runnelApply", { numberOfKeys: 2, lua: APPLY });
  return {
    async apply(writes) {
      if (writes.length === 0) return 0;
      const pipe = client.pipeline();
      // Queued on the pipeline; the results come back from exec().
      for (const w of writes) void (pipe as unknown as ScriptedRedis).runnelApply(w.key, versionKey(w.key), ...scriptArgs(w));
      let results: [Error | null, unknown][] | null;
      try {
        results = await pipe.exec();
      } catch (err) {
        throw redisError(options.name, `writing ${writes.length} keys`, err);
      }
      let applied = 0;
      for (const [i, [err, res]] of (results ?? []).entries()) {
        if (err) throw redisError(options.name, `writing key '${writes[i]?.key}'`, err);
        if (res === 1) applied++;
      }
      return applied;
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** Options of redisSink. */
export interface RedisSinkOptions {
  /** Sink id (names the client and errors). */
  name: string;
  /** Opens the target once per process, on the first task's open (default: the real Redis of `endpoint`). */
  target: () => Promise<RedisWriteTarget>;
  /** Called with the number of writes skipped because the key held a newer version (metrics). */
  onSkipped?: (n: number) => void;
}

/**
 * A sink of RedisWrite records. The tasks of a process share one target; each task buffers its
 * writes and sends them in one batch per round.
 */
export function redisSink(options: RedisSinkOptions): Sink<RedisWrite> {
  let shared: Promise<RedisWriteTarget> | undefined;
  let users = 0;
  const release = async (): Promise<void> => {
    if (--users > 0 || !shared) return;
    const t = shared;
    shared = undefined;
    await (await t).close();
  };
  return {
    name: options.name,
    async open(): Promise<SinkWriter<RedisWrite>> {
      shared ??= options.target();
      users++;
      let target: RedisWriteTarget;
      try {
        target = await shared;
      } catch (err) {
        users--;
        shared = undefined;
        throw err;
      }
      let buffer: RedisWrite[] = [];
      const flush = async (): Promise<void> => {
        if (buffer.length === 0) return;
        const writes = buffer;
        buffer = [];
        const applied = await target.apply(writes);
        if (applied < writes.length) options.onSkipped?.(writes.length - applied);
      };
      return {
        write(value) {
          buffer.push(value);
        },
        flush,
        async close() {
          await flush();
          await release();
        },
        async abort() {
          buffer = [];
          await release();
        },
      };
    },
  };
}
