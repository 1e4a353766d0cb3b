/** The Nexmark benchmark computes the right thing: runtime q5 equals the hand-written q5. */
import { describe, expect, it } from "vitest";
import { collectSink } from "../../../runtime/connectors/memory.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { nexmarkEvent, nexmarkSource } from "../../../bench/nexmark/model.ts";
import { q5Hand } from "../../../bench/nexmark/q5-hand.ts";
import { queries } from "../../../bench/nexmark/queries.ts";

type Hot = { end: number; max: number; auctions: number[] };

describe("nexmark", () => {
  it("generates persons, auctions and bids in the ratio 1 : 3 : 46", () => {
    const kinds = { person: 0, auction: 0, bid: 0 };
    for (let n = 0; n < 5000; n++) kinds[nexmarkEvent(n, { rate: 1000, base: 0, seed: 1 }).type]++;
    expect(kinds).toEqual({ person: 100, auction: 300, bid: 4600 });
  });

  it("q5 on the runtime gives the hand-written q5's hot items, window by window", async () => {
    const events = 300_000;
    const expected: Hot[] = [];
    q5Hand({ events, onResult: (r) => expected.push({ ...r, auctions: [...r.auctions].sort((a, b) => a - b) }) });
    const sink = collectSink<Hot>();
    await createEngine({ graph: (queries.q5 as NonNullable<typeof queries.q5>)(nexmarkSource({ events, partitions: 2 }), sink) }).run();
    const got = sink.values().map((r) => ({ ...r, auctions: [...r.auctions].sort((a, b) => a - b) }));
    got.sort((a, b) => a.end - b.end);
    expect(expected.length).toBeGreaterThan(5);
    expect(got).toEqual(expected);
  });
});
