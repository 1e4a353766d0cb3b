/** Local checkpoints: restore after a crash gives exactly the output of an uninterrupted run. */
import { mkdtemp, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { committedLines, runThenKill } from "../../helpers/local-run.ts";
import { runnel } from "../../helpers/cases.ts";
import { manualClock } from "../../../runtime/time/clock.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import exactlyOnceJob from "./fixtures/exactly-once-job.ts";
import { collectionSource, job } from "../../../runtime/api/index.ts";
import { fileSink } from "../../../runtime/connectors/file.ts";
import { CheckpointError, UserFunctionError } from "../../../runtime/errors.ts";
import { readCheckpoint } from "../../../runtime/checkpoint/format.ts";
import { collectSink, count, tumbling } from "../../../runtime/api/index.ts";
import { generatorSource, type GenEvent } from "../../../runtime/connectors/generator.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-ckpt-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function reference(): Promise<string[]> {
  const out = join(dir, "reference");
  await createEngine({ graph: exactlyOnceJob([out]).build(), idleSleepMs: 0 }).run();
  return committedLines(out);
}

describe("local checkpoints", () => {
  it("restores in-process after an abandoned run without duplicates or losses", async () => {
    const expected = await reference();
    expect(expected.length).toBeGreaterThan(40_000);
    const out = join(dir, "out");
    const ckpt = join(dir, "ckpt");
    const first = createEngine({ graph: exactlyOnceJob([out]).build(), idleSleepMs: 0, batchSize: 1000, checkpoint: { dir: ckpt } });
    await first.open();
    for (let i = 0; i < 5; i++) await first.round();
    expect(await first.checkpoint()).toBe(0);
    for (let i = 0; i < 3; i++) await first.round(); // output after the checkpoint stays uncommitted
    // The first engine is abandoned (a crash): nothing is closed or flushed.
    const partial = await committedLines(out);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(expected.length);
    const second = createEngine({ graph: exactlyOnceJob([out]).build(), idleSleepMs: 0, batchSize: 777, checkpoint: { dir: ckpt }, restoreFrom: "latest" });
    const p = await second.run();
    expect(p.lastCheckpoint).toBeGreaterThan(0);
    expect(await committedLines(out)).toEqual(expected);
  });

  it("re-splits keyed state and timers by key when restoring onto more tasks", async () => {
    const expected = await reference();
    const out = join(dir, "out");
    const ckpt = join(dir, "ckpt");
    const first = createEngine({ graph: exactlyOnceJob([out, "", "2"]).build(), idleSleepMs: 0, batchSize: 1000, checkpoint: { dir: ckpt } });
    await first.open();
    for (let i = 0; i < 7; i++) await first.round();
    await first.checkpoint();
    const second = createEngine({ graph: exactlyOnceJob([out, "", "3"]).build(), idleSleepMs: 0, checkpoint: { dir: ckpt }, restoreFrom: "latest" });
    expect(second.parallelism).toBe(3);
    await second.run();
    expect(await committedLines(out)).toEqual(expected);
  });

  it("re-splits LevelDB state and timers held in the store by key when restoring onto more tasks", async () => {
    const expected = await reference();
    const out = join(dir, "out");
    const ckpt = join(dir, "ckpt");
    // A cache of 8 entries bounds the timers in memory to 8 per operator: the rest are store entries the restore routes by key.
    const state = (name: string) => ({ kind: "level" as const, dir: join(dir, name), maxCachedEntries: 8 });
    const first = createEngine({
      graph: exactlyOnceJob([out, "", "2"]).build(),
      idleSleepMs: 0,
      batchSize: 1000,
      checkpoint: { dir: ckpt },
      state: state("a"),
    });
    await first.open();
    for (let i = 0; i < 7; i++) await first.round();
    await first.checkpoint();
    const stored = await readCheckpoint(join(ckpt, "chk-00000000"));
    const horizons = stored.tasks.flatMap((t) => Object.values(t?.timers ?? {}).map((x) => x.horizon?.event));
    expect(horizons.some((h) => h !== undefined)).toBe(true);
    const second = createEngine({
      graph: exactlyOnceJob([out, "", "3"]).build(),
      idleSleepMs: 0,
      checkpoint: { dir: ckpt },
      restoreFrom: "latest",
      state: state("b"),
    });
    expect(second.parallelism).toBe(3);
    await second.run();
    expect(await committedLines(out)).toEqual(expected);
  });

  it("writes savepoints that restore by operator uid, and refuses state of operators the job lost", async () => {
    const expected = await reference();
    const out = join(dir, "out");
    const sp = join(dir, "savepoint-1");
    const first = createEngine({ graph: exactlyOnceJob([out]).build(), idleSleepMs: 0, batchSize: 1000 });
    await first.open();
    for (let i = 0; i < 6; i++) await first.round();
    await first.savepoint(sp);
    const { meta } = await readCheckpoint(sp);
    expect(meta.kind).toBe("savepoint");
    expect(meta.operators.map((o) => o.uid)).toContain("windows-out");
    // A job that lost the keyed counter cannot take this state silently.
    const lost = job("exactly-once");
    lost
      .source(generatorSource({ partitions: 2, countPerPartition: 10 }), { watermarks: { timestamp: (e: GenEvent) => e.ts } })
      .keyBy((e) => e.key)
      .window(tumbling({ sizeMs: 100 }))
      .aggregate(count<GenEvent>())
      .sink(collectSink());
    await expect(createEngine({ graph: lost.build(), restoreFrom: sp }).run()).rejects.toThrow(CheckpointError);
    const second = createEngine({ graph: exactlyOnceJob([out]).build(), idleSleepMs: 0, restoreFrom: sp });
    await second.run();
    expect(await committedLines(out)).toEqual(expected);
  });

  it("does not publish uncommitted output when the job fails", async () => {
    const out = join(dir, "out");
    const j = job("fails");
    j.source(collectionSource({ partitions: [Array.from({ length: 100 }, (_, i) => i)] }))
      .map((n) => {
        if (n === 75) throw new Error("boom");
        return String(n);
      })
      .sink(fileSink<string>({ dir: out, format: (s) => s }));
    const engine = createEngine({ graph: j.build(), batchSize: 10, idleSleepMs: 0, checkpoint: { dir: join(dir, "ckpt"), intervalMs: 0 } });
    await expect(engine.run()).rejects.toThrow(UserFunctionError);
    // Rounds 0..6 were checkpointed and committed; the failing round's 70..74 stay unpublished.
    expect(await committedLines(out)).toEqual(Array.from({ length: 70 }, (_, i) => String(i)).sort());
  });

  it("lets go of its sink files when it fails between checkpoints, publishing nothing uncommitted", async () => {
    const out = join(dir, "out");
    const clock = manualClock(0);
    const j = job("fails-later");
    j.source(collectionSource({ partitions: [Array.from({ length: 100 }, (_, i) => i)] }))
      .map((n) => {
        if (n === 30) clock.advance(1_000); // the round holding 30..39 ends with a checkpoint
        if (n === 65) throw new Error("boom"); // two rounds later, their output flushed, not committed
        return String(n);
      })
      .sink(fileSink<string>({ dir: out, format: (s) => s }));
    const engine = createEngine({ graph: j.build(), batchSize: 10, idleSleepMs: 0, clock, checkpoint: { dir: join(dir, "ckpt"), intervalMs: 500 } });
    await expect(engine.run()).rejects.toThrow(UserFunctionError);
    expect(await committedLines(out)).toEqual(Array.from({ length: 40 }, (_, i) => String(i)).sort());
    // No descriptor of this process points into `out` any more (the in-progress file was open).
    const targets = await Promise.all((await readdir("/proc/self/fd")).map((fd) => readlink(join("/proc/self/fd", fd)).catch(() => "")));
    expect(targets.filter((t) => t.startsWith(out))).toEqual([]);
  });

  it.each([
    ["", []],
    [" and timers in the store", ["--state-cache", "8"]],
  ])("survives kill -9 of `runnel run` with LevelDB state%s: restored output equals an uninterrupted run", async (_what, cache) => {
    const expected = await reference();
    const out = join(dir, "out");
    const ckpt = join(dir, "ckpt");
    const state = join(dir, "state");
    await runThenKill({
      module: join(import.meta.dirname, "fixtures", "exactly-once-job.ts"),
      checkpointDir: ckpt,
      runArgs: ["--state", "level", "--state-dir", state, "--checkpoint-interval", "150", "--batch-size", "500", ...cache],
      jobArgs: [out, "throttle"],
    });
    const partial = await committedLines(out);
    expect(partial.length).toBeLessThan(expected.length);
    const restored = createEngine({
      graph: exactlyOnceJob([out]).build(),
      idleSleepMs: 0,
      state: { kind: "level", dir: state, ...(cache.length > 0 ? { maxCachedEntries: 8 } : {}) },
      checkpoint: { dir: ckpt },
      restoreFrom: "latest",
    });
    await restored.run();
    expect(await committedLines(out)).toEqual(expected);
  });

  it("survives kill -9 of `runnel run --threads 2` and a restore on 3 threads (ADR 36): output equals an uninterrupted run on one", async () => {
    const expected = await reference();
    const out = join(dir, "out");
    const ckpt = join(dir, "ckpt");
    const state = ["--state", "level", "--state-dir", join(dir, "state"), "--state-cache", "8"];
    // Four tasks: each thread runs two, and half the keys cross threads.
    await runThenKill({
      module: join(import.meta.dirname, "fixtures", "exactly-once-job.ts"),
      checkpointDir: ckpt,
      runArgs: [...state, "--checkpoint-interval", "150", "--batch-size", "500", "--threads", "2"],
      jobArgs: [out, "throttle", "4"],
    });
    const partial = await committedLines(out);
    expect(partial.length).toBeLessThan(expected.length);
    const module = join(import.meta.dirname, "fixtures", "exactly-once-job.ts");
    const { stderr } = await runnel([
      "run",
      module,
      ...state,
      "--checkpoint-dir",
      ckpt,
      "--restore",
      "latest",
      "--threads",
      "3",
      "--no-progress",
      "--",
      out,
      "fast",
      "4",
    ]);
    expect(stderr).toMatch(/finished after .* on 3 threads/);
    expect(await committedLines(out)).toEqual(expected);
  });
});
