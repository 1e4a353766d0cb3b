/**
 * q5 hand-written in plain JS, the in-process reference: the same generator, one loop, a Map
 * of counts per (window end, auction), results when event time passes a window's end.
 */
import { NEXMARK_DEFAULTS, nexmarkEvent } from "./model.ts";

/** Runs q5 over `events` events; returns the number of results (hot-item lists). */
export function q5Hand(options: {
  events: number;
  rate?: number;
  seed?: number;
  onResult?: (r: { end: number; max: number; auctions: number[] }) => void;
}): number {
  const cfg = { rate: options.rate ?? NEXMARK_DEFAULTS.rate, base: NEXMARK_DEFAULTS.base, seed: options.seed ?? NEXMARK_DEFAULTS.seed };
  const size = 10_000;
  const slide = 2_000;
  const windows = new Map<number, Map<number, number>>(); // window end -> auction -> count
  let results = 0;
  let nextEnd = Number.POSITIVE_INFINITY;
  const fire = (upTo: number): void => {
    for (const end of [...windows.keys()].sort((a, b) => a - b)) {
      if (end - 1 > upTo) break;
      const counts = windows.get(end) as Map<number, number>;
      windows.delete(end);
      let max = 0;
      let auctions: number[] = [];
      for (const [a, n] of counts) {
        if (n > max) {
          max = n;
          auctions = [a];
        } else if (n === max) auctions.push(a);
      }
      results++;
      options.onResult?.({ end, max, auctions });
    }
    nextEnd = windows.size === 0 ? Number.POSITIVE_INFINITY : Math.min(...windows.keys());
  };
  for (let n = 0; n < options.events; n++) {
    const e = nexmarkEvent(n, cfg);
    if (e.dateTime - 1 >= nextEnd - 1) fire(e.dateTime - 1);
    if (e.type !== "bid") continue;
    const ts = e.dateTime;
    for (let start = ts - (ts % slide); start > ts - size; start -= slide) {
      const end = start + size;
      let counts = windows.get(end);
      if (counts === undefined) {
        counts = new Map();
        windows.set(end, counts);
        if (end < nextEnd) nextEnd = end;
      }
      counts.set(e.auction, (counts.get(e.auction) ?? 0) + 1);
    }
  }
  fire(Number.POSITIVE_INFINITY);
  return results;
}
