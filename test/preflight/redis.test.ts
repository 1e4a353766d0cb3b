// Smoke test: the real redis-server of test/env, through ioredis (the client the Redis sink uses).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Redis } from "ioredis";
import { testEnv, uniqueName } from "../helpers/env.ts";

describe("redis (real)", () => {
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: 1, lazyConnect: false });
  });
  afterAll(async () => {
    await redis.quit();
  });

  it("sets and gets a value with an expiry, and the value expires", async () => {
    const key = uniqueName("smoke");
    expect(await redis.set(key, "hello", "PX", 300)).toBe("OK");
    expect(await redis.get(key)).toBe("hello");
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    await vi.waitFor(async () => expect(await redis.get(key)).toBeNull(), { timeout: 5_000, interval: 50 });
  });

  it("keeps a sorted set with an expiry (the shape of the recommendation sink)", async () => {
    const key = uniqueName("topn");
    await redis.multi().zadd(key, 3, "item-c", 1, "item-a", 2, "item-b").expire(key, 3600).exec();
    expect(await redis.zrevrange(key, 0, 1)).toEqual(["item-c", "item-b"]);
    expect(await redis.ttl(key)).toBeGreaterThan(3590);
  });
});
