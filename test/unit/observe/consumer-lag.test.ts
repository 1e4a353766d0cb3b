// Consumer lag: end offset minus the reading task's position, per partition. End offsets are
// fetched at most every refreshMs and cached; a failed or slow fetch answers from the cache.
import { describe, expect, it } from "vitest";
import { ConsumerLag, type EndOffsets, type PartitionEnd, type PartitionPosition } from "../../../runtime/observe/consumer-lag.ts";

/** End offsets served from a table the test edits; records every fetch's topics. */
function fakeEnds(initial: PartitionEnd[]): { endOffsets: EndOffsets; ends: PartitionEnd[]; calls: string[][]; fail: string | undefined; hang: boolean } {
  const fake = {
    ends: initial,
    calls: [] as string[][],
    fail: undefined as string | undefined,
    hang: false,
    endOffsets: async (topics: string[]): Promise<PartitionEnd[]> => {
      fake.calls.push(topics);
      if (fake.hang) return new Promise<PartitionEnd[]>(() => undefined);
      if (fake.fail !== undefined) throw new Error(fake.fail);
      return fake.ends.filter((e) => topics.includes(e.topic)).map((e) => ({ ...e }));
    },
  };
  return fake;
}

describe("consumer lag", () => {
  it("is the end offset minus the position, per partition read", async () => {
    const ends = fakeEnds([
      { topic: "orders", partition: 0, end: 100 },
      { topic: "orders", partition: 1, end: 50 },
      { topic: "orders", partition: 2, end: 70 },
      { topic: "users", partition: 0, end: 10 },
    ]);
    const positions: PartitionPosition[] = [
      { topic: "orders", partition: 0, position: 40 },
      { topic: "orders", partition: 2, position: 70 },
      { topic: "users", partition: 0, position: 3 },
      { topic: "users", partition: 1, position: 0 }, // no end offset known: left out
    ];
    const lag = new ConsumerLag({ positions: () => positions, endOffsets: ends.endOffsets });
    expect(await lag.read()).toEqual([
      { topic: "orders", partition: 0, lag: 60 },
      { topic: "orders", partition: 2, lag: 0 },
      { topic: "users", partition: 0, lag: 7 },
    ]);
    expect(ends.calls).toEqual([["orders", "users"]]);
  });

  it("fetches end offsets at most every refreshMs and reads positions every time", async () => {
    let now = 1_000;
    const ends = fakeEnds([{ topic: "t", partition: 0, end: 100 }]);
    const position = { topic: "t", partition: 0, position: 10 };
    const lag = new ConsumerLag({ positions: () => [position], endOffsets: ends.endOffsets, refreshMs: 5_000, now: () => now });
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 90 }]);
    position.position = 60;
    ends.ends = [{ topic: "t", partition: 0, end: 200 }];
    now += 4_999;
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 40 }]); // cached end, fresh position
    expect(lag.fetchCount).toBe(1);
    now += 1;
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 140 }]);
    expect(lag.fetchCount).toBe(2);
  });

  it("never reports a negative lag (a position read after the end offset was fetched)", async () => {
    const lag = new ConsumerLag({
      positions: () => [{ topic: "t", partition: 0, position: 120 }],
      endOffsets: fakeEnds([{ topic: "t", partition: 0, end: 100 }]).endOffsets,
    });
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 0 }]);
  });

  it("keeps the last end offsets when a fetch fails, and says why", async () => {
    let now = 0;
    const ends = fakeEnds([{ topic: "t", partition: 0, end: 30 }]);
    const lag = new ConsumerLag({
      positions: () => [{ topic: "t", partition: 0, position: 10 }],
      endOffsets: ends.endOffsets,
      refreshMs: 1_000,
      now: () => now,
    });
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 20 }]);
    ends.fail = "broker unreachable";
    now += 1_000;
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 20 }]);
    expect(lag.lastError).toBe("broker unreachable");
    ends.fail = undefined;
    ends.ends = [{ topic: "t", partition: 0, end: 15 }];
    now += 1_000;
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 5 }]);
    expect(lag.lastError).toBeUndefined();
  });

  it("answers from the cache after waitMs when a fetch hangs, without starting another", async () => {
    let now = 0;
    const ends = fakeEnds([{ topic: "t", partition: 0, end: 30 }]);
    const lag = new ConsumerLag({
      positions: () => [{ topic: "t", partition: 0, position: 10 }],
      endOffsets: ends.endOffsets,
      refreshMs: 1_000,
      waitMs: 20,
      now: () => now,
    });
    await lag.read();
    ends.hang = true;
    now += 5_000;
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 20 }]);
    now += 5_000;
    expect(await lag.read()).toEqual([{ topic: "t", partition: 0, lag: 20 }]);
    expect(ends.calls.length).toBe(2); // the hung fetch is still the one in flight
  });

  it("does not fetch while nothing is read yet", async () => {
    const ends = fakeEnds([]);
    const lag = new ConsumerLag({ positions: () => [], endOffsets: ends.endOffsets });
    expect(await lag.read()).toEqual([]);
    expect(ends.calls).toEqual([]);
  });
});
