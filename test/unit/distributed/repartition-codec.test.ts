/**
 * Records on repartition topics: the compact form for plain records, V8's for the rest, registered
 * symbols carried, old bytes readable; and the writer sends only what a checkpoint flushes.
 */
import { serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import type { OutgoingMessage } from "../../../runtime/connectors/types.ts";
import { decodeRecord, encodeRecord } from "../../../runtime/exec/record-codec.ts";
import { repartitionSink } from "../../../runtime/distributed/repartition.ts";

const KEY = Symbol.for("runnel.key");
const ORIGIN = Symbol.for("runnel.origin");

describe("repartition record bytes", () => {
  it.each([
    ["a JSON record", { user: "u-1", ts: 1_700_000_000_123, n: 42, price: 9.99, tags: ["a"], geo: { lat: 1.5, ok: true, none: null } }],
    ["a number", 7],
    ["a string", "plain"],
    ["null", null],
    ["a tuple with a Set", [1, new Set(["a", "b"])]],
  ])("round-trips %s in the compact form", (_name, v) => {
    const bytes = encodeRecord(v);
    expect(bytes[0]).toBe(1);
    expect(decodeRecord(bytes)).toStrictEqual(structuredClone(v));
  });

  it("carries registered-symbol properties (the pipeline's key) and only the coordinates of an origin", () => {
    const rec: Record<string | symbol, unknown> = { a: 1 };
    rec[KEY] = ["k", 2];
    rec[ORIGIN] = { topic: "in", partition: 3, offset: "17", key: Buffer.from("raw"), value: Buffer.from("big") };
    rec[Symbol("private")] = "dropped";
    const back = decodeRecord(encodeRecord(rec)) as Record<string | symbol, unknown>;
    expect(back.a).toBe(1);
    expect(back[KEY]).toEqual(["k", 2]);
    expect(back[ORIGIN]).toEqual({ topic: "in", partition: 3, offset: "17", key: undefined, value: undefined });
    expect(Object.getOwnPropertySymbols(back)).toHaveLength(2);
  });

  it("sends what the compact form cannot hold through V8's serialiser, symbols included", () => {
    const rec: Record<string | symbol, unknown> = { at: new Date(5), big: 10n };
    rec[KEY] = "k";
    const bytes = encodeRecord(rec);
    expect(bytes[0]).toBe(0xff);
    const back = decodeRecord(bytes) as Record<string | symbol, unknown>;
    expect(back.at).toEqual(new Date(5));
    expect(back.big).toBe(10n);
    expect(back[KEY]).toBe("k");
  });

  it("reads records the previous version wrote (V8's serialisation of { v, s })", () => {
    expect(decodeRecord(serialize({ v: { n: 1 } }))).toEqual({ n: 1 });
    const back = decodeRecord(serialize({ v: { n: 2 }, s: [["runnel.key", "x"]] })) as Record<string | symbol, unknown>;
    expect(back[KEY]).toBe("x");
  });

  it("sends nothing when it closes after the last checkpoint's flush, not even a watermark marker that came due", async () => {
    const sent: OutgoingMessage[][] = [];
    const sink = repartitionSink({ topic: "rp", parallelism: 2, key: (v) => String(v), markerIntervalMs: 60_000 });
    const writer = await sink.open({ operatorUid: "by-user", taskIndex: 0, parallelism: 2, transaction: { send: async (_t, m) => void sent.push(m) } });
    writer.write("a", 1);
    writer.onWatermarkStatus?.(5, false);
    await writer.flush(); // the checkpoint's flush: the record and the first marker (one per partition)
    expect(sent.map((m) => m.length)).toEqual([3]);
    writer.write("b", 2); // nothing writes after the last checkpoint; if something did, it is not committed either
    writer.onWatermarkStatus?.(9, true); // an idleness change is due at once
    await writer.close();
    expect(sent.map((m) => m.length)).toEqual([3]);
  });
});
