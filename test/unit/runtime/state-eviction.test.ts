/**
 * Evictions write in the background: rounds go on while the store writes, reads of evicted keys
 * are served from the write in flight, other store calls wait for it, and a failed write is
 * reported. The store here is an in-memory fake of our own StateStore interface whose writes
 * land only when the test lets them; LevelDB's split reads run on the real store.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { KeyedRuntime } from "../../../runtime/exec/keyed.ts";
import { KeyedStateBackend } from "../../../runtime/state/backend.ts";
import { decodeValue, encodeValue } from "../../../runtime/state/codec.ts";
import { levelStore } from "../../../runtime/state/store.ts";
import type { StateTable } from "../../../runtime/state/table.ts";
import { systemClock } from "../../../runtime/time/clock.ts";
import { gatedStore } from "./gated-store.ts";

/**
 * A backend over `store` whose cache holds two entries, with one table of numbers. The store
 * holds another operator's entry, so every key missing from the cache is read (ADR 39).
 */
function backendOver(store: ReturnType<typeof gatedStore>): { backend: KeyedStateBackend; table: StateTable<number> } {
  store.data.set("other\u0000n\u0000sq", encodeValue(0));
  const backend = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 2 });
  return { backend, table: backend.table<number>({ uid: "op", name: "n" }) };
}

/** Loads keys, sets each to its value: four dirty entries, twice the cache's bound. */
async function fill(backend: KeyedStateBackend, table: StateTable<number>, values: Record<string, number>): Promise<void> {
  await backend.prefetch([table], Object.keys(values));
  for (const [k, v] of Object.entries(values)) table.put(k, v);
}

describe("eviction writes in the background", () => {
  it("returns before the write lands, and serves the evicted keys from the write in flight", async () => {
    const store = gatedStore();
    const { backend, table } = backendOver(store);
    await fill(backend, table, { a: 1, b: 2, c: 3, d: 4 });
    await expect(backend.maybeEvict()).resolves.toBe(true);
    expect(store.pending).toBe(1);
    expect(table.size).toBe(1); // the newest entry stays
    store.calls.length = 0;
    // "a" left the cache and is not in the store yet: its value comes from the write in flight.
    await backend.prefetch([table], ["a", "x"]);
    expect(table.get("a")).toBe(1);
    expect(table.get("x")).toBeUndefined();
    expect(store.calls).toEqual(["get op\u0000n\u0000sx"]);
    store.land();
    await backend.flush(); // nothing dirty: returns once the eviction's write landed
    expect([...store.data.keys()].filter((k) => k.startsWith("op")).sort()).toEqual(["a", "b", "c", "d"].map((k) => `op\u0000n\u0000s${k}`));
  });

  it("makes the next write wait for it, so LevelDB applies them in order", async () => {
    const store = gatedStore();
    const { backend, table } = backendOver(store);
    await fill(backend, table, { a: 1, b: 2, c: 3, d: 4 });
    await backend.maybeEvict();
    await backend.prefetch([table], ["a"]);
    table.put("a", 10);
    let flushed = false;
    const flush = backend.flush().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    expect(store.calls.filter((c) => c.startsWith("write"))).toHaveLength(1);
    store.land();
    await new Promise((r) => setImmediate(r));
    store.land();
    await flush;
    expect(decodeValue(store.data.get("op\u0000n\u0000sa") as Uint8Array)).toBe(10);
  });

  it("reports a failed write at the next call that needs the store", async () => {
    const store = gatedStore();
    const { backend, table } = backendOver(store);
    await fill(backend, table, { a: 1, b: 2, c: 3, d: 4 });
    await backend.maybeEvict();
    store.land(new Error("disk full"));
    await new Promise((r) => setImmediate(r));
    await expect(backend.prefetch([table], ["zz"])).rejects.toThrow("disk full");
    await expect(backend.flush()).rejects.toThrow("disk full");
  });
});

describe("LevelDB reads split across the thread pool", () => {
  let dir = "";
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("returns every value of a large getMany in the order asked, absent keys included", async () => {
    dir = await mkdtemp(join(tmpdir(), "runnel-split-"));
    const store = await levelStore({ path: dir });
    const keys = Array.from({ length: 5_003 }, (_, i) => `k${i}`);
    await store.write(
      keys.filter((_, i) => i % 3 !== 0).map((k): [string, Uint8Array] => [k, Buffer.from(k.toUpperCase())]),
      [],
    );
    const asked = [...keys].reverse();
    const values = await store.getMany(asked);
    expect(values).toHaveLength(asked.length);
    for (const [i, k] of asked.entries()) {
      const v = values[i];
      if (Number(k.slice(1)) % 3 === 0) expect(v).toBeUndefined();
      else expect(Buffer.from(v as Uint8Array).toString()).toBe(k.toUpperCase());
    }
    await store.close();
  });
});

describe("a large drain of dirty entries", () => {
  it("comes in key order (numbers by value, then strings), every entry once with its value", () => {
    const backend = new KeyedStateBackend({ store: gatedStore(), clock: systemClock, maxCachedEntries: 100_000 });
    const table = backend.table<number>({ uid: "op", name: "n" });
    const numbers = Array.from({ length: 5_000 }, (_, i) => (i * 4_099) % 5_000);
    for (const k of numbers) table.put(k, k * 2);
    for (const k of ["b", "a", "c"]) table.put(k, -1);
    const puts: [string, Uint8Array][] = [];
    table.drainDirty(puts, []);
    const expected = [...[...numbers].sort((x, y) => x - y).map((k) => `n${k}`), "sa", "sb", "sc"];
    expect(puts.map(([k]) => k.slice("op\u0000n\u0000".length))).toEqual(expected);
    expect(decodeValue(puts[7]?.[1] as Uint8Array)).toBe(14);
    expect(table.dirtyCount).toBe(0);
  });
});

describe("a watermark or a processing time that fires more timers than the cache holds", () => {
  it.each(["event", "processing"] as const)(
    "loads, fires and evicts the due keys a slice at a time, in registration order, within the cache's bound (%s time)",
    async (domain) => {
      const store = gatedStore();
      const backend = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 40 });
      const fired: [string, number | undefined][] = [];
      let peak = 0;
      const ref: { table?: StateTable<number> } = {};
      const kr = new KeyedRuntime(
        { uid: "op", taskIndex: 0, parallelism: 1, clock: systemClock, output: { emit: () => {}, emitSide: () => {} }, backend },
        (key, _ts, d) => {
          expect(d).toBe(domain);
          fired.push([key as string, ref.table?.get(key)]); // throws unless the key's state was loaded
          peak = Math.max(peak, backend.cachedEntries);
        },
      );
      ref.table = kr.table<number>("n");
      const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
      for (const [i, k] of keys.entries()) {
        store.data.set(`op\u0000n\u0000s${k}`, encodeValue(i));
        kr.currentKey = k;
        if (domain === "event") kr.timerService.registerEventTimeTimer(1000);
        else kr.timerService.registerProcessingTimeTimer(1000);
      }
      if (domain === "event") await kr.prepareWatermark(1000);
      else await kr.prepareProcessingTime(1000);
      expect(backend.cachedEntries).toBe(0); // nothing loaded up front
      const firing = domain === "event" ? kr.advanceWatermark(1000) : kr.advanceProcessingTime();
      expect(firing).toBeInstanceOf(Promise);
      // Each slice's eviction writes nothing here (no key is dirty), so no write waits for land().
      await firing;
      expect(fired).toEqual(keys.map((k, i) => [k, i]));
      expect(peak).toBeLessThanOrEqual(40 + backend.sliceKeys);
      expect((domain === "event" ? kr.eventTimers : kr.processingTimers).size).toBe(0);
    },
  );

  it("fires a firing that fits in one load at once, as before", async () => {
    const backend = new KeyedStateBackend({ store: gatedStore(), clock: systemClock, maxCachedEntries: 40 });
    const fired: string[] = [];
    const kr = new KeyedRuntime(
      { uid: "op", taskIndex: 0, parallelism: 1, clock: systemClock, output: { emit: () => {}, emitSide: () => {} }, backend },
      (key) => fired.push(key as string),
    );
    kr.table<number>("n");
    for (const k of ["a", "b", "c"]) {
      kr.currentKey = k;
      kr.timerService.registerEventTimeTimer(5);
    }
    await kr.prepareWatermark(5);
    expect(kr.advanceWatermark(5)).toBeUndefined();
    expect(fired).toEqual(["a", "b", "c"]);
  });
});
