/**
 * What each Nexmark query must return, computed in plain JS from the same generator (never through
 * the runtime), and an order-independent digest to compare it with what a query wrote: the count
 * and two sums of hashes of each record's JSON, so millions of results compare without keeping them.
 */
import type { Sink } from "../../runtime/api/index.ts";
import { NEXMARK_DEFAULTS, nexmarkEvent, type Bid } from "./model.ts";
import { q5Hand } from "./q5-hand.ts";

/** A bag of records as a count and two sums of 32-bit hashes (FNV-1a and a multiplicative one) of their JSON. */
export class Digest {
  count = 0;
  private a = 0;
  private b = 0;

  /** Adds one record. */
  add(record: unknown): void {
    const text = JSON.stringify(record);
    let h1 = 0x811c9dc5;
    let h2 = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = (Math.imul(h2, 31) + c) >>> 0;
    }
    this.count++;
    this.a = (this.a + h1) % 2 ** 48;
    this.b = (this.b + h2) % 2 ** 48;
  }

  /** True when both digests saw the same bag. */
  equals(other: Digest): boolean {
    return this.count === other.count && this.a === other.a && this.b === other.b;
  }
}

/** A sink feeding a digest, each record normalised first. */
export function digestSink(digest: Digest, normalise: (r: unknown) => unknown = (r) => r): Sink<unknown> {
  return {
    name: "digest",
    async open() {
      return { write: (r: unknown) => digest.add(normalise(r)), flush: async () => {}, close: async () => {} };
    },
  };
}

/** Per query, how a result is normalised before digesting (q5's tied auctions come in any order). */
export const NORMALISE: Record<string, (r: unknown) => unknown> = {
  q5: (r) => {
    const x = r as { end: number; max: number; auctions: number[] };
    return { end: x.end, max: x.max, auctions: [...x.auctions].sort((p, q) => p - q) };
  },
};

const STATE_SET = new Set(["OR", "ID", "CA"]);

/** The expected results of `query` over `events` events (the generator's defaults), as a digest. */
export function referenceDigest(query: string, events: number): Digest {
  const d = new Digest();
  const add = (r: unknown): void => d.add((NORMALISE[query] ?? ((x: unknown) => x))(r));
  const each = (f: (e: ReturnType<typeof nexmarkEvent>) => void): void => {
    for (let n = 0; n < events; n++) f(nexmarkEvent(n, NEXMARK_DEFAULTS));
  };
  switch (query) {
    case "q0":
      each((e) => e.type === "bid" && add({ auction: e.auction, bidder: e.bidder, price: e.price, dateTime: e.dateTime }));
      break;
    case "q1":
      each((e) => e.type === "bid" && add({ auction: e.auction, bidder: e.bidder, price: Math.round(e.price * 0.908), dateTime: e.dateTime }));
      break;
    case "q2":
      each((e) => e.type === "bid" && e.auction % 123 === 0 && add({ auction: e.auction, price: e.price }));
      break;
    case "q3": {
      // Every category-10 auction whose seller is a person from OR, ID or CA, whichever came first.
      const persons = new Map<number, { name: string; city: string; state: string }>();
      const auctions: { id: number; seller: number }[] = [];
      each((e) => {
        if (e.type === "person" && STATE_SET.has(e.state)) persons.set(e.id, { name: e.name, city: e.city, state: e.state });
        if (e.type === "auction" && e.category === 10) auctions.push({ id: e.id, seller: e.seller });
      });
      for (const a of auctions) {
        const p = persons.get(a.seller);
        if (p) add({ ...p, id: a.id });
      }
      break;
    }
    case "q5":
      q5Hand({ events, onResult: add });
      break;
    case "q7": {
      // Every bid at the highest price of its 10 s tumbling window (Nexmark's definition).
      const windows = new Map<number, { max: number; bids: Bid[] }>();
      each((e) => {
        if (e.type !== "bid") return;
        const end = e.dateTime - (e.dateTime % 10_000) + 10_000;
        const w = windows.get(end) ?? { max: -1, bids: [] };
        windows.set(end, w);
        if (e.price > w.max) {
          w.max = e.price;
          w.bids = [e];
        } else if (e.price === w.max) w.bids.push(e);
      });
      for (const [end, w] of windows)
        for (const b of w.bids) add({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, windowEnd: end });
      break;
    }
    case "q8": {
      // Persons who opened an auction in the 10 s window in which they registered.
      const start = (ts: number): number => ts - (ts % 10_000);
      const registered = new Map<string, { id: number; name: string; start: number }>();
      const sold = new Set<string>();
      each((e) => {
        if (e.type === "person") registered.set(`${e.id}@${start(e.dateTime)}`, { id: e.id, name: e.name, start: start(e.dateTime) });
        if (e.type === "auction") sold.add(`${e.seller}@${start(e.dateTime)}`);
      });
      for (const [k, p] of registered) if (sold.has(k)) add(p);
      break;
    }
    default:
      throw new Error(`no reference for ${query}`);
  }
  return d;
}
