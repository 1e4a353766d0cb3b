/** The lookup cache: one store call per batch for the keys it misses, a bounded LRU, expiry by TTL. */
import { describe, expect, it } from "vitest";
import { lookupCache, type LookupRow, type LookupStore } from "../../../runtime/connectors/lookup.ts";

/** A store over fixed rows that records every call. */
function countingStore(rows: Record<string, LookupRow>): LookupStore & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    getMany: async (keys) => {
      calls.push([...keys]);
      return keys.map((k) => rows[k] ?? null);
    },
    close: async () => {},
  };
}

describe("lookupCache", () => {
  it("fetches a batch's distinct missing keys in one call and answers repeats from the cache", async () => {
    const store = countingStore({ a: { n: 1 }, b: { n: 2 } });
    const cache = lookupCache({ store, maxEntries: 10, ttlMs: 60_000, now: () => 0 });
    await cache.prepare(["a", "b", "a", "x"]);
    expect(store.calls).toEqual([["a", "b", "x"]]);
    expect([cache.get("a"), cache.get("b"), cache.get("x")]).toEqual([{ n: 1 }, { n: 2 }, null]);
    // Absent rows are cached too: a second batch needs no call at all.
    await cache.prepare(["b", "x", "a"]);
    expect(store.calls).toHaveLength(1);
    expect(cache.stats).toEqual({ hits: 3, misses: 3, fetches: 1 });
    // Keys outside the prepared batch are not answered.
    await cache.prepare(["a"]);
    expect(cache.get("b")).toBeUndefined();
  });

  it("fetches rows again once they are older than the TTL", async () => {
    let now = 0;
    const rows: Record<string, LookupRow> = { a: { v: "old" } };
    const store = countingStore(rows);
    const cache = lookupCache({ store, maxEntries: 10, ttlMs: 1000, now: () => now });
    await cache.prepare(["a"]);
    rows.a = { v: "new" };
    now = 999;
    await cache.prepare(["a"]);
    expect(cache.get("a")).toEqual({ v: "old" });
    now = 1000;
    await cache.prepare(["a"]);
    expect(cache.get("a")).toEqual({ v: "new" });
    expect(store.calls).toEqual([["a"], ["a"]]);
  });

  it("keeps at most maxEntries rows, dropping the least recently used, but always serves the whole batch", async () => {
    const rows = Object.fromEntries(["a", "b", "c", "d"].map((k) => [k, { k }]));
    const store = countingStore(rows);
    const cache = lookupCache({ store, maxEntries: 2, ttlMs: 60_000, now: () => 0 });
    // A batch larger than the cache is still answered in full.
    await cache.prepare(["a", "b", "c"]);
    expect(["a", "b", "c"].map((k) => cache.get(k))).toEqual([{ k: "a" }, { k: "b" }, { k: "c" }]);
    // b and c are cached (a was evicted); using b makes c the least recently used.
    await cache.prepare(["b"]);
    await cache.prepare(["d"]);
    store.calls.length = 0;
    await cache.prepare(["b", "c", "d", "a"]);
    expect(store.calls).toEqual([["c", "a"]]);
  });

  it("with maxEntries 0 fetches every batch", async () => {
    const store = countingStore({ a: { n: 1 } });
    const cache = lookupCache({ store, maxEntries: 0, ttlMs: 60_000, now: () => 0 });
    await cache.prepare(["a", "a"]);
    await cache.prepare(["a"]);
    expect(store.calls).toEqual([["a"], ["a"]]);
  });
});
