/**
 * What a backend knows of its store's keys (ADR 39): while its caches cover a store that started
 * empty nothing is read, after an eviction a filter of the keys it wrote rules the others out,
 * and a restored store gets that filter from a background scan of its keys. The store is the
 * in-memory fake of gated-store.ts, or a real LevelDB where its iterator's behaviour matters.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { KeyedStateBackend } from "../../../runtime/state/backend.ts";
import { encodeValue } from "../../../runtime/state/codec.ts";
import { levelStore } from "../../../runtime/state/store.ts";
import { systemClock } from "../../../runtime/time/clock.ts";
import { waitFor } from "../../helpers/wait.ts";
import { gatedStore, landWhenAsked } from "./gated-store.ts";

/** Waits until the backend's key filter is built from its store's keys (a scan in the background). */
async function filterBuilt(backend: KeyedStateBackend): Promise<void> {
  await waitFor("the key filter built from the store's keys", () => backend.keyFilterReady, { intervalMs: 1, timeoutMs: 10_000 });
}

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

describe("a restored LevelDB store's keys", () => {
  let dir = "";
  afterEach(() => rm(dir, { recursive: true, force: true }));

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
