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
import { levelStore, type StateStore, type StoreStats } from "../../../runtime/state/store.ts";
import type { StateTable } from "../../../runtime/state/table.ts";
import { systemClock } from "../../../runtime/time/clock.ts";
import { waitFor } from "../../helpers/wait.ts";

/** A sorted map whose writes wait for `land()`; records the order of calls. */
function gatedStore(): StateStore & { data: Map<string, Uint8Array>; calls: string[]; pending: number; land(fail?: Error): void } {
  const data = new Map<string, Uint8Array>();
  const calls: string[] = [];
  const gates: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const stats: StoreStats = { getMany: 0, keysRead: 0, batches: 0, keysWritten: 0, readMs: 0, writeMs: 0 };
  return {
    persistent: true,
    stats,
    data,
    calls,
    get pending() {
      return gates.length;
    },
    land(fail?: Error) {
      const g = gates.shift();
      if (fail) g?.reject(fail);
      else g?.resolve();
    },
    getMany: async (keys) => {
      calls.push(`get ${keys.join(",")}`);
      return keys.map((k) => data.get(k));
    },
    write: (puts, dels) => {
      if (puts.length + dels.length === 0) return Promise.resolve();
      stats.batches++;
      calls.push(`write ${puts.length + dels.length}`);
      return new Promise<void>((resolve, reject) => {
        gates.push({
          resolve: () => {
            for (const [k, v] of puts) data.set(k, v);
            for (const k of dels) data.delete(k);
            resolve();
          },
          reject,
        });
      });
    },
    scan: async function* (prefix, chunk = 8192, after) {
      const keys = [...data.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort();
      for (let i = 0; i < keys.length; i += chunk) yield keys.slice(i, i + chunk).map((k): [string, Uint8Array] => [k, data.get(k) as Uint8Array]);
    },
    // A snapshot of the keys at the call, handed out a turn of the event loop apart.
    scanKeys: (chunk = 8192) => {
      const keys = [...data.keys()].sort();
      return (async function* () {
        for (let i = 0; i < keys.length; i += chunk) {
          await new Promise((resolve) => setImmediate(resolve));
          yield keys.slice(i, i + chunk);
        }
      })();
    },
    clear: async () => data.clear(),
    close: async () => {},
  };
}

/** Waits until the backend's key filter is built from its store's keys (a scan in the background). */
async function filterBuilt(backend: KeyedStateBackend): Promise<void> {
  await waitFor("the key filter built from the store's keys", () => backend.keyFilterReady, { intervalMs: 1, timeoutMs: 10_000 });
}

/** Lets the next write land once the backend has made it (it may settle first). */
async function landWhenAsked(store: ReturnType<typeof gatedStore>): Promise<void> {
  while (store.pending === 0) await new Promise((resolve) => setImmediate(resolve));
  store.land();
}

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

describe("a store the caches cover (ADR 39)", () => {
  it("is not read while it holds no state; its own flushes keep it so, a write from elsewhere ends it", async () => {
    const store = gatedStore();
    const backend = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 100 });
    const table = backend.table<number>({ uid: "op", name: "n" });
    await backend.prefetch([table], ["a"]);
    expect(table.get("a")).toBeUndefined();
    table.put("a", 1);
    const flushed = backend.flush();
    await landWhenAsked(store);
    await flushed;
    await backend.prefetch([table], ["c"]);
    expect(store.calls.filter((c) => c.startsWith("get"))).toEqual([]);
    // An import writes the store directly: its keys are not cached, so they must be read.
    const imported = backend.importEntries([["op\u0000n\u0000sb", encodeValue(7)]]);
    await landWhenAsked(store);
    await imported;
    await backend.prefetch([table], ["b", "a"]);
    expect(store.calls.filter((c) => c.startsWith("get"))).toEqual(["get op\u0000n\u0000sb"]);
    expect(table.get("b")).toBe(7);
    expect(table.get("a")).toBe(1);
  });

  it("after an eviction, reads back the keys it wrote and not those it never wrote or deleted since", async () => {
    const store = gatedStore();
    const backend = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 2 });
    const table = backend.table<number>({ uid: "op", name: "n" });
    await backend.prefetch([table], ["a", "b", "c", "d"]);
    for (const [i, k] of ["a", "b", "c", "d"].entries()) table.put(k, i);
    table.remove("b"); // never reaches the store as a value
    const evicted = backend.maybeEvict();
    await landWhenAsked(store);
    await evicted;
    // "c" is deleted after it was written: its deletion is drained and written by the next eviction.
    await backend.prefetch([table], ["c"]);
    table.remove("c");
    table.put("e", 5);
    table.put("f", 6);
    const again = backend.maybeEvict();
    await landWhenAsked(store);
    await again;
    store.calls.length = 0;
    await backend.prefetch([table], ["a", "b", "c", "d", "x"]);
    const gets = store.calls.filter((c) => c.startsWith("get")).join(" ");
    expect(gets).toContain("sa");
    expect(gets).not.toMatch(/sb|sc|sx/);
    expect([table.get("a"), table.get("b"), table.get("c"), table.get("x")]).toEqual([0, undefined, undefined, undefined]);
  });

  it("holding state at the start, reads every key until its keys are scanned, then only the keys it holds", async () => {
    const store = gatedStore();
    store.data.set("op\u0000n\u0000sa", encodeValue(3));
    const backend = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 100 });
    const table = backend.table<number>({ uid: "op", name: "n" });
    await backend.prefetch([table], ["a", "z"]);
    expect(store.calls.filter((c) => c.startsWith("get"))).toEqual(["get op\u0000n\u0000sa,op\u0000n\u0000sz"]);
    expect([table.get("a"), table.get("z")]).toEqual([3, undefined]);
    // Not covered: a key neither cached nor prefetched may be in the store.
    expect(() => table.get("y")).toThrow(/not prefetched|prefetch/i);
    await filterBuilt(backend);
    store.calls.length = 0;
    await backend.prefetch([table], ["y", "x"]);
    expect(store.calls).toEqual([]);
    expect([table.get("y"), table.get("x")]).toEqual([undefined, undefined]);
  });

  it("keeps every key the store holds in the filter when drains write and delete while the scan runs", async () => {
    const store = gatedStore();
    const held = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, "0")}`);
    for (const k of held) store.data.set(`op\u0000n\u0000s${k}`, encodeValue(Number(k.slice(1))));
    const backend = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 2 });
    const table = backend.table<number>({ uid: "op", name: "n" });
    // The scan hands out one key per turn: the drains below come after it began, before it ends.
    const scanKeys = store.scanKeys.bind(store);
    store.scanKeys = () => scanKeys(1);
    await backend.prefetch([table], ["new", "k00", "k39"]);
    expect(backend.keyFilterReady).toBe(false);
    table.put("new", 1);
    table.remove("k00");
    table.remove("k39");
    const flushed = backend.flush();
    await landWhenAsked(store);
    await flushed;
    await filterBuilt(backend);
    // The eviction keeps the newest entry: "new" leaves the cache and must be read back.
    await backend.maybeEvict();
    expect(table.size).toBe(1);
    store.calls.length = 0;
    const asked = [...held, "new", "absent", "gone"];
    await backend.prefetch([table], asked);
    // Every key the store holds is read; "k00" may be (a false "maybe"), the never-written are not.
    const gets = `${store.calls.filter((c) => c.startsWith("get")).join(",")},`;
    for (const k of [...held.slice(1, 39), "new"]) expect(gets).toContain(`s${k},`);
    expect(gets).not.toMatch(/sabsent|sgone/);
    expect(asked.map((k) => table.get(k))).toEqual([undefined, ...held.slice(1, 39).map((k) => Number(k.slice(1))), undefined, 1, undefined, undefined]);
  });

  it("reads every key when the store holds more keys than its filter separates, or another table's", async () => {
    for (const seed of [
      (data: Map<string, Uint8Array>) => {
        // A filter of 1,024 counters (the least) is built for 128 stored keys.
        for (let i = 0; i < 129; i++) data.set(`op\u0000n\u0000s${i}`, encodeValue(i));
      },
      (data: Map<string, Uint8Array>) => data.set("gone\u0000n\u0000sa", encodeValue(1)),
    ]) {
      const store = gatedStore();
      seed(store.data);
      const backend = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 2 });
      const table = backend.table<number>({ uid: "op", name: "n" });
      await backend.prefetch([table], ["x"]);
      expect(store.calls).toEqual(["get op\u0000n\u0000sx"]);
    }
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

  it("scans keys as they were when the scan was asked for, in chunks as large as asked", async () => {
    dir = await mkdtemp(join(tmpdir(), "runnel-scan-"));
    const store = await levelStore({ path: dir });
    const keys = Array.from({ length: 100_000 }, (_, i) => `k${String(i).padStart(6, "0")}`);
    await store.write(
      keys.map((k): [string, Uint8Array] => [k, Buffer.from("v")]),
      [],
    );
    // The key filter relies on it: a write after the call is not in the scan, one before it is.
    const scan = store.scanKeys(65_536);
    await store.write([["a-later", Buffer.from("v")]], ["k000000"]);
    const chunks: string[][] = [];
    for await (const c of scan) chunks.push(c);
    // classic-level's default step of 16 KiB would return about 1,100 of these keys at a time.
    expect(chunks.map((c) => c.length)).toEqual([65_536, 34_464]);
    expect(chunks.flat()).toEqual(keys);
    await store.close();
  });

  it("rebuilds the key filter of a reopened store from its keys: reads only keys it holds, number and string keys alike", async () => {
    dir = await mkdtemp(join(tmpdir(), "runnel-reopen-"));
    const first = new KeyedStateBackend({ store: await levelStore({ path: dir }), clock: systemClock, maxCachedEntries: 1_000 });
    const counts = first.table<number>({ uid: "op", name: "count" });
    const names = first.table<string>({ uid: "op", name: "name" });
    const written = Array.from({ length: 2_000 }, (_, i) => i * 2); // even numbers
    await first.prefetch([counts, names], written);
    for (const k of written) counts.put(k, k + 1);
    names.put("ann", "A");
    names.put("bob", "B");
    await first.flush();
    await first.prefetch([counts, names], [0, 2, "bob"]);
    counts.remove(0);
    counts.remove(2);
    names.remove("bob");
    await first.close();

    const store = await levelStore({ path: dir });
    const second = new KeyedStateBackend({ store, clock: systemClock, maxCachedEntries: 1_000 });
    const counts2 = second.table<number>({ uid: "op", name: "count" });
    const names2 = second.table<string>({ uid: "op", name: "name" });
    const asked = [0, 2, 4, 6, 3, 5, 7, 3_998, 3_999, "ann", "bob", "carl"];
    await second.prefetch([counts2, names2], []); // the first prefetch starts the scan of the store's keys
    await filterBuilt(second);
    await second.prefetch([counts2, names2], asked);
    // Present: 4, 6, 3998 in counts and "ann" in names. A few false "maybe"s are allowed, but
    // of 24 lookups at most the present ones and a handful more may be read.
    expect(store.stats.keysRead).toBeGreaterThanOrEqual(4);
    expect(store.stats.keysRead).toBeLessThanOrEqual(8);
    expect(asked.map((k) => counts2.get(k))).toEqual([
      undefined,
      undefined,
      5,
      7,
      undefined,
      undefined,
      undefined,
      3_999,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(asked.map((k) => names2.get(k))).toEqual([...Array<undefined>(9).fill(undefined), "A", undefined, undefined]);
    await second.close();
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
