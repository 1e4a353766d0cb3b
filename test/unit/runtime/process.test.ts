/** Keyed process functions: state, timers, side outputs, connect, TTL. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collectSink, collectionSource, job, outputTag, queueSource, type KeyedProcessFunction, type RuntimeContext } from "../../../runtime/api/index.ts";
import { manualClock } from "../../../runtime/time/clock.ts";
import { ev, evTime, runToEnd, stepper, type Ev } from "./helpers.ts";

describe("keyed process function", () => {
  it("keeps per-key state and fires event-time timers at the watermark, deduplicated", async () => {
    const out = collectSink<string>();
    const j = job("timers");
    j.source(collectionSource({ partitions: [[ev("a", 1), ev("b", 2), ev("a", 3), ev("a", 25), ev("c", 26)]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .process((rt: RuntimeContext): KeyedProcessFunction<string, Ev, string> => {
        const n = rt.valueState<number>({ name: "n" });
        return {
          processElement(e, ctx, o) {
            n.update((n.value() ?? 0) + 1);
            // Both records of "a" before 10 register the same timer: it fires once.
            ctx.timerService().registerEventTimeTimer(Math.floor(e.t / 10) * 10 + 9);
            o.collect(`in ${ctx.key()} ${n.value()}`);
          },
          onTimer(ts, ctx, o) {
            o.collect(`timer ${ctx.key()}@${ts} n=${n.value()} wm=${ctx.currentWatermark()} ${ctx.timeDomain()}`);
          },
        };
      })
      .sink(out);
    await runToEnd(j.build(), { batchSize: 1 });
    expect(out.values()).toEqual([
      "in a 1",
      "in b 1",
      "in a 2",
      "in a 3", // a@25: watermark 24 fires the timers at 9
      "timer a@9 n=3 wm=24 event",
      "timer b@9 n=1 wm=24 event",
      "in c 1",
      "timer a@29 n=3 wm=8640000000000000 event", // end of input: watermark MAX
      "timer c@29 n=1 wm=8640000000000000 event",
    ]);
    // Timer output carries the timer's timestamp.
    expect(out.records.filter((r) => r.value.startsWith("timer")).map((r) => r.ts)).toEqual([9, 9, 29, 29]);
  });

  it("fires a timer registered by another timer's callback before later due timers (timestamp order, as Flink)", async () => {
    const run = async (state?: { kind: "level"; dir: string; maxCachedEntries: number }): Promise<string[]> => {
      const out = collectSink<string>();
      const j = job("timer-order");
      j.source(collectionSource({ partitions: [[ev("a", 1), ev("b", 2), ev("a", 100)]] }), { watermarks: evTime() })
        .keyBy((e) => e.k)
        .process((): KeyedProcessFunction<string, Ev, string> => ({
          processElement(e, ctx) {
            if (e.t < 100) {
              ctx.timerService().registerEventTimeTimer(10);
              ctx.timerService().registerEventTimeTimer(30);
            }
          },
          onTimer(ts, ctx, o) {
            o.collect(`${ctx.key()}@${ts}`);
            // Due already (the watermark is 99): it must fire before the timers at 30.
            if (ts === 10) ctx.timerService().registerEventTimeTimer(20);
          },
        }))
        .sink(out);
      await runToEnd(j.build(), { batchSize: 3, ...(state ? { state } : {}) });
      return out.values();
    };
    const want = ["a@10", "b@10", "a@20", "b@20", "a@30", "b@30"];
    expect(await run()).toEqual(want);
    const dir = mkdtempSync(join(tmpdir(), "runnel-timer-order-"));
    try {
      // One cached entry: the due keys are loaded a slice at a time.
      expect(await run({ kind: "level", dir, maxCachedEntries: 1 })).toEqual(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fires processing-time timers from the injected clock", async () => {
    const clock = manualClock(1000);
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<string>();
    const j = job("ptimers");
    j.source(src, { watermarks: evTime() })
      .keyBy((e) => e.k)
      .process((): KeyedProcessFunction<string, Ev, string> => ({
        processElement(_e, ctx) {
          ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + 500);
        },
        onTimer(ts, ctx, o) {
          o.collect(`${ctx.key()}@${ts} ${ctx.timeDomain()}`);
        },
      }))
      .sink(out);
    const e = await stepper(j.build(), { clock });
    src.push(0, ev("a", 1));
    await e.round();
    clock.advance(499);
    await e.round();
    expect(out.values()).toEqual([]);
    clock.advance(1);
    await e.round();
    expect(out.values()).toEqual(["a@1500 processing"]);
    await e.close();
  });

  it("routes side outputs and supports list and map state", async () => {
    const big = outputTag<Ev>("big");
    const out = collectSink<string>();
    const side = collectSink<Ev>();
    const j = job("side");
    const main = j
      .source(collectionSource({ partitions: [[ev("a", 1, 5), ev("a", 2, 50), ev("b", 3, 7), ev("a", 4, 5)]] }), { watermarks: evTime() })
      .keyBy((e) => e.k)
      .process((rt: RuntimeContext): KeyedProcessFunction<string, Ev, string> => {
        const seen = rt.listState<number>({ name: "seen" });
        const freq = rt.mapState<number, number>({ name: "freq" });
        return {
          processElement(e, ctx, o) {
            if (e.v > 10) {
              ctx.output(big, e);
              return;
            }
            seen.add(e.v);
            freq.put(e.v, (freq.get(e.v) ?? 0) + 1);
            o.collect(`${ctx.key()} seen=${seen.get().join(",")} freq(${e.v})=${freq.get(e.v)} size=${freq.size()}`);
          },
        };
      });
    main.sink(out);
    main.getSideOutput(big).sink(side);
    await runToEnd(j.build());
    expect(out.values()).toEqual(["a seen=5 freq(5)=1 size=1", "b seen=7 freq(7)=1 size=1", "a seen=5,5 freq(5)=2 size=1"]);
    expect(side.values()).toEqual([ev("a", 2, 50)]);
  });

  it("expires state after its TTL (processing time)", async () => {
    const clock = manualClock(0);
    const src = queueSource<Ev>({ partitions: 1 });
    const out = collectSink<string>();
    const j = job("ttl");
    j.source(src, { watermarks: evTime() })
      .keyBy((e) => e.k)
      .process((rt: RuntimeContext): KeyedProcessFunction<string, Ev, string> => {
        const last = rt.valueState<number>({ name: "last", ttl: { ttlMs: 1000 } });
        const touched = rt.valueState<number>({ name: "touched", ttl: { ttlMs: 1000, updateOnRead: true } });
        return {
          processElement(e, _ctx, o) {
            if (e.v === 0) {
              o.collect(`last=${last.value()} touched=${touched.value()}`);
              return;
            }
            last.update(e.v);
            touched.update(e.v);
          },
        };
      })
      .sink(out);
    const e = await stepper(j.build(), { clock });
    src.push(0, ev("a", 1, 7));
    await e.round();
    clock.advance(999);
    src.push(0, ev("a", 2, 0)); // both alive; the read refreshes `touched`
    await e.round();
    clock.advance(1);
    src.push(0, ev("a", 3, 0)); // `last` written 1000 ms ago: expired; `touched` read 1 ms ago
    await e.round();
    clock.advance(1000);
    src.push(0, ev("a", 4, 0));
    await e.round();
    expect(out.values()).toEqual(["last=7 touched=7", "last=undefined touched=7", "last=undefined touched=undefined"]);
    await e.close();
  });
});

describe("connect", () => {
  it("shares keyed state between the two inputs of a keyed co-process function", async () => {
    const out = collectSink<string>();
    const j = job("connect");
    const users = j.source(collectionSource({ partitions: [[{ id: "u1", name: "Ada" }]] }), { watermarks: { timestamp: () => 0 } });
    const clicks = j.source(collectionSource({ partitions: [[ev("u1", 1), ev("u2", 2)]] }), { watermarks: evTime() });
    users
      .keyBy((u) => u.id)
      .connect(clicks.keyBy((c) => c.k))
      .process((rt) => {
        const name = rt.valueState<string>({ name: "name" });
        return {
          processElement1(u, _ctx, _o) {
            name.update(u.name);
          },
          processElement2(c, ctx, o) {
            o.collect(`${ctx.key()} clicked at ${c.t} by ${name.value() ?? "?"}`);
          },
        };
      })
      .sink(out);
    await runToEnd(j.build());
    expect(out.values()).toEqual(["u1 clicked at 1 by Ada", "u2 clicked at 2 by ?"]);
  });

  it("refuses keyed state in a non-keyed function", async () => {
    const j = job("nokeyed");
    j.source(collectionSource({ partitions: [[1]] }))
      .process((rt) => {
        rt.valueState({ name: "x" });
        return { processElement() {} };
      })
      .sink(collectSink());
    await expect(runToEnd(j.build())).rejects.toThrow(/keyed state needs a keyed stream/);
  });
});
