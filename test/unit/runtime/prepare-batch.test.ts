/** The engine's per-batch hook for lookups: a keyed function sees each micro-batch before its records. */
import { describe, expect, it } from "vitest";
import { collectSink, collectionSource, job, type KeyedProcessFunction } from "../../../runtime/api/index.ts";
import { ev, evTime, runToEnd, type Ev } from "./helpers.ts";

describe("prepareBatch", () => {
  it("is awaited once per micro-batch of each task, with that batch's values, before they are processed", async () => {
    const log: string[] = [];
    let closed = 0;
    const out = collectSink<string>();
    const j = job("prepare", { parallelism: 2 });
    const events = [ev("a", 1), ev("b", 2), ev("c", 3), ev("d", 4), ev("e", 5)];
    j.source(collectionSource({ partitions: [events] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .process((): KeyedProcessFunction<string, Ev, string> => {
        let prepared = new Set<string>();
        return {
          async prepareBatch(values, count) {
            await new Promise((r) => setTimeout(r, 1));
            prepared = new Set(values.slice(0, count).map((e) => e.k));
            log.push(`batch ${[...prepared].sort().join("")}`);
          },
          processElement(e, _c, o) {
            // Every record was part of the batch prepared just before it.
            o.collect(`${e.k} ${prepared.has(e.k) ? "prepared" : "NOT prepared"}`);
          },
          async close() {
            closed++;
          },
        };
      })
      .sink(out);
    await runToEnd(j.build(), { batchSize: 2 });
    expect(out.values().sort()).toEqual(["a prepared", "b prepared", "c prepared", "d prepared", "e prepared"]);
    // Three source batches (2, 2, 1 records), each split over the tasks that got records of it.
    const keysPrepared = log.map((l) => l.slice(6)).join("");
    expect([...keysPrepared].sort().join("")).toBe("abcde");
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(log.length).toBeLessThanOrEqual(6);
    expect(closed).toBe(2);
  });
});
