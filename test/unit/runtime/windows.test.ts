/** Window semantics against Flink's documented behaviour. */
import { describe, expect, it } from "vitest";
import {
  collectSink,
  collectionSource,
  count,
  job,
  outputTag,
  queueSource,
  session,
  sliding,
  sum,
  tumbling,
  type Collector,
  type WindowInfo,
} from "../../../runtime/api/index.ts";
import { windowStart } from "../../../runtime/window/assigners.ts";
import { ev, evTime, runToEnd, stepper, type Ev } from "./helpers.ts";

type Res = { k: string; start: number; end: number; n: number };
const shape = (n: number, { key, window }: WindowInfo<string>): Res => ({ k: key, start: window.start, end: window.end, n });

describe("window assignment", () => {
  it("aligns tumbling windows to epoch plus offset (UTC+8 calendar days)", () => {
    const day = 86_400_000;
    const t = Date.UTC(2024, 0, 1, 20, 0); // 04:00 on Jan 2 in UTC+8
    expect(windowStart(t, day, -8 * 3_600_000)).toBe(Date.UTC(2024, 0, 1, 16, 0));
    expect(windowStart(t, day, 0)).toBe(Date.UTC(2024, 0, 1));
    expect(windowStart(-1, 10, 0)).toBe(-10);
  });

  it("groups records into calendar days of UTC+8 with an offset tumbling window", async () => {
    const day = 86_400_000;
    const out = collectSink<Res>();
    const at = (h: number) => Date.UTC(2024, 0, 1, h); // hours of Jan 1 UTC
    const j = job("offset");
    j.source(collectionSource({ partitions: [[ev("a", at(10)), ev("a", at(15)), ev("a", at(16)), ev("a", at(23))]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: day, offsetMs: -8 * 3_600_000 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    await runToEnd(j.build());
    // 16:00 UTC is midnight in UTC+8: the day boundary.
    expect(out.values()).toEqual([
      { k: "a", start: Date.UTC(2023, 11, 31, 16), end: at(16), n: 2 },
      { k: "a", start: at(16), end: at(16) + day, n: 2 },
    ]);
  });

  it("puts a record in size/slide sliding windows", async () => {
    const out = collectSink<Res>();
    const j = job("sliding");
    j.source(collectionSource({ partitions: [[ev("a", 7)]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(sliding({ sizeMs: 10, slideMs: 5 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    await runToEnd(j.build());
    expect(out.values().map((r) => [r.start, r.end])).toEqual([
      [0, 10],
      [5, 15],
    ]);
    expect(out.records.map((r) => r.ts)).toEqual([9, 14]); // output timestamp = window.maxTimestamp
  });
});

describe("event-time trigger", () => {
  it("fires a window when watermark = maxTs - bound - 1 reaches its max timestamp", async () => {
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<Res>();
    const j = job("fire");
    j.source(src, { watermarks: evTime(2) })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    const e = await stepper(j.build());
    src.push(0, ev("a", 3), ev("a", 11));
    await e.round(); // watermark 11 - 2 - 1 = 8 < 9
    expect(out.values()).toEqual([]);
    src.push(0, ev("a", 12));
    await e.round(); // watermark 9 = maxTimestamp of [0, 10)
    expect(out.values()).toEqual([{ k: "a", start: 0, end: 10, n: 1 }]);
    expect(e.progress().watermark).toBe(9);
    await e.close();
  });

  it("drops late records without lateness and sends them to the late side output", async () => {
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<Res>();
    const late = collectSink<Ev>();
    const lateTag = outputTag<Ev>("late");
    const j = job("late");
    const w = j
      .source(src, { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .sideOutputLateData(lateTag)
      .aggregate(count<Ev>(), shape);
    w.sink(out);
    w.getSideOutput(lateTag).sink(late);
    const e = await stepper(j.build());
    src.push(0, ev("a", 1), ev("a", 20));
    await e.round(); // wm 19: [0,10) fires with 1
    src.push(0, ev("a", 5));
    await e.round(); // late: 5 + 0 <= 19
    expect(out.values()).toEqual([{ k: "a", start: 0, end: 10, n: 1 }]);
    expect(late.values()).toEqual([ev("a", 5)]);
    await e.close();
  });

  it("re-fires within allowed lateness and side-outputs beyond it", async () => {
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<Res>();
    const late = collectSink<Ev>();
    const lateTag = outputTag<Ev>("late");
    const j = job("lateness");
    const w = j
      .source(src, { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .allowedLateness(5)
      .sideOutputLateData(lateTag)
      .aggregate(count<Ev>(), shape);
    w.sink(out);
    w.getSideOutput(lateTag).sink(late);
    const e = await stepper(j.build());
    src.push(0, ev("a", 1), ev("a", 12));
    await e.round(); // wm 11: fires [0,10) n=1; cleanup at 9 + 5 = 14 not reached
    src.push(0, ev("a", 2));
    await e.round(); // late but within lateness: fires again immediately with n=2
    expect(out.values()).toEqual([
      { k: "a", start: 0, end: 10, n: 1 },
      { k: "a", start: 0, end: 10, n: 2 },
    ]);
    src.push(0, ev("a", 15));
    await e.round(); // wm 14: cleanup of [0,10)
    src.push(0, ev("a", 3));
    await e.round(); // beyond lateness: 3 + 5 <= 14
    expect(late.values()).toEqual([ev("a", 3)]);
    expect(out.values()).toHaveLength(2);
    src.end();
    await e.round();
    await e.close();
    // At the end of input the remaining window [10,20) fires once.
    expect(out.values().at(-1)).toEqual({ k: "a", start: 10, end: 20, n: 2 });
  });

  it("counts late records dropped when no side output is set", async () => {
    const out = collectSink<Res>();
    const j = job("dropped");
    j.source(collectionSource({ partitions: [[ev("a", 1), ev("a", 30), ev("a", 2)]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    const p = await runToEnd(j.build(), { batchSize: 1 });
    expect(p.lateDropped).toBe(1);
    expect(out.values().map((r) => r.n)).toEqual([1, 1]);
    expect(p.stateSize).toBe(0); // every window's state and timers were cleaned up
  });
});

describe("session windows", () => {
  it("merges sessions bridged by an out-of-order record", async () => {
    const out = collectSink<Res>();
    const j = job("sessions");
    j.source(collectionSource({ partitions: [[ev("a", 1), ev("a", 14), ev("b", 2), ev("a", 8), ev("a", 40), ev("b", 3)]] }), { watermarks: evTime(20) })
      .keyBy((e) => e.k)
      .window(session({ gapMs: 10 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    await runToEnd(j.build(), { batchSize: 1 });
    const got = out.values().sort((x, y) => x.k.localeCompare(y.k) || x.start - y.start);
    expect(got).toEqual([
      { k: "a", start: 1, end: 24, n: 3 }, // [1,11) + [14,24) bridged by [8,18)
      { k: "a", start: 40, end: 50, n: 1 },
      { k: "b", start: 2, end: 12, n: 1 }, // b@3 arrives at watermark 19: its session is late
    ]);
  });

  it("merges touching sessions ([0,10) and [10,20)) like Flink's intersects", async () => {
    const out = collectSink<Res>();
    const j = job("touch");
    j.source(collectionSource({ partitions: [[ev("a", 0), ev("a", 10)]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(session({ gapMs: 10 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    await runToEnd(j.build());
    expect(out.values()).toEqual([{ k: "a", start: 0, end: 20, n: 2 }]);
  });

  it("gives a full-window process function the merged session's records in order", async () => {
    const out = collectSink<string>();
    const j = job("session-process");
    j.source(collectionSource({ partitions: [[ev("a", 1, 1), ev("a", 20, 3), ev("a", 10, 2), ev("a", 50, 4), ev("a", 45, 5)]] }), { watermarks: evTime(30) })
      .keyBy((e) => e.k)
      .window(session({ gapMs: 10 }))
      .process((elements: readonly Ev[], info: WindowInfo<string>, o: Collector<string>) => {
        o.collect(`${info.key}:${info.window.start}-${info.window.end}:${elements.map((x) => x.v).join(",")}`);
      })
      .sink(out);
    await runToEnd(j.build(), { batchSize: 1 });
    // [1,11) and [20,30) bridged by [10,20); [45,55) absorbs [50,60).
    expect(out.values()).toEqual(["a:1-30:1,3,2", "a:45-60:4,5"]);
  });
});

describe("watermarks across partitions", () => {
  it("holds windows back until every partition's watermark passes, unless a partition is idle", async () => {
    const { manualClock } = await import("../../../runtime/time/clock.ts");
    const clock = manualClock(0);
    const build = (idle?: number) => {
      const src = queueSource<Ev>({ partitions: 2 });
      const out = collectSink<Res>();
      const j = job("idle");
      j.source(src, { watermarks: evTime(0, idle) })
        .keyBy((e) => e.k)
        .window(tumbling({ sizeMs: 10 }))
        .aggregate(count<Ev>(), shape)
        .sink(out);
      return { src, out, graph: j.build() };
    };
    // Without idleness, a silent partition holds the watermark at its minimum.
    const a = build();
    const ea = await stepper(a.graph, { clock });
    a.src.push(0, ev("a", 1), ev("a", 25));
    await ea.round();
    clock.advance(60_000);
    await ea.round();
    expect(a.out.values()).toEqual([]);
    await ea.close();
    // With a 1 s idle timeout, the silent partition stops counting once idle.
    clock.set(0);
    const b = build(1000);
    const eb = await stepper(b.graph, { clock });
    b.src.push(0, ev("a", 1));
    await eb.round();
    clock.advance(500);
    b.src.push(0, ev("a", 25));
    await eb.round();
    expect(b.out.values()).toEqual([]); // partition 1 not idle yet
    clock.advance(600); // partition 1 silent for 1.1 s; partition 0 active 0.6 s ago
    await eb.round();
    expect(b.out.values()).toEqual([{ k: "a", start: 0, end: 10, n: 1 }]);
    await eb.close();
  });

  it("takes the minimum across unioned inputs", async () => {
    const s1 = queueSource<Ev>({ partitions: 1 });
    const s2 = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<Res>();
    const j = job("union");
    const a = j.source(s1, { watermarks: evTime() });
    const b = j.source(s2, { watermarks: evTime() });
    a.union(b)
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    const e = await stepper(j.build());
    s1.push(0, ev("a", 1), ev("a", 30));
    s2.push(0, ev("a", 2));
    await e.round();
    expect(out.values()).toEqual([]); // min(29, 1) = 1
    s2.push(0, ev("b", 11));
    await e.round(); // min(29, 10) = 10 >= 9
    expect(out.values()).toEqual([{ k: "a", start: 0, end: 10, n: 2 }]);
    await e.close();
  });
});

describe("count windows and reduce", () => {
  it("fires and purges a global window every N records per key", async () => {
    const out = collectSink<number>();
    const j = job("count");
    j.source(collectionSource({ partitions: [[1, 2, 3, 4, 5, 6, 7].map((v) => ev("a", v, v))] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .countWindow(3)
      .aggregate(sum<Ev>((e) => e.v))
      .sink(out);
    await runToEnd(j.build());
    expect(out.values()).toEqual([6, 15]); // 7 never completes a window
  });

  it("reduces pairwise within a window", async () => {
    const out = collectSink<Ev>();
    const j = job("reduce");
    j.source(collectionSource({ partitions: [[ev("a", 1, 5), ev("a", 2, 9), ev("a", 3, 7)]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .reduce((x, y) => (y.v > x.v ? y : x))
      .sink(out);
    await runToEnd(j.build());
    expect(out.values()).toEqual([ev("a", 2, 9)]);
  });
});
