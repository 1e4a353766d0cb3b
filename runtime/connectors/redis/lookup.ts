/**
 * Rows of a Redis lookup join: one hash per key (`keyPrefix` + lookup key), read for a whole batch
 * of keys in one pipeline (HGETALL, or HMGET of the named fields). A missing or empty hash is no row.
 * Hash values are strings, as Redis keeps them.
 */
import type { LookupRow, LookupStore } from "../lookup.ts";
import { openRedis, redisError, type OpenRedisOptions, type RedisEndpoint } from "./connection.ts";

/** Options of redisHashStore. */
export interface RedisHashStoreOptions extends OpenRedisOptions {
  /** Prepended to every lookup key. */
  keyPrefix?: string;
  /** Fields to read (default: all). */
  fields?: readonly string[];
}

/** Connects and returns a store reading hashes. */
export async function redisHashStore(endpoint: RedisEndpoint, options: RedisHashStoreOptions): Promise<LookupStore> {
  const client = await openRedis(endpoint, options);
  const prefix = options.keyPrefix ?? "";
  const fields = options.fields && options.fields.length > 0 ? [...options.fields] : undefined;
  return {
    async getMany(keys) {
      if (keys.length === 0) return [];
      const pipe = client.pipeline();
      for (const k of keys) {
        if (fields) pipe.hmget(prefix + k, ...fields);
        else pipe.hgetall(prefix + k);
      }
      let results: [Error | null, unknown][] | null;
      try {
        results = await pipe.exec();
      } catch (err) {
        throw redisError(options.name, `looking up ${keys.length} keys`, err);
      }
      return (results ?? []).map(([err, res], i): LookupRow | null => {
        if (err) throw redisError(options.name, `looking up key '${prefix}${keys[i]}'`, err);
        if (fields) {
          const values = res as (string | null)[];
          if (values.every((v) => v === null)) return null;
          const row: LookupRow = {};
          fields.forEach((f, j) => {
            if (values[j] !== null) row[f] = values[j];
          });
          return row;
        }
        const row = res as Record<string, string>;
        return Object.keys(row).length === 0 ? null : row;
      });
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
