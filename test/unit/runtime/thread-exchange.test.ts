/** What crosses between the threads of a local run (ADR 36): records in columns, snapshot parts and progress merged. */
import { describe, expect, it } from "vitest";
import { fromColumns, toColumns } from "../../../runtime/exec/threads/columns.ts";
import { mergeProgress, mergeSnapshotParts, roundReports } from "../../../runtime/exec/threads/coordinator.ts";
import type { CheckpointMetadata } from "../../../runtime/checkpoint/format.ts";
import type { Progress } from "../../../runtime/exec/engine.ts";
import { portPeers, type ControlPort } from "../../../runtime/exec/threads/port-peers.ts";
import type { FromRunThread, ToRunThread } from "../../../runtime/exec/threads/protocol.ts";
import { CheckpointError } from "../../../runtime/errors.ts";

/** The batch as the other thread receives it: cloned, its buffers moved. */
function cross(records: unknown[]): unknown[] {
  const { batch, transfer } = toColumns(records, records.length);
  return fromColumns(structuredClone(batch, { transfer }));
}

/** A record with a prototype of its own. */
class Reading {
  value = 21.5;
  unit = "C";
}

describe("records in columns", () => {
  it("rebuilds records of one shape with numbers, strings and anything else as structured cloning does", () => {
    const records = Array.from({ length: 500 }, (_, i) => ({
      id: i,
      price: i % 7 === 0 ? Number.NaN : i / 3,
      channel: ["web", "app", "ünïcode ✓"][i % 3],
      tags: i % 2 === 0 ? ["a", "b"] : null,
      big: BigInt(i) * 10n ** 20n,
      at: new Date(1_700_000_000_000 + i),
    }));
    const back = cross(records);
    expect(back).toEqual(structuredClone(records));
    // Rebuilt records are independent copies.
    expect(back[0]).not.toBe(records[0]);
  });

  it("rebuilds every shape with its own keys in order: more shapes than builders, 1 to 8 keys, and wider ones", () => {
    for (let width = 1; width <= 12; width++) {
      for (const prefix of ["a", "b"]) {
        const records = Array.from({ length: 50 }, (_, i) =>
          Object.fromEntries(Array.from({ length: width }, (_, k) => [`${prefix}${k}`, k % 2 ? `s${i}` : i * k])),
        );
        const back = cross(records) as Record<string, unknown>[];
        expect(back).toEqual(records);
        for (const r of back) expect(Object.keys(r)).toEqual(Object.keys(records[0] as object));
      }
    }
  });

  it("keeps -0, infinities and a column that mixes types", () => {
    const records = [
      { v: -0, w: 1 },
      { v: Number.POSITIVE_INFINITY, w: "one" },
      { v: Number.NEGATIVE_INFINITY, w: undefined },
      { v: 2 ** 53 + 2, w: { nested: [1, { deep: true }] } },
    ];
    const back = cross(records) as { v: number; w: unknown }[];
    expect(Object.is(back[0]?.v, -0)).toBe(true);
    expect(back).toEqual(structuredClone(records));
    expect(Object.hasOwn(back[2] as object, "w")).toBe(true);
  });

  it("sends records of other shapes, non-objects and class instances as they are, in their places", () => {
    const records: unknown[] = [
      { a: 1, b: "x" },
      { b: "y", a: 2 }, // the same keys in another order: still the shape
      { a: 3 }, // fewer keys
      { a: 4, b: "z", c: true }, // more keys
      "a string",
      42,
      null,
      new Reading(),
      JSON.parse('{"__proto__": 5, "a": 6}') as unknown,
      { a: 7, b: "w" },
    ];
    // A shape with a key every object inherits: a record without it as an own key is not of the shape.
    const inherited: object[] = [
      { toString: 1, a: 2 },
      { a: 3, b: 4 },
      { a: 5, toString: 6 },
    ];
    expect(cross(inherited)).toEqual(structuredClone(inherited));
    const back = cross(records);
    expect(back).toEqual(structuredClone(records));
    expect(back[7]).not.toBeInstanceOf(Reading); // as structured cloning: the prototype stays behind
    expect(Object.hasOwn(back[8] as object, "__proto__")).toBe(true);
  });

  it("crosses a batch whose first records are not objects, and an empty batch", () => {
    expect(cross([1, 2, { k: "v" }, { k: "w" }])).toEqual([1, 2, { k: "v" }, { k: "w" }]);
    expect(cross([])).toEqual([]);
    const { batch } = toColumns([{ k: 1 }, { k: 2 }], 2);
    expect(batch.columns).toEqual([{ kind: "number", values: new Float64Array([1, 2]) }]);
  });

  it("reads only the first n records of a buffer that keeps its capacity", () => {
    const buffer = [{ n: 1 }, { n: 2 }, { n: 3 }, { stale: true }];
    const { batch, transfer } = toColumns(buffer, 3);
    expect(fromColumns(structuredClone(batch, { transfer }))).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
});

const meta = (part: Partial<CheckpointMetadata>): CheckpointMetadata => ({
  version: 2,
  kind: "checkpoint",
  job: "j",
  id: 4,
  createdAt: "2026-12-07T00:00:00.000Z",
  parallelism: 4,
  operators: [],
  sources: {},
  sourceMaxTimestamps: {},
  sinks: {},
  ...part,
});

describe("a snapshot written by several threads", () => {
  it("takes each partition's position and each task's prepared output from the thread that had it", () => {
    const merged = mergeSnapshotParts([
      meta({
        sources: { s: [10, undefined, 30], rules: [7] },
        sourceMaxTimestamps: { s: [1, undefined, 3] as number[] },
        sinks: { out: [{ f: 0 }, undefined, { f: 2 }, undefined] },
      }),
      meta({
        sources: { s: [undefined, 20, undefined, 40], rules: [7] },
        sourceMaxTimestamps: { s: [undefined, 2, undefined, 4] as number[] },
        sinks: { out: [undefined, { f: 1 }, undefined, { f: 3 }] },
      }),
    ]);
    expect(merged.sources).toEqual({ s: [10, 20, 30, 40], rules: [7] });
    expect(merged.sourceMaxTimestamps).toEqual({ s: [1, 2, 3, 4] });
    expect(merged.sinks).toEqual({ out: [{ f: 0 }, { f: 1 }, { f: 2 }, { f: 3 }] });
    expect(merged.id).toBe(4);
  });

  it("merges progress: counters add, the lowest watermark, the checkpoints every thread completed", () => {
    const p = (x: Partial<Progress>): Progress => ({
      rounds: 5,
      recordsIn: 10,
      recordsOut: 3,
      lateDropped: 1,
      watermark: 100,
      stateSize: 7,
      finished: true,
      checkpoints: 2,
      lastCheckpoint: 1,
      ...x,
    });
    expect(mergeProgress([p({}), p({ rounds: 6, watermark: 90, finished: false, checkpoints: 1, lastCheckpoint: 0 })])).toEqual({
      rounds: 6,
      recordsIn: 20,
      recordsOut: 6,
      lateDropped: 2,
      watermark: 90,
      stateSize: 14,
      finished: false,
      checkpoints: 1,
      lastCheckpoint: 0,
    });
  });

  it("a snapshot the main thread could not complete fails the thread with a checkpoint error, retriable as the main thread found it", async () => {
    // Our own ControlPort interface, answered in memory: what the main thread sends is what is tested.
    let listener: (m: ToRunThread) => void = () => undefined;
    const sent: FromRunThread[] = [];
    const control: ControlPort = {
      postMessage: (m) => sent.push(m),
      on: (_event, l) => (listener = l),
    };
    const peers = portPeers({ thread: 0, ports: [undefined], ownerOf: () => 0, replicated: new Set(), control, roundExtras: () => ({}) as never });
    const part = meta({});
    for (const retriable of [true, false]) {
      const completing = peers.completeSnapshot("/ckpt/chk-4", part);
      expect(sent.at(-1)).toMatchObject({ type: "snapshot", dir: "/ckpt/chk-4" });
      listener({ type: "snapshotFailed", dir: "/ckpt/chk-4", message: "ENOSPC: no space left on device", retriable });
      const err: unknown = await completing.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).retriable).toBe(retriable);
      expect((err as Error).message).toContain("ENOSPC");
    }
  });

  it("agrees on a round only once every thread reported it, whichever thread ran ahead", () => {
    // A thread without sources ends its rounds sooner and reports two before the other reports one:
    // taking any two reports as a round would see every source done while one thread still reads.
    const reports = roundReports<string>(2);
    expect(reports.add(1, "t1 r1 done")).toBeUndefined();
    expect(reports.add(1, "t1 r2 done")).toBeUndefined();
    expect(reports.add(0, "t0 r1 reading")).toEqual(["t0 r1 reading", "t1 r1 done"]);
    expect(reports.next()).toBeUndefined();
    expect(reports.add(0, "t0 r2 reading")).toEqual(["t0 r2 reading", "t1 r2 done"]);
  });
});
