// Restore at scale streams: snapshots are written and read as chunk files, restored keyed state
// goes to LevelDB in bounded batches, and a changelog replay fails only when it stops making
// progress — never because a big state takes long to replay.
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serialize } from "node:v8";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectSink, job, type Key } from "../../../runtime/api/index.ts";
import { inlineEntries, type StoreEntry } from "../../../runtime/checkpoint/format.ts";
import { folderStorage } from "../../../runtime/checkpoint/storage.ts";
import { CHUNK_ENTRIES, readTaskFiles, writeTaskFiles } from "../../../runtime/checkpoint/task-files.ts";
import { generatorSource, type GenEvent } from "../../../runtime/connectors/generator.ts";
import { replayChangelog, SENTINEL_KEY, type ChangelogRecord, type ReplaySink } from "../../../runtime/distributed/changelog.ts";
import { CheckpointError } from "../../../runtime/errors.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { manualClock } from "../../../runtime/time/clock.ts";
import { memoryChangelog } from "../../helpers/changelog.ts";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "runnel-stream-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const entry = (i: number): StoreEntry => [`op\u0000s\u0000n${i}`, Buffer.from(`value-${i}`)];

async function collect(chunks: AsyncIterable<StoreEntry[]>): Promise<{ entries: StoreEntry[]; sizes: number[] }> {
  const entries: StoreEntry[] = [];
  const sizes: number[] = [];
  for await (const c of chunks) {
    sizes.push(c.length);
    entries.push(...c);
  }
  return { entries, sizes };
}

describe("snapshot task files", () => {
  it("writes a task's entries as bounded chunk files and reads them back chunk by chunk", async () => {
    const n = CHUNK_ENTRIES * 2 + 123;
    const all = Array.from({ length: n }, (_, i) => entry(i));
    const storage = folderStorage(dir);
    const timers = { op: { event: [[5, "k"]] as [number, Key][], processing: [] } };
    expect(await writeTaskFiles(storage, 3, { entries: inlineEntries(all), timers, operators: { rules: new Map([["r", 1]]) } })).toBe(n);
    expect(readdirSync(dir).filter((f) => f.startsWith("task-3.entries-"))).toHaveLength(3);
    const back = await readTaskFiles(storage, 3);
    expect(back.entryCount).toBe(n);
    expect(back.timers).toEqual(timers);
    expect(back.operators).toEqual({ rules: new Map([["r", 1]]) });
    const { entries, sizes } = await collect(back.entries());
    expect(sizes.every((s) => s <= CHUNK_ENTRIES)).toBe(true);
    expect(entries.map(([k, v]) => [k, Buffer.from(v).toString()])).toEqual(all.map(([k, v]) => [k, Buffer.from(v).toString()]));
  });

  it("still reads task files of the first format (every entry inline)", async () => {
    writeFileSync(join(dir, "task-0.bin"), serialize({ entries: [entry(1), entry(2)], timers: {}, operators: { b: 1 } }));
    const back = await readTaskFiles(folderStorage(dir), 0);
    expect(back.operators).toEqual({ b: 1 });
    expect((await collect(back.entries())).entries.map(([k]) => k)).toEqual([entry(1)[0], entry(2)[0]]);
  });
});

describe("restoring keyed state in bounded batches", () => {
  it("imports a checkpoint's entries into LevelDB in batches of at most one chunk", async () => {
    const keys = CHUNK_ENTRIES * 3;
    const build = (out: ReturnType<typeof collectSink<string>>) => {
      const j = job("many-keys");
      j.source(generatorSource({ partitions: 1, countPerPartition: keys }), { watermarks: { timestamp: (e: GenEvent) => e.ts } })
        .keyBy((e) => e.seq)
        .process<string>(
          (rt) => {
            const seen = rt.valueState<number>({ name: "seen" });
            return {
              processElement(e, _c, o) {
                seen.update((seen.value() ?? 0) + 1);
                if (e.seq === keys - 1) o.collect(`last ${seen.value()}`);
              },
            };
          },
          { uid: "seen" },
        )
        .sink(out);
      return j.build();
    };
    const ckpt = join(dir, "ckpt");
    const first = createEngine({
      graph: build(collectSink<string>()),
      idleSleepMs: 0,
      batchSize: 50_000,
      state: { kind: "level", dir: join(dir, "s1") },
      checkpoint: { dir: ckpt },
    });
    await first.run();
    const second = createEngine({
      graph: build(collectSink<string>()),
      restoreFrom: "latest",
      state: { kind: "level", dir: join(dir, "s2") },
      checkpoint: { dir: ckpt },
    });
    await second.open();
    const stats = (second.backends[0] as (typeof second.backends)[number]).stats;
    expect(stats.keysWritten).toBeGreaterThanOrEqual(keys);
    // Bounded: one LevelDB batch per chunk (plus the dirty mark), never one batch of everything.
    expect(stats.batches).toBeGreaterThanOrEqual(keys / CHUNK_ENTRIES);
    expect(stats.keysWritten / stats.batches).toBeLessThanOrEqual(CHUNK_ENTRIES + 1);
    let restored = 0;
    for await (const chunk of (second.backends[0] as (typeof second.backends)[number]).entryChunks()) restored += chunk.length;
    expect(restored).toBe(keys);
    await second.close();
  });
});

function countingSink(): ReplaySink & { applied: number } {
  return {
    task: 0,
    from: 0,
    applied: 0,
    async onChanges(c) {
      this.applied += c.puts.length + c.dels.length;
    },
    onMeta: () => true,
  };
}

describe("changelog replay deadline", () => {
  const options = { connection: { brokers: [] }, topic: "changelog", readerGroup: "g", sentinels: new Map([[0, "nonce"]]) };

  it("keeps going as long as records arrive, however long the whole replay takes", async () => {
    const records: ChangelogRecord[] = Array.from({ length: 500 }, (_, i) => ({ offset: i, key: `k${i}`, value: Buffer.from("v") }));
    records.push({ offset: 500, key: SENTINEL_KEY, value: Buffer.from("nonce") });
    const clock = manualClock();
    const sink = countingSink();
    // 501 reads a minute apart: over 8 hours in all, never a minute without progress.
    await replayChangelog({
      ...options,
      sinks: [sink],
      stallTimeoutMs: 120_000,
      clock,
      source: memoryChangelog(records, { perRead: 1, onRead: () => clock.advance(60_000) }),
    });
    expect(sink.applied).toBe(500);
    expect(clock.now()).toBeGreaterThan(8 * 3600_000);
  });

  it("fails, retriably, once no record arrived for the stall timeout", async () => {
    const clock = manualClock();
    const err = await replayChangelog({
      ...options,
      sinks: [countingSink()],
      stallTimeoutMs: 120_000,
      clock,
      source: memoryChangelog([{ offset: 0, key: "k", value: Buffer.from("v") }], { perRead: 1, onRead: () => clock.advance(30_000) }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).retriable).toBe(true);
    expect((err as Error).message).toMatch(/made no progress for 120 s/);
  });
});
