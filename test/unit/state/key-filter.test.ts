/** The store-key filter (ADR 39): never a false "no", few false "maybe"s, saturated counters stay. */
import { describe, expect, it } from "vitest";
import { StoreKeyFilter, tableSeed } from "../../../runtime/state/key-filter.ts";

describe("the store-key filter", () => {
  const seed = tableSeed("op\u0000n\u0000");

  it("holds every key added and not removed, and forgets most of those removed", () => {
    const filter = new StoreKeyFilter(1 << 20);
    const keys = [...Array.from({ length: 20_000 }, (_, i) => i * 7 - 5_000), ...Array.from({ length: 20_000 }, (_, i) => `user-${i}`), 0.5, 2 ** 40];
    for (const k of keys) filter.add(seed, k);
    for (const k of keys) expect(filter.mayHold(seed, k)).toBe(true);
    const removed = keys.filter((_, i) => i % 2 === 0);
    for (const k of removed) filter.remove(seed, k);
    for (const [i, k] of keys.entries()) if (i % 2 === 1) expect(filter.mayHold(seed, k)).toBe(true);
    const stillMaybe = removed.filter((k) => filter.mayHold(seed, k)).length;
    expect(stillMaybe / removed.length).toBeLessThan(0.01);
  });

  it("keeps apart tables and the number and string forms of a key, up to false maybes", () => {
    const filter = new StoreKeyFilter(1 << 20);
    for (let i = 0; i < 1000; i++) filter.add(seed, i);
    const other = tableSeed("op\u0000m\u0000");
    const elsewhere = Array.from({ length: 1000 }, (_, i) => i).filter((i) => filter.mayHold(other, i) || filter.mayHold(seed, String(i)));
    expect(elsewhere.length).toBeLessThan(10);
  });

  it("never forgets a key whose counters saturated", () => {
    const filter = new StoreKeyFilter(1024);
    for (let i = 0; i < 300; i++) filter.add(seed, "hot");
    for (let i = 0; i < 300; i++) filter.remove(seed, "hot");
    expect(filter.mayHold(seed, "hot")).toBe(true);
  });
});
