/**
 * Timers beyond the in-memory bound live in the state store (ADR 34): memory stays within the
 * bound however many keys have timers, every timer fires once and in timestamp order, deletes
 * and registrations during a firing hold, and a snapshot restores into a fresh store. On real
 * LevelDB stores.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Key } from "../../../runtime/api/functions.ts";
import { KeyedRuntime } from "../../../runtime/exec/keyed.ts";
import { KeyedStateBackend } from "../../../runtime/state/backend.ts";
import { levelStore, type StateStore } from "../../../runtime/state/store.ts";
import { decodeKey } from "../../../runtime/state/table.ts";
import { timerId, timerIdKey, timerIdTs } from "../../../runtime/state/timer-ids.ts";
import { manualClock } from "../../../runtime/time/clock.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-timers-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Fired = [Key, number, "event" | "processing"];

/** The store as it is, but its scans hand out one entry per chunk (a LevelDB iterator may return short chunks). */
function oneEntryChunks(store: StateStore): StateStore {
  return {
    ...store,
    scan: async function* (prefix, chunk, after) {
      for await (const c of store.scan(prefix, chunk, after)) for (const e of c) yield [e];
    },
  };
}

/** A keyed operator over a LevelDB store whose cache and timer bound are `bound`, recording what fires. */
async function operator(name: string, bound: number, onFire?: (kr: KeyedRuntime, key: Key, ts: number) => void, wrap = (s: StateStore) => s) {
  const clock = manualClock(0);
  const store = wrap(await levelStore({ path: join(dir, name) }));
  const backend = new KeyedStateBackend({ store, clock, maxCachedEntries: bound, maxTimersInMemory: bound });
  const fired: Fired[] = [];
  let peak = 0;
  const ref: { kr?: KeyedRuntime } = {};
  const kr = new KeyedRuntime({ uid: "op", taskIndex: 0, parallelism: 1, clock, output: { emit: () => {}, emitSide: () => {} }, backend }, (key, ts, d) => {
    fired.push([key, ts, d]);
    peak = Math.max(peak, kr.eventTimers.memory.size, kr.processingTimers.memory.size);
    if (onFire && ref.kr) onFire(ref.kr, key, ts);
  });
  ref.kr = kr;
  kr.table<number>("n");
  return { backend, kr, fired, clock, peak: () => peak };
}

/** Advances the watermark as the engine does: prepare, fire, then the between-rounds eviction. */
async function advance(op: Awaited<ReturnType<typeof operator>>, wm: number): Promise<void> {
  await op.kr.prepareWatermark(wm);
  await op.kr.advanceWatermark(wm);
  await op.backend.maybeEvict();
}

/** Registers event timers of keys 0..n-1 at 1000 + (k % 50) * 10 and at the shared 5000, evicting every 500 keys. */
async function registerMany(op: Awaited<ReturnType<typeof operator>>, n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    op.kr.currentKey = k;
    op.kr.timerService.registerEventTimeTimer(1000 + (k % 50) * 10);
    op.kr.timerService.registerEventTimeTimer(5000);
    if (k % 500 === 499) {
      await op.backend.maybeEvict();
      expect(op.kr.eventTimers.memory.size).toBeLessThanOrEqual(100);
    }
  }
  await op.backend.maybeEvict();
}

function expectOrdered(fired: Fired[]): void {
  for (let i = 1; i < fired.length; i++) expect((fired[i] as Fired)[1]).toBeGreaterThanOrEqual((fired[i - 1] as Fired)[1]);
}

describe("timer ids", () => {
  it("round-trip timestamps and keys and sort by timestamp, then key", () => {
    const timers: [number, Key][] = [
      [-8.64e15, "a"],
      [-1.5, 7],
      [0, ""],
      [0, "b"],
      [3, "é ünïcode 😀"],
      [1e3, -2],
      [8.64e15, "z"],
    ];
    for (const [ts, key] of timers) {
      const id = timerId(ts, key);
      expect(/^[\x20-\x7e]*$/.test(id)).toBe(true); // ASCII: string order is LevelDB's byte order
      expect([timerIdTs(id), timerIdKey(id), decodeKey(id)]).toEqual([ts, key, key]);
    }
    const ids = timers.map(([ts, key]) => timerId(ts, key));
    expect([...ids].sort()).toEqual(ids);
  });
});

describe("timers beyond the in-memory bound", () => {
  it("keeps at most the bound in memory, and fires every timer once, in timestamp order, deletes and re-registrations honoured", async () => {
    const op = await operator("a", 100);
    await registerMany(op, 5000);
    expect(op.kr.eventTimers.memory.size).toBeLessThanOrEqual(100);
    expect(op.kr.eventTimers.horizon).toBeLessThan(5000);
    // Deleted: the shared timer of every 7th key; re-registered after its delete: every 14th's.
    for (let k = 0; k < 5000; k += 7) {
      op.kr.currentKey = k;
      op.kr.timerService.deleteEventTimeTimer(5000);
      if (k % 14 === 0) op.kr.timerService.registerEventTimeTimer(5000);
    }
    for (const wm of [999, 1100, 1495, 4000, 6000]) {
      await advance(op, wm);
      expect(op.fired.every(([, ts]) => ts <= wm)).toBe(true);
    }
    expectOrdered(op.fired);
    const expected = new Set<string>();
    for (let k = 0; k < 5000; k++) {
      expected.add(`${k}@${1000 + (k % 50) * 10}`);
      if (k % 7 !== 0 || k % 14 === 0) expected.add(`${k}@5000`);
    }
    const got = op.fired.map(([k, ts]) => `${String(k)}@${ts}`);
    expect(got.length).toBe(expected.size); // each once
    expect(new Set(got)).toEqual(expected);
    expect(op.peak()).toBeLessThanOrEqual(100);
    expect(op.backend.timersStored).toBeGreaterThan(5000); // counted for runnel_state_timers_stored_total
    expect(op.kr.eventTimers.memory.size).toBe(0);
    expect(op.kr.eventTimers.storedDue(Number.MAX_VALUE)).toBe(false); // the last pass found the store empty
  });

  it("fires in the same advance what a firing registers for a due time, and skips what it deletes", async () => {
    const op = await operator("b", 20, (kr, key, ts) => {
      if (ts === 2000) kr.timerService.registerEventTimeTimer(2500); // due in this advance
      if (ts === 2000 && Number(key) % 2 === 0) kr.timerService.deleteEventTimeTimer(3000); // would be due too
    });
    for (let k = 0; k < 200; k++) {
      op.kr.currentKey = k;
      op.kr.timerService.registerEventTimeTimer(2000);
      op.kr.timerService.registerEventTimeTimer(3000);
    }
    await op.backend.maybeEvict();
    expect(op.kr.eventTimers.horizon).toBe(2000); // all but the bound less a slice (15) of them are in the store
    await advance(op, 3000);
    expectOrdered(op.fired);
    const at = (ts: number) => op.fired.filter((f) => f[1] === ts).map((f) => f[0]);
    expect(at(2000)).toHaveLength(200);
    expect(at(2500)).toHaveLength(200);
    expect(at(3000)).toEqual(Array.from({ length: 100 }, (_, i) => 2 * i + 1).sort((a, b) => String(a).localeCompare(String(b))));
  });

  it("splits one timestamp between memory and the store without firing a timer twice or a deleted one at all", async () => {
    const op = await operator("h", 20);
    const keys = Array.from({ length: 200 }, (_, i) => `k${String(i).padStart(3, "0")}`);
    const register = () => {
      for (const k of [...keys].reverse()) {
        op.kr.currentKey = k;
        op.kr.timerService.registerEventTimeTimer(2000);
      }
    };
    register();
    await op.backend.maybeEvict();
    expect(op.kr.eventTimers.horizon).toBe(2000);
    expect(op.kr.eventTimers.memory.size).toBe(15); // the last registered stay: k014 … k000
    register(); // every one again: each stays where it is
    for (const k of ["k003", "k150"]) {
      op.kr.currentKey = k; // one in memory, one in the store
      op.kr.timerService.deleteEventTimeTimer(2000);
    }
    await advance(op, 2000);
    const inMemory = keys
      .slice(0, 15)
      .reverse()
      .filter((k) => k !== "k003");
    const stored = keys.slice(15).filter((k) => k !== "k150");
    expect(op.fired.map((f) => f[0])).toEqual([...inMemory, ...stored]);
  });

  it("restores a timestamp split between memory and the store as it was: the same timers fire in the same order", async () => {
    const op = await operator("i", 20);
    for (let k = 199; k >= 0; k--) {
      op.kr.currentKey = `k${String(k).padStart(3, "0")}`;
      op.kr.timerService.registerEventTimeTimer(2000);
    }
    await op.backend.maybeEvict();
    expect(op.kr.eventTimers.memory.size).toBe(15);
    const timers = op.kr.snapshotTimers();
    const entries: [string, Uint8Array][] = [];
    for await (const chunk of op.backend.entryChunks()) entries.push(...chunk);
    const rest = await operator("j", 20);
    await rest.backend.importEntries(entries);
    rest.kr.restoreTimers(timers);
    expect(rest.kr.eventTimers.memory.size).toBe(15);
    await advance(op, 2000);
    await advance(rest, 2000);
    expect(rest.fired).toHaveLength(200);
    expect(rest.fired).toEqual(op.fired);
  });

  it("takes the earliest stored timers back into memory once memory runs low", async () => {
    const op = await operator("c", 100);
    await registerMany(op, 2000);
    const before = op.kr.eventTimers.horizon;
    expect(before).toBeLessThan(5000);
    await advance(op, 1200); // fires what memory held; memory is low, stored timestamps come back
    await op.kr.prepareWatermark(1200);
    expect(op.kr.eventTimers.horizon).toBeGreaterThan(before);
    expect(op.kr.eventTimers.memory.size).toBeGreaterThan(0);
    expect(op.kr.eventTimers.memory.size).toBeLessThanOrEqual(50);
    await advance(op, 6000);
    expect(op.fired).toHaveLength(4000);
    expectOrdered(op.fired);
  });

  it("reads the store past chunks shorter than asked", async () => {
    const op = await operator("g", 100, undefined, oneEntryChunks);
    await registerMany(op, 1000);
    await advance(op, 6000);
    expect(op.fired).toHaveLength(2000);
    expectOrdered(op.fired);
  });

  it("spills and fires processing-time timers from the store too", async () => {
    const op = await operator("d", 30);
    for (let k = 0; k < 300; k++) {
      op.kr.currentKey = `k${k}`;
      op.kr.timerService.registerProcessingTimeTimer(100 + (k % 10));
    }
    await op.backend.maybeEvict();
    expect(op.kr.processingTimers.memory.size).toBeLessThanOrEqual(30);
    await op.kr.prepareProcessingTime(200);
    await op.kr.advanceProcessingTime();
    expect(op.fired).toHaveLength(300);
    expect(new Set(op.fired.map((f) => f[0])).size).toBe(300);
    expect(op.fired.every((f) => f[2] === "processing")).toBe(true);
    expectOrdered(op.fired);
  });

  it("comes back from its own store after a close: memory timers and horizon saved, stored timers kept", async () => {
    const op = await operator("r", 100);
    await registerMany(op, 2000);
    expect(op.kr.eventTimers.horizon).toBeLessThan(5000);
    await op.backend.close();
    const again = await operator("r", 100);
    await again.backend.loadTimers();
    expect(again.kr.eventTimers.horizon).toBe(op.kr.eventTimers.horizon);
    await advance(again, 6000);
    expect(again.fired).toHaveLength(4000);
    expect(new Set(again.fired.map((f) => `${String(f[0])}@${f[1]}`)).size).toBe(4000);
    expectOrdered(again.fired);
  });

  it("restores from a snapshot into a fresh store: the memory timers, the horizon and the stored timers as keyed entries", async () => {
    const op = await operator("e", 100);
    await registerMany(op, 3000);
    await advance(op, 1100);
    const timers = op.kr.snapshotTimers();
    expect(timers.horizon?.event).toBeDefined();
    const entries: [string, Uint8Array][] = [];
    for await (const chunk of op.backend.entryChunks()) entries.push(...chunk);
    const rest = await operator("f", 100);
    expect(await rest.backend.importEntries(entries)).toEqual([]);
    rest.kr.restoreTimers(timers);
    await advance(op, 6000);
    await advance(rest, 6000);
    expect(rest.fired.length).toBeGreaterThan(3000);
    expect(rest.fired.map((f) => `${String(f[0])}@${f[1]}`).sort()).toEqual(
      op.fired
        .slice(-rest.fired.length)
        .map((f) => `${String(f[0])}@${f[1]}`)
        .sort(),
    );
  });
});
