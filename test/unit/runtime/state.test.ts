/** Keyed state backends: LevelDB matches heap, persists across reopen, and batches its I/O. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  collectSink,
  collectionSource,
  combine,
  count,
  countDistinct,
  job,
  session,
  sliding,
  sum,
  type KeyedProcessFunction,
  type RuntimeContext,
} from "../../../runtime/api/index.ts";
import { generatorSource, type GenEvent } from "../../../runtime/connectors/generator.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { levelStore } from "../../../runtime/state/store.ts";
import { ev, evTime, runToEnd, seedForeignState, stepper, type Ev } from "./helpers.ts";
import { queueSource, tumbling } from "../../../runtime/api/index.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-state-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A job with sliding and session windows over generated, out-of-order, skewed data. */
function windowedJob(name: string, countPerPartition = 1500, keys = 300) {
  const out = collectSink<string>();
  const j = job(name);
  const src = j.source(generatorSource({ partitions: 2, countPerPartition, ratePerSec: 100, keys, skew: 1, maxOutOfOrdernessMs: 800, seed: 7 }), {
    watermarks: { timestamp: (e: GenEvent) => e.ts, maxOutOfOrdernessMs: 100 },
  });
  src
    .keyBy((e) => e.key)
    .window(sliding({ sizeMs: 2000, slideMs: 500 }))
    .aggregate(combine({ n: count<GenEvent>(), s: sum((e: GenEvent) => e.partition), d: countDistinct((e: GenEvent) => e.seq % 7) }), (r, i) =>
      JSON.stringify([i.key, i.window.start, r]),
    )
    .sink(out);
  src
    .keyBy((e) => e.key % 17)
    .window(session({ gapMs: 300 }))
    .aggregate(count<GenEvent>(), (n, i) => JSON.stringify(["s", i.key, i.window.start, i.window.end, n]))
    .sink(out);
  return { graph: j.build(), out };
}

/** The windowed job's results per key (sliding by key, sessions by "s" and key), each key's in output order. */
function byKey(lines: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of lines) {
    const r = JSON.parse(line) as unknown[];
    const k = r[0] === "s" ? `s${String(r[1])}` : String(r[0]);
    out.set(k, [...(out.get(k) ?? []), line]);
  }
  return out;
}

describe("LevelDB keyed state", () => {
  it("gives the same results as heap state, even when the cache is evicted every round and timers go to the store", async () => {
    const heap = windowedJob("heap");
    await runToEnd(heap.graph, { batchSize: 100 });
    const level = windowedJob("level");
    // A cache of 50 entries also bounds the timers in memory: most windows fire from the store.
    const p = await runToEnd(level.graph, { batchSize: 100, state: { kind: "level", dir, maxCachedEntries: 50 } });
    expect(heap.out.values().length).toBeGreaterThan(1000);
    // Stored timers of one timestamp fire in key order, not registration order (ADR 34): each key's results come in the same order.
    expect(byKey(level.out.values())).toEqual(byKey(heap.out.values()));
    expect([...level.out.values()].sort()).toEqual([...heap.out.values()].sort());
    expect(p.lateDropped).toBeGreaterThan(0); // the data really is out of order beyond the bound
  });

  it("gives heap's results when batches go in slices whose reads overlap the slice before (and the cache is evicted)", async () => {
    const heap = windowedJob("heap", 12_000, 40_000);
    await runToEnd(heap.graph, { batchSize: 20_000 });
    const level = windowedJob("level", 12_000, 40_000);
    await seedForeignState(dir, 2);
    const engine = createEngine({ graph: level.graph, idleSleepMs: 0, batchSize: 20_000, state: { kind: "level", dir, maxCachedEntries: 1_000_000 } });
    await engine.run();
    expect(heap.out.values().length).toBeGreaterThan(5000);
    expect(level.out.values()).toEqual(heap.out.values());
    // One round of 24,000 records over two tasks: without slices each stage reads once per task
    // (6 reads in all, firings included); the sliding stage's 40,000 keys are read in 4 + 3 slices.
    expect(engine.backends.reduce((n, b) => n + (b?.stats.getMany ?? 0), 0)).toBeGreaterThanOrEqual(10);
  });

  it("prefetches a batch's keys with one getMany and flushes with one batch", async () => {
    await seedForeignState(dir, 1);
    const keys = ["a", "b", "c", "d", "e"];
    const records = Array.from({ length: 300 }, (_, i) => ev(keys[i % keys.length] as string, i));
    const j = job("io");
    j.source(collectionSource({ partitions: [records] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .process((rt: RuntimeContext): KeyedProcessFunction<string, Ev, number> => {
        const n = rt.valueState<number>({ name: "n" });
        const seen = rt.listState<number>({ name: "seen" });
        return {
          processElement(e, _ctx, o) {
            n.update((n.value() ?? 0) + 1);
            seen.add(e.t);
            o.collect(n.value() ?? 0);
          },
        };
      })
      .sink(collectSink());
    const engine = createEngine({ graph: j.build(), batchSize: 100, idleSleepMs: 0, state: { kind: "level", dir } });
    await engine.open();
    const stats = engine.backends[0]?.stats;
    expect(stats).toMatchObject({ getMany: 1, keysRead: 1 }); // the operator's saved timers, once at open
    await engine.round();
    expect(stats).toMatchObject({ getMany: 2, keysRead: 11, batches: 0, keysWritten: 0 }); // 100 records: 5 keys x 2 states
    await engine.round();
    await engine.round();
    expect(stats?.getMany).toBe(2); // later batches hit the write-back cache
    await engine.close();
    expect(stats?.batches).toBe(1); // one flush at the end
    expect(stats?.keysWritten).toBe(11); // 10 entries and the timers
  });

  it("reads nothing while its store holds no state and nothing was evicted, then reads what it evicted (ADR 39)", async () => {
    const run = async (maxCachedEntries: number) => {
      const out = collectSink<string>();
      const j = job("covered");
      j.source(generatorSource({ partitions: 1, countPerPartition: 3000, ratePerSec: 1000, keys: 400, skew: 1, seed: 5 }), {
        watermarks: { timestamp: (e: GenEvent) => e.ts },
      })
        .keyBy((e) => e.key)
        .process((rt: RuntimeContext): KeyedProcessFunction<number, GenEvent, string> => {
          const n = rt.valueState<number>({ name: "n" });
          return {
            processElement(e, ctx, o) {
              const seen = (n.value() ?? 0) + 1;
              n.update(seen);
              o.collect(`${String(ctx.key())}:${seen}`);
            },
          };
        })
        .sink(out);
      const runDir = join(dir, `cache-${maxCachedEntries}`);
      const engine = createEngine({ graph: j.build(), batchSize: 500, idleSleepMs: 0, state: { kind: "level", dir: runDir, maxCachedEntries } });
      await engine.run();
      return { out: out.values(), reads: engine.backends[0]?.stats.keysRead ?? 0, evictions: engine.backends[0]?.evictions ?? 0 };
    };
    const covered = await run(10_000);
    expect(covered.evictions).toBe(0);
    expect(covered.reads).toBe(1); // only the saved timers, at open
    const evicting = await run(50);
    expect(evicting.evictions).toBeGreaterThan(0);
    expect(evicting.reads).toBeGreaterThan(1); // evicted keys come back from the store
    expect(evicting.out).toEqual(covered.out);
    expect(covered.out).toHaveLength(3000);
  });

  it("persists: a second run over the same directory continues from the stored state", async () => {
    const run = async (records: Ev[]) => {
      const out = collectSink<string>();
      const j = job("persist");
      j.source(collectionSource({ partitions: [records] }), { watermarks: evTime() })
        .keyBy((e) => e.k)
        .process((rt: RuntimeContext): KeyedProcessFunction<string, Ev, string> => {
          const total = rt.valueState<number>({ name: "total" });
          return {
            processElement(e, ctx, o) {
              total.update((total.value() ?? 0) + e.v);
              o.collect(`${ctx.key()}=${total.value()}`);
            },
          };
        })
        .sink(out);
      await runToEnd(j.build(), { state: { kind: "level", dir } });
      return out.values();
    };
    expect(await run([ev("a", 1, 2), ev("b", 2, 3)])).toEqual(["a=2", "b=3"]);
    expect(await run([ev("a", 3, 10)])).toEqual(["a=12"]);
    const store = await levelStore({ path: join(dir, "task-0") });
    const entries: string[] = [];
    for await (const chunk of store.scan("")) for (const [k] of chunk) entries.push(k.replaceAll("\u0000", "|").replaceAll("\u0001", "#"));
    await store.close();
    // The saved timers, then one entry per (operator uid, state, key); keys are typed ("s": string).
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatch(/^keyedProcess-[0-9a-f]{8}\|#timers\|$/);
    expect(entries[1]).toMatch(/^keyedProcess-[0-9a-f]{8}\|total\|sa$/);
    expect(entries[2]).toMatch(/\|total\|sb$/);
  });
});

describe("LevelDB persistence of windows", () => {
  it("keeps window contents and their timers across a clean stop and reopen", async () => {
    const build = () => {
      const src = queueSource<Ev>({ partitions: 1 });
      const out = collectSink<string>();
      const j = job("reopen");
      j.source(src, { watermarks: evTime() })
        .keyBy((e) => e.k)
        .window(tumbling({ sizeMs: 10 }))
        .aggregate(count<Ev>(), (n, i) => `${i.key} ${i.window.start} ${n}`)
        .sink(out);
      return { src, out, graph: j.build() };
    };
    const a = build();
    const first = await stepper(a.graph, { state: { kind: "level", dir } });
    a.src.push(0, ev("x", 1), ev("x", 2), ev("y", 3));
    await first.round();
    await first.close(); // stop without end of input: windows [0,10) still open
    expect(a.out.values()).toEqual([]);
    const b = build();
    const second = await stepper(b.graph, { state: { kind: "level", dir } });
    b.src.push(0, ev("x", 4), ev("z", 30));
    await second.round(); // watermark 29 fires the restored timers
    expect(b.out.values()).toEqual(["x 0 3", "y 0 1"]);
    await second.close();
  });
});
