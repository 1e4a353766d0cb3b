// State carries its schema: a job restored from a savepoint of an earlier version migrates window
// and running-aggregate state by aggregation name (an added aggregation starts from the restored
// window's later events), and refuses state its new version would read wrongly — a changed window,
// an aggregation changed under the same name — naming the step and the change, unless that step's
// state is dropped explicitly.
import { mkdtempSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readCheckpoint } from "../../../runtime/checkpoint/format.ts";
import { CheckpointError } from "../../../runtime/errors.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { plain } from "../../../runtime/pipeline/values.ts";
import { compileDoc, streamJob } from "../pipeline/helpers.ts";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "runnel-schema-"));
  // User a: two events before the savepoint, then one more in the same minute and one in the next.
  const events = [
    { user: "a", ts: 1000, n: 5, m: 1 },
    { user: "a", ts: 2000, n: 7, m: 1 },
    { user: "a", ts: 3000, n: 1, m: 1 },
    { user: "a", ts: 70_000, n: 2, m: 1 },
  ];
  writeFileSync(join(dir, "in.ndjson"), events.map((e) => JSON.stringify(e)).join("\n") + "\n");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

type Aggs = { name: string; fn: string; of?: string }[];

/** The job: key by user, a window (default tumbling 1m) with `aggs` (or an unbounded over), into a collecting sink. */
async function compile(aggs: Aggs, options: { window?: object; over?: boolean } = {}) {
  const step = options.over ? { over: { aggregations: aggs } } : { window: { type: "tumbling", size: "1m", ...options.window, aggregations: aggs } };
  return await compileDoc(
    streamJob("schemas", {
      sources: [{ id: "clicks", local: { file: { path: "in.ndjson" } }, timestamp: { field: "ts" } }],
      steps: [
        { id: "by-user", input: "clicks", keyBy: { key: "record.user" } },
        { id: "w", input: "by-user", ...step },
      ],
      sinks: [{ id: "out", input: "w", blackhole: {} }],
    }),
    dir,
  );
}

/** Runs v1 over the first two events, takes a savepoint, and restores v2 from it to the end; returns v2's output. */
async function upgrade(v1: Aggs, v2: Aggs, options: { window?: object; v1Window?: object; over?: boolean; drop?: string[] } = {}): Promise<unknown[]> {
  const sp = join(dir, "savepoint");
  const v1Options = { over: options.over === true, ...(options.v1Window ? { window: options.v1Window } : {}) };
  const first = createEngine({ graph: (await compile(v1, v1Options)).graph, idleSleepMs: 0, batchSize: 2 });
  await first.open();
  await first.round();
  await first.savepoint(sp);
  await first.close();
  const next = await compile(v2, options);
  await createEngine({ graph: next.graph, idleSleepMs: 0, restoreFrom: sp, ...(options.drop ? { dropIncompatibleState: options.drop } : {}) }).run();
  return (next.collected.get("out")?.values() ?? []).map(plain);
}

const window0 = { key: "a", windowStart: 0, windowEnd: 60_000 };
const window1 = { key: "a", windowStart: 60_000, windowEnd: 120_000 };

describe("state schemas: migrating window state across job versions", () => {
  it("records each operator's state schema with the snapshot", async () => {
    const sp = join(dir, "savepoint");
    const e = createEngine({ graph: (await compile([{ name: "events", fn: "count" }])).graph, idleSleepMs: 0, batchSize: 2 });
    await e.open();
    await e.round();
    await e.savepoint(sp);
    await e.close();
    const { tasks } = await readCheckpoint(sp);
    expect(tasks[0]?.schemas?.w).toMatchObject({
      operator: "window",
      assigner: { kind: "tumbling", sizeMs: 60_000 },
      accumulators: [{ name: "events", kind: "count" }],
    });
  });

  it("an added aggregation starts from the restored window's later events; the others keep their values", async () => {
    const v1: Aggs = [
      { name: "events", fn: "count" },
      { name: "total", fn: "sum", of: "record.n" },
    ];
    const out = await upgrade(v1, [...v1, { name: "maxN", fn: "max", of: "record.n" }]);
    expect(out).toEqual([
      { ...window0, events: 3, total: 13, maxN: 1 },
      { ...window1, events: 1, total: 2, maxN: 2 },
    ]);
  });

  it("migrates a sliding window's panes the same way (each window merges its migrated panes)", async () => {
    const v1: Aggs = [
      { name: "events", fn: "count" },
      { name: "total", fn: "sum", of: "record.n" },
    ];
    const sliding = { type: "sliding", size: "1m", slide: "30s" };
    const out = await upgrade(v1, [...v1, { name: "maxN", fn: "max", of: "record.n" }], { window: sliding, v1Window: sliding });
    const w = (start: number) => ({ key: "a", windowStart: start, windowEnd: start + 60_000 });
    expect(out).toEqual([
      { ...w(-30_000), events: 3, total: 13, maxN: 1 },
      { ...w(0), events: 3, total: 13, maxN: 1 },
      { ...w(30_000), events: 1, total: 2, maxN: 2 },
      { ...w(60_000), events: 1, total: 2, maxN: 2 },
    ]);
  });

  it("reordered and removed aggregations are matched by name, never by position", async () => {
    const v1: Aggs = [
      { name: "events", fn: "count" },
      { name: "total", fn: "sum", of: "record.n" },
      { name: "low", fn: "min", of: "record.n" },
    ];
    const out = await upgrade(v1, [
      { name: "low", fn: "min", of: "record.n" },
      { name: "events", fn: "count" },
    ]);
    expect(out).toEqual([
      { ...window0, low: 1, events: 3 },
      { ...window1, low: 2, events: 1 },
    ]);
  });

  it("migrates between the counts-only accumulator and the general one, both ways", async () => {
    const counts: Aggs = [{ name: "events", fn: "count" }];
    const general: Aggs = [...counts, { name: "total", fn: "sum", of: "record.n" }];
    expect(await upgrade(counts, general)).toEqual([
      { ...window0, events: 3, total: 1 },
      { ...window1, events: 1, total: 2 },
    ]);
    expect(await upgrade(general, counts)).toEqual([
      { ...window0, events: 3 },
      { ...window1, events: 1 },
    ]);
  });

  it("migrates an unbounded running aggregate (over without range) the same way", async () => {
    const v1: Aggs = [{ name: "seen", fn: "count" }];
    const out = (await upgrade(v1, [...v1, { name: "sumN", fn: "sum", of: "record.n" }], { over: true })) as { seen: number; sumN: number }[];
    expect(out.map((r) => [r.seen, r.sumN])).toEqual([
      [3, 1],
      [4, 3],
    ]);
  });
});

describe("state schemas: refusing state a new job version would read wrongly", () => {
  async function refusal(v2: Aggs, options: { window?: object } = {}): Promise<string> {
    const err = await upgrade([{ name: "total", fn: "sum", of: "record.n" }], v2, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).retriable).toBe(false);
    return (err as Error).message;
  }

  it("refuses a changed window size under the same uid, naming the step and the change", async () => {
    const message = await refusal([{ name: "total", fn: "sum", of: "record.n" }], { window: { size: "2m" } });
    expect(message).toContain("step 'w'");
    expect(message).toContain("its window changed from tumbling 1m to tumbling 2m");
    expect(message).toContain("--drop-incompatible-state w");
    expect(message).toContain("spec.dropIncompatibleState");
  });

  it("refuses other window changes: kind, lateness", async () => {
    const sum: Aggs = [{ name: "total", fn: "sum", of: "record.n" }];
    expect(await refusal(sum, { window: { type: "sliding", size: "1m", slide: "30s" } })).toContain("from tumbling 1m to sliding 1m every 30s");
    expect(await refusal(sum, { window: { allowedLateness: "10s" } })).toContain("its allowed lateness changed from 0s to 10s");
  });

  it("refuses an aggregation changed under the same name", async () => {
    expect(await refusal([{ name: "total", fn: "sum", of: "record.m" }])).toContain("aggregation 'total' changed from sum(record.n) to sum(record.m)");
  });

  it("drops the step's state when asked to, and the new window starts empty", async () => {
    const sum: Aggs = [{ name: "total", fn: "sum", of: "record.n" }];
    const out = await upgrade(sum, sum, { window: { size: "2m" }, drop: ["w"] });
    // Only the events after the restore: 1 (3 s) and 2 (70 s), in one 2-minute window.
    expect(out).toEqual([{ key: "a", windowStart: 0, windowEnd: 120_000, total: 3 }]);
  });

  it("keeps compatible state even when the step is named for dropping", async () => {
    const sum: Aggs = [{ name: "total", fn: "sum", of: "record.n" }];
    expect(await upgrade(sum, sum, { drop: ["w"] })).toEqual([
      { ...window0, total: 13 },
      { ...window1, total: 2 },
    ]);
  });
});
