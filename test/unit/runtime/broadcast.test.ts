/** Broadcast state: rules reach every task, apply without restart, and survive a savepoint. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collectSink, job, queueSource, type KeyedBroadcastProcessFunction } from "../../../runtime/api/index.ts";
import { ev, seedForeignState, stepper, type Ev } from "./helpers.ts";

type Rule = { k: string; max: number };

function rulesJob() {
  const events = queueSource<Ev>({ partitions: 3 });
  const rules = queueSource<Rule>({ partitions: 1 });
  const out = collectSink<string>();
  const j = job("rules", { parallelism: 3 });
  const e = j.source(events, { watermarks: { timestamp: (x: Ev) => x.t } });
  const r = j.source(rules, { watermarks: { timestamp: () => 0 } });
  e.keyBy((x) => x.k)
    .connect(r.broadcast())
    .process(
      (rt): KeyedBroadcastProcessFunction<string, Ev, Rule, string> => {
        const seen = rt.valueState<number>({ name: "seen" });
        return {
          processElement(x, ctx, o) {
            seen.update((seen.value() ?? 0) + 1);
            const max = ctx.broadcastState<number>("limits").get(x.k);
            if (max !== undefined && x.v > max) o.collect(`${ctx.key()} ${x.v}>${max}`);
          },
          processBroadcastElement(rule, ctx) {
            ctx.broadcastState<number>("limits").set(rule.k, rule.max);
          },
        };
      },
      { uid: "limits" },
    )
    .sink(out);
  return { events, rules, out, graph: j.build() };
}

describe("broadcast state", () => {
  it("prefetches only keyed records' keys with LevelDB state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runnel-bcast-level-"));
    try {
      const a = rulesJob();
      await seedForeignState(dir, 3); // stores that hold state are read
      const engine = await stepper(a.graph, { state: { kind: "level", dir } });
      a.rules.push(0, { k: "a", max: 1 });
      a.events.push(0, ev("a", 1, 3));
      await engine.round();
      a.events.push(0, ev("a", 2, 4));
      await engine.round();
      expect(a.out.values()).toEqual(["a 4>1"]); // the rule arrived with (after) the first record
      const read = engine.backends.reduce((n, b) => n + b.stats.keysRead, 0);
      expect(read).toBe(4); // saved timers of 3 tasks at open, then "a" once: broadcast records have no key to fetch
      await engine.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("applies rule updates on every task without a restart, and restores them from a savepoint", async () => {
    const a = rulesJob();
    const engine = await stepper(a.graph);
    a.rules.push(0, { k: "a", max: 5 }, { k: "b", max: 1 }, { k: "c", max: 100 });
    await engine.round();
    a.events.push(0, ev("a", 1, 6), ev("b", 2, 1));
    a.events.push(1, ev("c", 3, 50), ev("b", 4, 2));
    a.events.push(2, ev("a", 5, 5));
    await engine.round();
    expect(a.out.values().sort()).toEqual(["a 6>5", "b 2>1"]);
    a.rules.push(0, { k: "c", max: 10 }); // tightened at run time
    await engine.round();
    a.events.push(2, ev("c", 6, 50));
    await engine.round();
    expect(a.out.values().at(-1)).toBe("c 50>10");
    // Every task holds the same rules, whichever task the keys land on.
    expect(new Set(a.out.records.map((r) => r.task)).size).toBeGreaterThan(1);
    const dir = await mkdtemp(join(tmpdir(), "runnel-bcast-"));
    try {
      await engine.savepoint(dir);
      const b = rulesJob();
      const restored = await stepper(b.graph, { restoreFrom: dir });
      b.events.push(1, ev("c", 7, 11), ev("a", 8, 5));
      await restored.round();
      expect(b.out.values()).toEqual(["c 11>10"]);
      await restored.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
