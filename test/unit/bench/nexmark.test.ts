/** The Nexmark benchmark computes the right thing: every query equals its plain-JS reference (q5 window by window). */
import { describe, expect, it } from "vitest";
import { collectionSource, collectSink } from "../../../runtime/connectors/memory.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { nexmarkEvent, nexmarkSource, type NexmarkEvent } from "../../../bench/nexmark/model.ts";
import { q5Hand } from "../../../bench/nexmark/q5-hand.ts";
import { queries } from "../../../bench/nexmark/queries.ts";
import { Digest, digestSink, NORMALISE, referenceDigest } from "../../../bench/nexmark/reference.ts";

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

  it.each(Object.keys(queries))("%s on the runtime (two partitions) equals its plain-JS reference", async (q) => {
    // 2.5 s of event time at the generator's rate (the reference's): q5 fires a few windows, q7 one.
    const events = 250_000;
    const digest = new Digest();
    await createEngine({
      graph: (queries[q] as NonNullable<typeof queries.q0>)(nexmarkSource({ events, partitions: 2 }), digestSink(digest, NORMALISE[q])),
    }).run();
    const reference = referenceDigest(q, events);
    expect(digest.count).toBeGreaterThan(0);
    expect({ count: digest.count, equal: digest.equals(reference) }).toEqual({ count: reference.count, equal: true });
  });

  it("q7 returns every bid at its window's highest price, ties included", async () => {
    const bid = (auction: number, price: number, dateTime: number) => ({ type: "bid" as const, auction, bidder: 1, price, channel: "Apple", dateTime });
    const source = collectionSource<NexmarkEvent>({
      partitions: [[bid(1, 50, 1000), bid(2, 90, 2000), bid(3, 90, 3000), bid(4, 10, 9000), bid(5, 70, 12_000), bid(6, 20, 15_000)]],
    });
    const sink = collectSink<{ auction: number; price: number; windowEnd: number }>();
    await createEngine({ graph: (queries.q7 as NonNullable<typeof queries.q7>)(source, sink) }).run();
    expect(
      sink
        .values()
        .map((r) => [r.windowEnd, r.auction, r.price])
        .sort(),
    ).toEqual([
      [10_000, 2, 90],
      [10_000, 3, 90],
      [20_000, 5, 70],
    ]);
  });

  it("a digest tells bags apart by any field and ignores order", () => {
    const a = new Digest();
    const b = new Digest();
    const c = new Digest();
    for (const r of [{ x: 1 }, { x: 2 }]) a.add(r);
    for (const r of [{ x: 2 }, { x: 1 }]) b.add(r);
    for (const r of [{ x: 1 }, { x: 3 }]) c.add(r);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });
});
