/** Nexmark queries q0, q1, q2, q3, q5, q7, q8 on the Runnel typed API. */
import { job, sliding, tumbling, type Sink, type WindowInfo } from "../../runtime/api/index.ts";
import type { JobGraph } from "../../runtime/graph/graph.ts";
import type { Source } from "../../runtime/connectors/types.ts";
import type { Auction, Bid, NexmarkEvent, Person } from "./model.ts";

const isBid = (e: NexmarkEvent): e is Bid => e.type === "bid";
const isAuction = (e: NexmarkEvent): e is Auction => e.type === "auction";
const isPerson = (e: NexmarkEvent): e is Person => e.type === "person";

/** Builds one query's job from a source and a sink. */
export type QueryBuilder = (source: Source<NexmarkEvent>, sink: Sink<unknown>) => JobGraph;

function events(name: string, source: Source<NexmarkEvent>) {
  const j = job(name);
  return { j, s: j.source(source, { watermarks: { timestamp: (e) => e.dateTime, maxOutOfOrdernessMs: 0 } }) };
}

/** q0: pass-through of bids (measures the engine's own overhead). */
export const q0: QueryBuilder = (source, sink) => {
  const { j, s } = events("q0", source);
  s.filter(isBid)
    .map((b) => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime }))
    .sink(sink);
  return j.build();
};

/** q1: currency conversion of bid prices (dollars to euros). */
export const q1: QueryBuilder = (source, sink) => {
  const { j, s } = events("q1", source);
  s.filter(isBid)
    .map((b) => ({ auction: b.auction, bidder: b.bidder, price: Math.round(b.price * 0.908), dateTime: b.dateTime }))
    .sink(sink);
  return j.build();
};

/** q2: bids on a sample of auctions. */
export const q2: QueryBuilder = (source, sink) => {
  const { j, s } = events("q2", source);
  s.filter((e) => isBid(e) && e.auction % 123 === 0)
    .map((e) => ({ auction: (e as Bid).auction, price: (e as Bid).price }))
    .sink(sink);
  return j.build();
};

/** q3: local item suggestion: sellers in OR/ID/CA joined with their category-10 auctions. */
export const q3: QueryBuilder = (source, sink) => {
  const { j, s } = events("q3", source);
  const persons = s.filter((e): e is Person => isPerson(e) && (e.state === "OR" || e.state === "ID" || e.state === "CA"));
  const auctions = s.filter((e): e is Auction => isAuction(e) && e.category === 10);
  persons
    .keyBy((p) => p.id)
    .connect(auctions.keyBy((a) => a.seller))
    .process((rt) => {
      const person = rt.valueState<{ name: string; city: string; state: string }>({ name: "person" });
      const pending = rt.listState<number>({ name: "pending" });
      return {
        processElement1(p, _ctx, out) {
          person.update({ name: p.name, city: p.city, state: p.state });
          for (const id of pending.get()) out.collect({ name: p.name, city: p.city, state: p.state, id });
          pending.clear();
        },
        processElement2(a, _ctx, out) {
          const p = person.value();
          if (p) out.collect({ ...p, id: a.id });
          else pending.add(a.id);
        },
      };
    })
    .sink(sink);
  return j.build();
};

/** q5: hot items: the auctions with the most bids in each 10 s window sliding every 2 s. */
export const q5: QueryBuilder = (source, sink) => {
  const { j, s } = events("q5", source);
  s.filter(isBid)
    .keyBy((b) => b.auction)
    .window(sliding({ sizeMs: 10_000, slideMs: 2_000 }))
    .aggregate(
      { createAccumulator: () => 0, add: (_b: Bid, n: number) => n + 1, getResult: (n: number) => n, merge: (a: number, b: number) => a + b },
      (n, i: WindowInfo<number>) => ({ auction: i.key, end: i.window.end, n }),
    )
    .keyBy((c) => c.end)
    .window(tumbling({ sizeMs: 2_000 }))
    .aggregate(
      {
        createAccumulator: () => ({ max: 0, auctions: [] as number[] }),
        add(c: { auction: number; n: number }, acc: { max: number; auctions: number[] }) {
          if (c.n > acc.max) {
            acc.max = c.n;
            acc.auctions = [c.auction];
          } else if (c.n === acc.max) acc.auctions.push(c.auction);
          return acc;
        },
        getResult: (acc: { max: number; auctions: number[] }) => acc,
        merge: (a: { max: number; auctions: number[] }) => a,
      },
      (r, i) => ({ end: i.key, max: r.max, auctions: r.auctions }),
    )
    .sink(sink);
  return j.build();
};

/** q7: highest bid — every bid at the highest price of its 10 s tumbling window (as Nexmark defines it). */
export const q7: QueryBuilder = (source, sink) => {
  const { j, s } = events("q7", source);
  type Top = { max: number; bids: Bid[] };
  s.filter(isBid)
    .keyBy(() => 0)
    .window(tumbling({ sizeMs: 10_000 }))
    .aggregate(
      {
        createAccumulator: (): Top => ({ max: -1, bids: [] }),
        add(b: Bid, acc: Top) {
          if (b.price > acc.max) {
            acc.max = b.price;
            acc.bids = [b];
          } else if (b.price === acc.max) acc.bids.push(b);
          return acc;
        },
        getResult: (acc: Top) => acc,
        merge: (a: Top) => a,
      },
      (top, i) => top.bids.map((b) => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, windowEnd: i.window.end })),
    )
    .flatMap((bids: { auction: number; bidder: number; price: number; dateTime: number; windowEnd: number }[], out) => {
      for (const b of bids) out.collect(b);
    })
    .sink(sink);
  return j.build();
};

/** q8: people who created an auction in the same 10 s window in which they registered. */
export const q8: QueryBuilder = (source, sink) => {
  const { j, s } = events("q8", source);
  const size = 10_000;
  const start = (ts: number) => ts - (ts % size);
  s.filter(isPerson)
    .keyBy((p) => p.id)
    .connect(s.filter(isAuction).keyBy((a) => a.seller))
    .process((rt) => {
      const person = rt.mapState<number, string>({ name: "person" }); // window start -> name
      const sold = rt.mapState<number, boolean>({ name: "sold" }); // window start -> seen
      return {
        processElement1(p, ctx) {
          person.put(start(p.dateTime), p.name);
          ctx.timerService().registerEventTimeTimer(start(p.dateTime) + size - 1);
        },
        processElement2(a, ctx) {
          sold.put(start(a.dateTime), true);
          ctx.timerService().registerEventTimeTimer(start(a.dateTime) + size - 1);
        },
        onTimer(ts, ctx, out) {
          const w = ts + 1 - size;
          const name = person.get(w);
          if (name !== undefined && sold.has(w)) out.collect({ id: ctx.key(), name, start: w });
          person.remove(w);
          sold.remove(w);
        },
      };
    })
    .sink(sink);
  return j.build();
};

/** Every query by name. */
export const queries: Record<string, QueryBuilder> = { q0, q1, q2, q3, q5, q7, q8 };
