/** Local connectors: the seeded generator, ndjson file source and two-phase file sink. */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectSink, job } from "../../../runtime/api/index.ts";
import { fileSink, fileSource } from "../../../runtime/connectors/file.ts";
import { generatorSource, type GenEvent } from "../../../runtime/connectors/generator.ts";
import { manualClock } from "../../../runtime/time/clock.ts";
import { runToEnd } from "./helpers.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-conn-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(src: ReturnType<typeof generatorSource<GenEvent>>, partition: number, position?: number, max = 1000): Promise<GenEvent[]> {
  const r = await src.open(partition, position);
  return (await r.read(max)).records;
}

describe("generator", () => {
  it("is deterministic from its seed and replays exactly from a position", async () => {
    const g = generatorSource({ partitions: 2, countPerPartition: 100, seed: 5, keys: 10, maxOutOfOrdernessMs: 20, ratePerSec: 1000 });
    const all = await readAll(g, 1);
    expect(await readAll(generatorSource({ partitions: 2, countPerPartition: 100, seed: 5, keys: 10, maxOutOfOrdernessMs: 20, ratePerSec: 1000 }), 1)).toEqual(
      all,
    );
    expect(await readAll(g, 1, 40)).toEqual(all.slice(40));
    expect((await readAll(generatorSource({ partitions: 2, countPerPartition: 100, seed: 6, keys: 10 }), 1)).map((e) => e.key)).not.toEqual(
      all.map((e) => e.key),
    );
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i * 2 + 1));
  });

  it("bounds out-of-orderness, skews keys and throttles to its rate", async () => {
    const events = await readAll(generatorSource({ countPerPartition: 5000, ratePerSec: 1000, maxOutOfOrdernessMs: 50, keys: 100, skew: 2 }), 0, 0, 5000);
    let maxTs = -Infinity;
    let maxLag = 0;
    for (const e of events) {
      maxLag = Math.max(maxLag, maxTs - e.ts);
      maxTs = Math.max(maxTs, e.ts);
    }
    expect(maxLag).toBeGreaterThan(0);
    expect(maxLag).toBeLessThanOrEqual(51);
    const low = events.filter((e) => e.key < 10).length;
    expect(low / events.length).toBeGreaterThan(0.3); // uniform would give 0.1
    const clock = manualClock(0);
    const r = await generatorSource({ ratePerSec: 100, throttle: true, clock }).open(0);
    expect((await r.read(1000)).records).toHaveLength(0);
    clock.advance(500);
    expect((await r.read(1000)).records).toHaveLength(50);
  });
});

describe("ndjson files", () => {
  it("reads partitions from files, resumes at a byte offset, and names the bad line", async () => {
    const a = join(dir, "a.ndjson");
    await writeFile(a, '{"n":1}\n\n{"n":"é"}\n{"n":3}');
    const src = fileSource<{ n: unknown }>({ paths: [a] });
    const r = await src.open(0);
    expect((await r.read(1)).records).toEqual([{ n: 1 }]);
    const pos = r.position();
    const rest = await r.read(10);
    expect(rest).toEqual({ records: [{ n: "é" }, { n: 3 }], done: true });
    await r.close();
    const again = await src.open(0, pos);
    expect((await again.read(10)).records).toEqual([{ n: "é" }, { n: 3 }]);
    await again.close();
    const bad = join(dir, "bad.ndjson");
    await writeFile(bad, '{"n":1}\nnot json\n');
    const rb = await fileSource({ paths: [bad] }).open(0);
    await expect(rb.read(10)).rejects.toThrow(/bad.ndjson:2: not JSON/);
    await rb.close();
  });

  it("runs file → job → file, publishing only on close or commit", async () => {
    const input = join(dir, "in.ndjson");
    await writeFile(input, [1, 2, 3, 4].map((n) => JSON.stringify({ n })).join("\n") + "\n");
    const out = join(dir, "out");
    const j = job("files");
    j.source(fileSource<{ n: number }>({ paths: [input] }))
      .filter((r) => r.n % 2 === 0)
      .sink(fileSink({ dir: out }), { uid: "evens" });
    await runToEnd(j.build());
    const files = await readdir(out);
    expect(files).toEqual(["part-evens-0-000000.ndjson"]);
    expect(await readFile(join(out, files[0] as string), "utf8")).toBe('{"n":2}\n{"n":4}\n');
    // Without close or commit nothing is visible.
    const w = await fileSink<string>({ dir: join(dir, "two") }).open({ operatorUid: "s", taskIndex: 0, parallelism: 1 });
    w.write("x", 0);
    await w.flush();
    expect((await readdir(join(dir, "two"))).filter((f) => f.endsWith(".ndjson"))).toEqual([]);
    const prepared = await w.prepareCommit?.(7);
    expect((await readdir(join(dir, "two"))).filter((f) => f.endsWith(".ndjson"))).toEqual([]);
    await w.commit?.(7, prepared);
    await w.commit?.(7, prepared); // idempotent
    expect((await readdir(join(dir, "two"))).filter((f) => f.endsWith(".ndjson"))).toEqual(["part-s-0-000000.ndjson"]);
    await w.close();
  });

  it("publishes on restore what a run killed between a checkpoint and its commit left, and drops what came after", async () => {
    const out = join(dir, "killed");
    const sink = fileSink<string>({ dir: out });
    const w = await sink.open({ operatorUid: "s", taskIndex: 0, parallelism: 1 });
    w.write("in checkpoint 4", 0);
    await w.flush();
    const prepared = await w.prepareCommit?.(4); // checkpoint 4 is durable; the process dies before commit
    w.write("after checkpoint 4", 0);
    await w.flush();
    expect((await readdir(out)).sort()).toEqual([".part-s-0-000000.inprogress", ".part-s-0-000005.inprogress"]);
    const restored = await sink.open({ operatorUid: "s", taskIndex: 0, parallelism: 1, restoredCheckpoint: 4 });
    await restored.commit?.(4, prepared); // the restore repeats checkpoint 4's commit
    expect(await readdir(out)).toEqual(["part-s-0-000000.ndjson"]);
    expect(await readFile(join(out, "part-s-0-000000.ndjson"), "utf8")).toBe('"in checkpoint 4"\n');
    await restored.close();
    await w.abort?.();
  });

  it("keeps the collect sink in write order", async () => {
    const sink = collectSink<number>();
    const w = await sink.open({ operatorUid: "c", taskIndex: 0, parallelism: 1 });
    w.write(2, 10);
    w.write(1, 5);
    expect(sink.records).toEqual([
      { value: 2, ts: 10, task: 0 },
      { value: 1, ts: 5, task: 0 },
    ]);
  });
});
