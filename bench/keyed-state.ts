/**
 * The state benchmark: a keyed running count, or a 1 s tumbling window count, over 1,000,000
 * distinct keys (or more), heap state versus LevelDB state with a write-back cache that holds
 * every key or a fifth of them (so LevelDB really is read). Each run checks its result.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, job, tumbling, type KeyedProcessFunction, type RuntimeContext, type Sink, type Source } from "../runtime/api/index.ts";
import { generatorSource, type GenEvent } from "../runtime/connectors/generator.ts";
import { createEngine } from "../runtime/exec/engine.ts";
import { DEFAULT_MAX_CACHED_ENTRIES } from "../runtime/state/backend.ts";
import { jsonFromChild } from "./child.ts";

/** What a run wrote: records and the sum of their numbers. */
interface Totals {
  records: number;
  sum: number;
}

/** A sink that counts the numbers it gets and adds them up (the check of a run). */
function summingSink(total: Totals): Sink<number> {
  return {
    name: "sum",
    open: () =>
      Promise.resolve({
        write: (v: number) => {
          total.records++;
          total.sum += v;
        },
        flush: async () => {},
        close: async () => {},
      }),
  };
}

/** The benchmark's job over `source`: a running count per key, or a count per key and 1 s window; what it writes adds up in `total`. */
function stateJob(state: "heap" | "level", source: Source<GenEvent>, windowed: boolean, total: Totals) {
  const j = job(`keyed-${state}`);
  const keyed = j.source(source, { watermarks: { timestamp: (e: GenEvent) => e.ts } }).keyBy((e) => e.key);
  if (windowed)
    keyed
      .window(tumbling({ sizeMs: 1000 }))
      .aggregate(count<GenEvent>())
      .sink(summingSink(total));
  else
    keyed
      .process((rt: RuntimeContext): KeyedProcessFunction<number, GenEvent, number> => {
        const n = rt.valueState<number>({ name: "n" });
        return {
          processElement(_e, _ctx, out) {
            const v = (n.value() ?? 0) + 1;
            n.update(v);
            // One record per key seen ten times: the check counts them.
            if (v === 10) out.collect(1);
          },
        };
      })
      .sink(summingSink(total));
  return j.build();
}

/**
 * Runs the keyed-count job; returns events per second, LevelDB's I/O and the process's peak RSS
 * so far. With `restoredEvents`, a first run of that many other events (the running count) leaves
 * its state in the store the measured run then starts from, as a worker restarted on its disk.
 */
export async function keyedStateRun(options: {
  events: number;
  keys: number;
  state: "heap" | "level";
  cacheEntries?: number;
  /** "count": a running count per key (default); "window": a count per key and 1 s window, 1,000,000 events a second. */
  job?: "count" | "window";
  /** Events of a running count whose state the store holds at the start (LevelDB only). */
  restoredEvents?: number;
}): Promise<{ rate: number; seconds: number; readMs: number; keysRead: number; writeMs: number; peakRssMb: number; timersStored: number }> {
  const windowed = options.job === "window";
  const total: Totals = { records: 0, sum: 0 };
  const source = generatorSource({ countPerPartition: options.events, keys: options.keys, seed: 9, ...(windowed ? { ratePerSec: 1_000_000 } : {}) });
  const earlier = options.restoredEvents ? generatorSource({ countPerPartition: options.restoredEvents, keys: options.keys, seed: 5 }) : undefined;
  const dir = options.state === "level" ? await mkdtemp(join(tmpdir(), "runnel-bench-")) : "";
  const state =
    options.state === "level" ? ({ kind: "level", dir, maxCachedEntries: options.cacheEntries ?? 2_000_000 } as const) : ({ kind: "heap" } as const);
  try {
    const before: Totals = { records: 0, sum: 0 };
    if (earlier) await createEngine({ graph: stateJob(options.state, earlier, false, before), batchSize: 16_384, state }).run();
    const engine = createEngine({ graph: stateJob(options.state, source, windowed, total), batchSize: 16_384, state });
    const t0 = performance.now();
    await engine.run();
    const seconds = (performance.now() - t0) / 1000;
    const stats = engine.backends[0]?.stats;
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    const expected = await reference(source, windowed, earlier);
    if (total.records !== expected.records || total.sum !== expected.sum) {
      throw new Error(`keyed state ${options.state} ${options.job ?? "count"}: wrote ${JSON.stringify(total)}, the reference says ${JSON.stringify(expected)}`);
    }
    const timersStored = engine.backends[0]?.timersStored ?? 0;
    return {
      rate: options.events / seconds,
      seconds,
      readMs: stats?.readMs ?? 0,
      keysRead: stats?.keysRead ?? 0,
      writeMs: stats?.writeMs ?? 0,
      peakRssMb,
      timersStored,
    };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** Each key's count in `source`'s records. */
async function keyCounts(source: Source<GenEvent>): Promise<Map<number, number>> {
  const reader = await source.open(0, 0);
  const counts = new Map<number, number>();
  for (;;) {
    const { records, done } = await reader.read(65_536);
    for (const e of records) counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
    if (done) return counts;
  }
}

/**
 * What the job must write, from the generator's records with a plain Map or Set: keys seen ten
 * times (count, counting from the `earlier` run's counts), or one record per key and window whose
 * numbers add up to the events (window).
 */
async function reference(source: Source<GenEvent>, windowed: boolean, earlier?: Source<GenEvent>): Promise<Totals> {
  const reader = await source.open(0, 0);
  const counts = earlier ? await keyCounts(earlier) : new Map<number, number>();
  const inWindow = new Set<number>();
  let window = -1;
  const totals: Totals = { records: 0, sum: 0 };
  for (;;) {
    const { records, done } = await reader.read(65_536);
    for (const e of records) {
      if (windowed) {
        // Event time only grows (no out-of-orderness), so each window's keys are seen together.
        const w = Math.floor(e.ts / 1000);
        if (w !== window) {
          inWindow.clear();
          window = w;
        }
        if (!inWindow.has(e.key)) {
          inWindow.add(e.key);
          totals.records++;
        }
        totals.sum++;
      } else {
        const n = (counts.get(e.key) ?? 0) + 1;
        counts.set(e.key, n);
        if (n === 10) {
          totals.records++;
          totals.sum++;
        }
      }
    }
    if (done) return totals;
  }
}

/** Runs one keyed-state run in a child process of its own, so its peak RSS is its own. */
export function keyedStateInChild(options: Parameters<typeof keyedStateRun>[0]): Promise<Awaited<ReturnType<typeof keyedStateRun>>> {
  return jsonFromChild(import.meta.url, [JSON.stringify(options)]);
}

/** One row of the state section. */
interface StateRow {
  job: "count" | "window";
  keys: number;
  state: "heap" | "level";
  cacheEntries?: number;
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const ratioText = (r: number, target: number): string => `**${r.toFixed(2)}×** (target ≥ ${target}×: ${r >= target ? "met" : "**missed**"})`;

/**
 * Runs the state benchmark's rows, each in a child process, and returns its section of
 * docs/benchmarks.md: the running count over 1,000,000 and 4,000,000 keys and the window count
 * over 1,000,000, on heap and on LevelDB with a cache that holds every key or the default one.
 */
export async function keyedStateSection(options: { events: number; windowEvents: number; log?: (line: string) => void }): Promise<string> {
  const log = options.log ?? ((line: string): void => console.log(line));
  const rows: StateRow[] = [
    { job: "count", keys: 1_000_000, state: "heap" },
    { job: "count", keys: 1_000_000, state: "level", cacheEntries: 2_000_000 },
    { job: "count", keys: 1_000_000, state: "level", cacheEntries: DEFAULT_MAX_CACHED_ENTRIES },
    { job: "count", keys: 4_000_000, state: "heap" },
    { job: "count", keys: 4_000_000, state: "level", cacheEntries: DEFAULT_MAX_CACHED_ENTRIES },
    { job: "window", keys: 1_000_000, state: "heap" },
    { job: "window", keys: 1_000_000, state: "level", cacheEntries: DEFAULT_MAX_CACHED_ENTRIES },
    { job: "window", keys: 4_000_000, state: "heap" },
    { job: "window", keys: 4_000_000, state: "level", cacheEntries: DEFAULT_MAX_CACHED_ENTRIES },
  ];
  const results: { row: StateRow; events: number; r: Awaited<ReturnType<typeof keyedStateRun>> }[] = [];
  for (const row of rows) {
    const events = row.job === "window" ? options.windowEvents : options.events;
    const r = await keyedStateInChild({ ...row, events });
    log(
      `state ${row.job} ${fmt(row.keys)} keys ${row.state}${row.cacheEntries ? ` cache ${fmt(row.cacheEntries)}` : ""}: ${fmt(r.rate)} events/s, peak RSS ${fmt(r.peakRssMb)} MiB`,
    );
    results.push({ row, events, r });
  }
  const find = (job: string, keys: number, state: string, cache?: number) =>
    results.find((x) => x.row.job === job && x.row.keys === keys && x.row.state === state && x.row.cacheEntries === cache)?.r as Awaited<
      ReturnType<typeof keyedStateRun>
    >;
  const heap1 = find("count", 1_000_000, "heap");
  const full = find("count", 1_000_000, "level", 2_000_000);
  const small1 = find("count", 1_000_000, "level", DEFAULT_MAX_CACHED_ENTRIES);
  const small4 = find("count", 4_000_000, "level", DEFAULT_MAX_CACHED_ENTRIES);
  const heap4 = find("count", 4_000_000, "heap");
  const wHeap = find("window", 1_000_000, "heap");
  const wSmall = find("window", 1_000_000, "level", DEFAULT_MAX_CACHED_ENTRIES);
  const wHeap4 = find("window", 4_000_000, "heap");
  const wSmall4 = find("window", 4_000_000, "level", DEFAULT_MAX_CACHED_ENTRIES);
  const table = results.map(({ row, events, r }) => {
    const heap = find(row.job, row.keys, "heap");
    const cache =
      row.state === "heap"
        ? "heap"
        : `LevelDB, cache ${fmt(row.cacheEntries ?? DEFAULT_MAX_CACHED_ENTRIES)} entries${row.cacheEntries === DEFAULT_MAX_CACHED_ENTRIES ? " (default)" : ""}`;
    const io = row.state === "heap" ? "-" : `${(r.readMs / 1000).toFixed(1)} s / ${(r.writeMs / 1000).toFixed(1)} s`;
    return `| ${row.job === "count" ? "running count" : "1 s window count"} | ${fmt(row.keys)} | ${fmt(events)} | ${cache} | ${fmt(r.rate)} | ${(r.rate / heap.rate).toFixed(2)}× | ${io} | ${fmt(r.peakRssMb)} |`;
  });
  // Nearly every key new (as in deduplication), on an empty store and on one a restart left 400,000 keys in.
  const newKeyEvents = Math.min(options.events, 3_000_000);
  const newKeys = { job: "count", keys: 100_000_000, state: "level", cacheEntries: DEFAULT_MAX_CACHED_ENTRIES, events: newKeyEvents } as const;
  const fresh = await keyedStateInChild(newKeys);
  const restarted = await keyedStateInChild({ ...newKeys, restoredEvents: 400_000 });
  for (const [what, r] of [
    ["empty store", fresh],
    ["restarted store", restarted],
  ] as const)
    log(`state count 100,000,000 keys level, ${what}: ${fmt(r.rate)} events/s, ${fmt(r.keysRead)} keys read`);
  const rssSpread = Math.abs(small4.peakRssMb - small1.peakRssMb) / small1.peakRssMb;
  return `## Keyed state: 1,000,000 and 4,000,000 distinct keys

A running count per key (one record out per key seen ten times) and a count per key and 1 s tumbling
window (events 1 µs apart in event time, so each window holds about 630,000 keys of 1,000,000, or
880,000 of 4,000,000, and its end fires them all at once), uniform keys, one task, batches of 16,384 records. Each row runs in a child
process of its own (peak RSS: its maxRSS) and checks what it wrote against a plain Map/Set over the
generator's records. Reads / writes: time LevelDB spent on them (reads split in up to four getMany
calls on the thread pool; eviction writes in the background, so both overlap processing).

| job | keys | events | state | events/s | vs heap | LevelDB reads / writes | peak RSS MiB |
|---|---:|---:|---|---:|---:|---:|---:|
${table.join("\n")}

- Cache holds every key, running count: LevelDB / heap = ${ratioText(full.rate / heap1.rate, 0.8)}.
- Default cache, five times more keys than it holds: running count ${ratioText(small1.rate / heap1.rate, 0.5)}, window count ${ratioText(wSmall.rate / wHeap.rate, 0.5)}.
- Peak RSS with the default cache: ${fmt(small1.peakRssMb)} MiB at 1,000,000 keys, ${fmt(small4.peakRssMb)} MiB at 4,000,000 (${(rssSpread * 100).toFixed(0)} % apart; target within 10 %: ${rssSpread <= 0.1 ? "met" : "**missed**"}); heap state ${fmt(heap1.peakRssMb)} / ${fmt(heap4.peakRssMb)} MiB (target: LevelDB below heap: ${small4.peakRssMb < heap4.peakRssMb && small1.peakRssMb < heap1.peakRssMb ? "met" : "**missed**"}).
- A worker restarted on its store (ADR 39): a running count of ${fmt(newKeyEvents)} events over 100,000,000 keys (nearly every key new, as in deduplication; default cache) ran at ${fmt(restarted.rate)} events/s on a store a first run left 400,000 keys in, ${fmt(fresh.rate)} on an empty one (**${(restarted.rate / fresh.rate).toFixed(2)}×**; keys read ${fmt(restarted.keysRead)} vs ${fmt(fresh.keysRead)} of ${fmt(newKeyEvents)} events). The restarted run reads every miss until a background scan of the store's keys has built its filter of stored keys; the empty store has one from the start.
- Window count with the default cache: peak RSS ${fmt(wSmall.peakRssMb)} MiB at 1,000,000 keys (about 630,000 timers per window end; ${fmt(wSmall.timersStored)} went to the store) and ${fmt(wSmall4.peakRssMb)} MiB at 4,000,000 (about 880,000 per window end, more than the 800,000 an operator keeps in memory: ${fmt(wSmall4.timersStored)} went to the store); heap state ${fmt(wHeap.peakRssMb)} / ${fmt(wHeap4.peakRssMb)} MiB.

What bounds memory (ADR 31): the cache, a slice of due keys when a window end fires more keys than a
quarter of it, one eviction write in flight, LevelDB's buffers (two 32 MiB write buffers, an 8 MiB
block cache), the filter of stored keys (4 MiB with the default cache, ADR 39) and V8's heap
headroom — not the key count. In a 3,000,000-event run with the default cache, the live heap after
a forced GC stayed under 81 MiB while the process peaked at 509–625 MiB: the rest is garbage V8 has
not collected yet (cache entries live long enough to be promoted, then die at an eviction) and
native memory (LevelDB, the allocator's per-thread arenas: \`MALLOC_ARENA_MAX=2\` took 60 MiB off).
What limits speed: with every key cached, a store that started empty is not read at all (ADR 39)
and the run pays the per-record cache bookkeeping and the close's write of every entry (in key
order); with the default cache and uniform keys, four reads in five miss it — a key the job never
wrote is ruled out by the filter, every other costs LevelDB several microseconds here (the store
growing while compactions share the two cores). Timers
stay in memory up to four per cache entry (800,000 per operator with the default cache); beyond that
the later ones are entries of the store, fired from it slice by slice (ADR 34). The LevelDB
window run peaks above heap's: in a profile V8's own malloced memory (young-generation
bookkeeping while the cache churns) peaked at about 700 MiB, and a young generation capped at
8 MiB (\`--max-semi-space-size=8\`) took the peak from about 1.3 GiB to 0.8 GiB at 300,000 events;
it is not set by default, as it slowed heap-state jobs.
`;
}

if (import.meta.main) console.log(JSON.stringify(await keyedStateRun(JSON.parse(process.argv[2] ?? "{}") as Parameters<typeof keyedStateRun>[0])));
