/** Processing-time windows (Flink's *ProcessingTimeWindows): assigned and fired by the task's clock. */
import { describe, expect, it } from "vitest";
import { collectSink, count, job, queueSource, session, sliding, tumbling, type WindowInfo } from "../../../runtime/api/index.ts";
import type { WindowAssigner } from "../../../runtime/window/types.ts";
import { manualClock } from "../../../runtime/time/clock.ts";
import { ev, evTime, stepper, type Ev } from "./helpers.ts";

type Res = { k: string; start: number; end: number; n: number };
const shape = (n: number, { key, window }: WindowInfo<string>): Res => ({ k: key, start: window.start, end: window.end, n });

/** A keyed count over `assigner`, driven round by round with a manual clock starting at 1000. */
async function harness(assigner: WindowAssigner) {
  const clock = manualClock(1000);
  const src = queueSource<Ev>({ partitions: 1 });
  const out = collectSink<Res>();
  const j = job("ptime-windows");
  j.source(src, { watermarks: evTime() })
    .keyBy((e) => e.k)
    .window(assigner)
    .aggregate(count<Ev>(), shape)
    .sink(out);
  const engine = await stepper(j.build(), { clock });
  /** Pushes events and runs one round at the current processing time. */
  const at = async (events: Ev[]) => {
    for (const e of events) src.push(0, e);
    await engine.round();
  };
  return { clock, out, engine, at };
}

describe("processing-time windows", () => {
  it("assigns tumbling windows by arrival time, whatever the event timestamps, and fires on the clock", async () => {
    const { clock, out, engine, at } = await harness(tumbling({ sizeMs: 1000, time: "processing" }));
    // Event timestamps are far in the past and out of order: processing time ignores them.
    await at([ev("a", 5), ev("a", 1)]);
    clock.advance(200);
    await at([ev("a", 3), ev("b", 2)]);
    clock.set(1998);
    await at([]);
    expect(out.values()).toEqual([]);
    clock.set(1999); // the window [1000, 2000) ends: its last millisecond is 1999
    await at([]);
    expect(out.values()).toEqual([
      { k: "a", start: 1000, end: 2000, n: 3 },
      { k: "b", start: 1000, end: 2000, n: 1 },
    ]);
    // A record arriving later goes to the window of its arrival, never to a closed one, and is
    // never late: an event timestamp of 0 is irrelevant.
    clock.set(2500);
    await at([ev("a", 0)]);
    clock.set(2999);
    await at([]);
    expect(out.values().slice(2)).toEqual([{ k: "a", start: 2000, end: 3000, n: 1 }]);
    await engine.close();
  });

  it("puts a record into size/slide sliding windows of its arrival time", async () => {
    const { clock, out, engine, at } = await harness(sliding({ sizeMs: 1000, slideMs: 500, time: "processing" }));
    clock.set(1200);
    await at([ev("a", 0)]); // windows [500, 1500) and [1000, 2000)
    clock.set(1499);
    await at([]);
    expect(out.values()).toEqual([{ k: "a", start: 500, end: 1500, n: 1 }]);
    clock.set(1600);
    await at([ev("a", 0)]); // windows [1000, 2000) and [1500, 2500)
    clock.set(2499);
    await at([]);
    expect(out.values().slice(1)).toEqual([
      { k: "a", start: 1000, end: 2000, n: 2 },
      { k: "a", start: 1500, end: 2500, n: 1 },
    ]);
    await engine.close();
  });

  it("merges processing-time sessions by arrival gaps and closes them after the gap", async () => {
    const { clock, out, engine, at } = await harness(session({ gapMs: 300, time: "processing" }));
    await at([ev("a", 99)]); // session [1000, 1300)
    clock.set(1250);
    await at([ev("a", 1)]); // extends it to [1000, 1550)
    clock.set(1549);
    await at([]);
    expect(out.values()).toEqual([{ k: "a", start: 1000, end: 1550, n: 2 }]);
    clock.set(1700);
    await at([ev("a", 7)]); // a new session: the old one fired and is gone
    clock.set(1999);
    await at([]);
    expect(out.values().slice(1)).toEqual([{ k: "a", start: 1700, end: 2000, n: 1 }]);
    await engine.close();
  });

  it("keeps event-time windows the default", () => {
    expect(tumbling({ sizeMs: 10 })).toMatchObject({ time: "event" });
    expect(session({ gapMs: 10 })).toMatchObject({ time: "event" });
  });
});
