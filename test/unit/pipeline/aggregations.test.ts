/** Window and over aggregations: plain counts keep one number, and the CEL key survives every path. */
import { describe, expect, it } from "vitest";
import { aggregateFunction } from "../../../runtime/pipeline/aggregations.ts";
import { KEY } from "../../../runtime/pipeline/values.ts";

const noError = (err: unknown): void => {
  throw err;
};
const keyed = (key: unknown): Record<string | symbol, unknown> => ({ [KEY]: key, amount: 2.5 });

describe("aggregations", () => {
  it("counts as one number when the key is its own partition key, handing the key back to the window", () => {
    const agg = aggregateFunction(
      [
        { name: "n", fn: "count" },
        { name: "m", fn: "count" },
      ],
      ".a",
      noError,
    );
    let acc = agg.createAccumulator();
    for (let i = 0; i < 3; i++) acc = agg.add(keyed("user-1"), acc);
    expect(acc).toBe(3);
    expect(agg.getResult(acc)).toEqual({ key: undefined, values: { n: 3n, m: 3n } });
    expect(agg.getResult(agg.merge(acc, agg.add(keyed("user-1"), agg.createAccumulator())))).toEqual({ key: undefined, values: { n: 4n, m: 4n } });
  });

  it("keeps a CEL int key (and -0) beside the count, as the partition key would lose it", () => {
    const agg = aggregateFunction([{ name: "n", fn: "count" }], ".a", noError);
    for (const key of [7n, -0, ["a", 1n]]) {
      let acc = agg.createAccumulator();
      acc = agg.add(keyed(key), acc);
      acc = agg.add(keyed(key), acc);
      expect(agg.getResult(acc)).toEqual({ key, values: { n: 2n } });
      expect(Object.is(agg.getResult(acc).key, key)).toBe(true);
      // A merge with a window that kept no key (a number) keeps the key.
      expect(agg.getResult(agg.merge(acc, 1))).toEqual({ key, values: { n: 3n } });
      expect(agg.getResult(agg.merge(1, acc))).toEqual({ key, values: { n: 3n } });
    }
  });

  it("restores [key, count] accumulators of earlier savepoints", () => {
    const agg = aggregateFunction([{ name: "n", fn: "count" }], ".a", noError);
    const acc = agg.add(keyed("user-1"), ["user-1", 5]);
    expect(agg.getResult(acc)).toEqual({ key: "user-1", values: { n: 6n } });
  });

  it("keeps one slot per aggregation and the key otherwise", () => {
    const agg = aggregateFunction(
      [
        { name: "n", fn: "count" },
        { name: "total", fn: "sum", of: "record.amount" },
      ],
      ".a",
      noError,
    );
    let acc = agg.createAccumulator();
    acc = agg.add(keyed(7n), acc);
    acc = agg.add(keyed(7n), acc);
    expect(agg.getResult(acc)).toEqual({ key: 7n, values: { n: 2n, total: 5 } });
  });

  it("ranks topN ties by the value, so any arrival order gives the same list", () => {
    const agg = aggregateFunction([{ name: "top", fn: "topN", of: "record.tag", by: "record.w", limit: 3 }], ".a", noError);
    const rows = [
      { tag: "shoes", w: 2 },
      { tag: "books", w: 5 },
      { tag: "garden", w: 2 },
      { tag: "phones", w: 2 },
      { tag: "toys", w: 1 },
    ];
    const results = [rows, [...rows].reverse(), [rows[3], rows[0], rows[4], rows[2], rows[1]]].map((order) => {
      let acc = agg.createAccumulator();
      for (const r of order) acc = agg.add({ ...r, [KEY]: "u1" }, acc);
      return agg.getResult(acc).values.top;
    });
    expect(results).toEqual([
      ["books", "garden", "phones"],
      ["books", "garden", "phones"],
      ["books", "garden", "phones"],
    ]);
  });
});
