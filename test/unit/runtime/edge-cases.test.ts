/** Edge cases of windows and timers (Flink semantics). */
import { describe, expect, it } from "vitest";
import {
  collectSink,
  count,
  job,
  outputTag,
  queueSource,
  session,
  sliding,
  tumbling,
  type KeyedProcessFunction,
  type WindowInfo,
} from "../../../runtime/api/index.ts";
import { manualClock } from "../../../runtime/time/clock.ts";
import { ev, evTime, stepper, type Ev } from "./helpers.ts";

type Res = { k: string; start: number; end: number; n: number };
const shape = (n: number, { key, window }: WindowInfo<string>): Res => ({ k: key, start: window.start, end: window.end, n });

describe("window edge cases", () => {
  it("accepts a record into its still-open sliding windows only, and does not call it late", async () => {
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<Res>();
    const late = collectSink<Ev>();
    const tag = outputTag<Ev>("late");
    const j = job("sliding-late");
    const w = j
      .source(src, { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(sliding({ sizeMs: 10, slideMs: 5 }))
      .sideOutputLateData(tag)
      .aggregate(count<Ev>(), shape);
    w.sink(out);
    w.getSideOutput(tag).sink(late);
    const e = await stepper(j.build());
    src.push(0, ev("a", 7)); // watermark 6: windows [0,10) and [5,15) open
    await e.round();
    src.push(0, ev("a", 3)); // [-5,5) is past (4 <= 6), [0,10) still open
    await e.round();
    src.end();
    await e.round();
    expect(late.values()).toEqual([]);
    expect(out.values().sort((x, y) => x.start - y.start)).toEqual([
      { k: "a", start: 0, end: 10, n: 2 },
      { k: "a", start: 5, end: 15, n: 1 },
    ]);
    await e.close();
  });

  it("re-fires a session with a late record within lateness, merged with what it already had", async () => {
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<Res>();
    const j = job("session-late");
    j.source(src, { watermarks: evTime() })
      .keyBy((e) => e.k)
      .window(session({ gapMs: 10 }))
      .allowedLateness(20)
      .aggregate(count<Ev>(), shape)
      .sink(out);
    const e = await stepper(j.build());
    src.push(0, ev("a", 1), ev("a", 5), ev("a", 30)); // watermark 29 fires [1,15)
    await e.round();
    expect(out.values()).toEqual([{ k: "a", start: 1, end: 15, n: 2 }]);
    src.push(0, ev("a", 12)); // late but [1,15) is kept until 14 + 20: merges into [1,22) and fires
    await e.round();
    expect(out.values().at(-1)).toEqual({ k: "a", start: 1, end: 22, n: 3 });
    await e.close();
  });

  it("treats records of a partition that comes back from idleness below the watermark as late", async () => {
    const clock = manualClock(0);
    const src = queueSource<Ev>({ partitions: 2 });
    const out = collectSink<Res>();
    const j = job("idle-return");
    j.source(src, { watermarks: evTime(0, 100) })
      .keyBy((e) => e.k)
      .window(tumbling({ sizeMs: 10 }))
      .aggregate(count<Ev>(), shape)
      .sink(out);
    const e = await stepper(j.build(), { clock });
    clock.advance(200); // both partitions idle
    src.push(0, ev("a", 1), ev("a", 25));
    await e.round(); // partition 0 active (watermark 24), partition 1 idle: [0,10) fires
    expect(out.values()).toEqual([{ k: "a", start: 0, end: 10, n: 1 }]);
    src.push(1, ev("a", 2)); // partition 1 wakes up behind the watermark: late, dropped
    await e.round();
    src.end();
    await e.round();
    expect(out.values()).toEqual([
      { k: "a", start: 0, end: 10, n: 1 },
      { k: "a", start: 20, end: 30, n: 1 },
    ]);
    expect(e.progress().lateDropped).toBe(1);
    await e.close();
  });
});

describe("timer edge cases", () => {
  it("does not fire deleted timers and fires timers registered at or below the watermark at the next advance", async () => {
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<string>();
    const j = job("timer-delete");
    j.source(src, { watermarks: evTime() })
      .keyBy((e) => e.k)
      .process((): KeyedProcessFunction<string, Ev, string> => ({
        processElement(x, ctx) {
          const ts = ctx.timerService();
          if (x.v === 1) ts.registerEventTimeTimer(50);
          if (x.v === 2) ts.deleteEventTimeTimer(50);
          if (x.v === 3) ts.registerEventTimeTimer(ts.currentWatermark()); // already due
        },
        onTimer(t, ctx, o) {
          o.collect(`${ctx.key()}@${t}`);
        },
      }))
      .sink(out);
    const e = await stepper(j.build());
    src.push(0, ev("a", 1, 1), ev("b", 2, 1), ev("a", 3, 2), ev("c", 10, 3));
    await e.round(); // watermark 9; c's timer at MIN watermark fires now
    src.push(0, ev("z", 60, 0));
    await e.round(); // watermark 59: b's timer fires, a's was deleted
    expect(out.values()).toEqual(["c@-8640000000000000", "b@50"]);
    await e.close();
  });
});
