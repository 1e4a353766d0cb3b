import { describe, expect, it } from "vitest";
import { collectionSource, collectSink, count, job, tumbling } from "../../../runtime/api/index.ts";
import { ev, runToEnd, type Ev } from "./helpers.ts";

describe("engine smoke", () => {
  it("counts per key in tumbling windows across two partitions", async () => {
    const out = collectSink<{ k: string; end: number; n: number }>();
    const j = job("smoke");
    j.source(
      collectionSource<Ev>({
        partitions: [
          [ev("a", 1), ev("b", 2), ev("a", 12)],
          [ev("a", 5), ev("b", 15)],
        ],
      }),
      {
        watermarks: { timestamp: (e) => e.t },
      },
    )
      .map((e) => ({ ...e, v: e.v * 2 }))
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .aggregate(count<Ev>(), (n, { key, window }) => ({ k: key, end: window.end, n }))
      .sink(out);
    const p = await runToEnd(j.build());
    expect(p.recordsIn).toBe(5);
    const got = out.values().sort((x, y) => x.k.localeCompare(y.k) || x.end - y.end);
    expect(got).toEqual([
      { k: "a", end: 10, n: 2 },
      { k: "a", end: 20, n: 1 },
      { k: "b", end: 10, n: 1 },
      { k: "b", end: 20, n: 1 },
    ]);
  });
});
