/** The Redis sink's batching and lifecycle, against a fake of its own write target (Redis itself: test/integration/redis-connectors.test.ts). */
import { describe, expect, it } from "vitest";
import { redisSink, scriptArgs, type RedisWrite, type RedisWriteTarget } from "../../../runtime/connectors/redis/sink.ts";

function fakeTarget(skipEvery = 0): RedisWriteTarget & { batches: RedisWrite[][]; closed: number } {
  const t = {
    batches: [] as RedisWrite[][],
    closed: 0,
    apply: async (writes: readonly RedisWrite[]) => {
      t.batches.push([...writes]);
      return skipEvery === 0 ? writes.length : writes.length - Math.floor(writes.length / skipEvery);
    },
    close: async () => {
      t.closed++;
    },
  };
  return t;
}

const z = (key: string, version: number): RedisWrite => ({ op: "zreplace", key, members: [{ member: "i1", score: 2 }], ttlMs: 1000, version });

describe("redisSink", () => {
  it("sends each task's writes of a round as one batch, in order, and opens one target for all tasks", async () => {
    const target = fakeTarget();
    let opened = 0;
    const sink = redisSink({
      name: "recs",
      target: async () => {
        opened++;
        return target;
      },
    });
    const w0 = await sink.open({ operatorUid: "recs", taskIndex: 0, parallelism: 2 });
    const w1 = await sink.open({ operatorUid: "recs", taskIndex: 1, parallelism: 2 });
    w0.write(z("a", 1), 0);
    w0.write(z("a", 2), 0);
    await w0.flush();
    await w1.flush();
    expect(target.batches).toEqual([[z("a", 1), z("a", 2)]]);
    w1.write(z("b", 5), 0);
    await w0.close();
    expect(target.closed).toBe(0);
    await w1.close();
    expect(target.batches.at(-1)).toEqual([z("b", 5)]);
    expect(target.closed).toBe(1);
    expect(opened).toBe(1);
  });

  it("counts writes the target skipped as older than the key's version", async () => {
    let skipped = 0;
    const sink = redisSink({ name: "recs", target: async () => fakeTarget(2), onSkipped: (n) => (skipped += n) });
    const w = await sink.open({ operatorUid: "recs", taskIndex: 0, parallelism: 1 });
    for (let i = 0; i < 4; i++) w.write(z("a", i), 0);
    await w.flush();
    expect(skipped).toBe(2);
  });

  it("drops unwritten writes on abort (the restore replays them)", async () => {
    const target = fakeTarget();
    const sink = redisSink({ name: "recs", target: async () => target });
    const w = await sink.open({ operatorUid: "recs", taskIndex: 0, parallelism: 1 });
    w.write(z("a", 1), 0);
    await w.abort?.();
    expect(target.batches).toEqual([]);
    expect(target.closed).toBe(1);
  });

  it("encodes writes as the script's arguments", () => {
    expect(scriptArgs({ op: "zreplace", key: "k", members: [{ member: "x", score: 1.5 }], maxSize: 3, ttlMs: 3_600_000, version: 42 })).toEqual([
      "42",
      "3600000",
      "zreplace",
      "3",
      "1.5",
      "x",
    ]);
    expect(scriptArgs({ op: "hset", key: "k", fields: { a: "1", b: "two" } })).toEqual(["", "", "hset", "", "a", "1", "b", "two"]);
  });
});
