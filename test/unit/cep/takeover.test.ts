/**
 * The account-takeover pattern of the risk system, per user, in event time: out-of-order input
 * within the watermark bound, the 10-minute boundary, and CEP state cleared after `within`.
 */
import { describe, expect, it } from "vitest";
import { outputTag, queueSource, collectSink, job } from "../../../runtime/api/index.ts";
import { createEngine, type Engine } from "../../../runtime/exec/engine.ts";
import { CEP, type TimedOutMatch } from "../../../runtime/cep/index.ts";
import { accountTakeover, attack, describeMatch, takeoverJob, TEN_MINUTES, type Login } from "./takeover.ts";

const T0 = 1_000_000;

/** Reorders events by up to `maxDelayMs` of event time: each arrives as if delayed by a pseudo-random amount. */
function delayed(events: Login[], maxDelayMs: number): Login[] {
  return events
    .map((e, i) => ({ e, arrival: e.t + ((i * 7919) % maxDelayMs) }))
    .sort((a, b) => a.arrival - b.arrival)
    .map((x) => x.e);
}

async function alertsFor(input: Login[], outOfOrderMs = 0): Promise<string[]> {
  const { job: j, alerts } = takeoverJob([input], { outOfOrderMs });
  await createEngine({ graph: j.build(), idleSleepMs: 0, batchSize: 3 }).run();
  return alerts.values();
}

describe("account takeover: >5 login failures then >3 IP changes within 10 minutes", () => {
  it("alerts once per attack, per user, with the failures and IP changes that matched", async () => {
    const input = [...attack("u1", T0, 6, 4, T0 + 60_000), { user: "u1", type: "ok" as const, t: T0 + 70_000, id: "o1" }];
    expect(await alertsFor(input)).toEqual(["u1: f1 f2 f3 f4 f5 f6 | i1 i2 i3 i4"]);
  });

  it("does not alert on 5 failures or on 3 IP changes", async () => {
    const input = [...attack("u2", T0, 5, 4, T0 + 60_000), ...attack("u3", T0, 6, 3, T0 + 60_000)].sort((a, b) => a.t - b.t);
    expect(await alertsFor(input)).toEqual([]);
  });

  it("gives the same alerts when events arrive out of order within the watermark bound", async () => {
    const inOrder = [...attack("u1", T0, 7, 5, T0 + 90_000), ...attack("u4", T0 + 500, 6, 4, T0 + 120_000)].sort((a, b) => a.t - b.t);
    // Up to 3 s late, inside a 5 s bound; failures of one user overtake each other.
    const shuffled = delayed(inOrder, 3000);
    const u1 = (l: Login[]) =>
      l
        .filter((e) => e.user === "u1")
        .map((e) => e.id)
        .join(" ");
    expect(u1(shuffled)).not.toEqual(u1(inOrder));
    const expected = await alertsFor(inOrder);
    expect(expected.sort()).toEqual(["u1: f1 f2 f3 f4 f5 f6 f7 | i1 i2 i3 i4", "u4: f1 f2 f3 f4 f5 f6 | i1 i2 i3 i4"]);
    expect((await alertsFor(shuffled, 5000)).sort()).toEqual(expected);
    // The same disorder with a bound too small for it loses events as late, and with them the alerts.
    expect((await alertsFor(shuffled, 0)).sort()).not.toEqual(expected);
  });

  it("matches when the last IP change is 1 ms inside the 10 minutes and not at exactly 10 minutes", async () => {
    const inside = attack("u5", T0, 6, 4, T0 + TEN_MINUTES - 1);
    const at = attack("u6", T0, 6, 4, T0 + TEN_MINUTES);
    const input = [...inside, ...at].sort((a, b) => a.t - b.t);
    expect(await alertsFor(input)).toEqual(["u5: f1 f2 f3 f4 f5 f6 | i1 i2 i3 i4"]);
  });

  it("a 7th failure keeps the attack alive when the first one falls out of the window", async () => {
    // f1 is 10 minutes before the last IP change, f2..f7 are six failures inside: still an attack.
    const input = attack("u7", T0, 7, 4, T0 + TEN_MINUTES).sort((a, b) => a.t - b.t);
    expect(await alertsFor(input)).toEqual(["u7: f2 f3 f4 f5 f6 f7 | i1 i2 i3 i4"]);
  });
});

describe("account takeover: state and side outputs", () => {
  /** A step-driven job with a push source, to look at state between rounds. */
  async function stepped(timedOut: ReturnType<typeof outputTag<TimedOutMatch<Login>>>) {
    const src = queueSource<Login>({ partitions: 1 });
    const alerts = collectSink<string>();
    const expired = collectSink<TimedOutMatch<Login>>();
    const j = job("takeover-steps");
    const out = CEP.pattern(
      j.source(src, { watermarks: { timestamp: (e: Login) => e.t } }).keyBy((e) => e.user),
      accountTakeover(),
      { uid: "takeover", timedOut },
    ).process<string>((m, ctx, o) => o.collect(describeMatch(String(ctx.key()), m)));
    out.sink(alerts);
    out.getSideOutput(timedOut).sink(expired);
    const engine = createEngine({ graph: j.build(), idleSleepMs: 0 });
    await engine.open();
    return { src, alerts, expired, engine };
  }

  /** Store keys of the CEP operator's state entries for `user`. */
  async function cepEntries(engine: Engine, user: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const chunk of (engine.backends[0] as Engine["backends"][number]).entryChunks()) for (const [k] of chunk) keys.push(k);
    return keys.filter((k) => k.startsWith("takeover\u0000") && k.endsWith(`\u0000s${user}`));
  }

  it("keeps partial matches as keyed state, clears them after within, and reports them as timed out", async () => {
    const timedOut = outputTag<TimedOutMatch<Login>>("timed-out");
    const { src, alerts, expired, engine } = await stepped(timedOut);
    src.push(0, ...attack("u2", T0, 5, 4, T0 + 60_000));
    await engine.round();
    expect((await cepEntries(engine, "u2")).length).toBeGreaterThan(0);
    // Another user's event moves the watermark to just before u2's first failure + 10 minutes.
    src.push(0, { user: "x", type: "ok", t: T0 + TEN_MINUTES, id: "o1" });
    await engine.round();
    expect(expired.values()).toEqual([]);
    // f1 + 10 min <= watermark: the partial matches started at f1 expire; those from f2..f5 live on.
    src.push(0, { user: "x", type: "ok", t: T0 + TEN_MINUTES + 1, id: "o2" });
    await engine.round();
    expect(expired.values().length).toBeGreaterThan(0);
    expect((await cepEntries(engine, "u2")).length).toBeGreaterThan(0);
    // Past f5 + 10 min nothing of u2 can match any more: its CEP state is gone.
    src.push(0, { user: "x", type: "ok", t: T0 + TEN_MINUTES + 4001, id: "o3" });
    await engine.round();
    expect(await cepEntries(engine, "u2")).toEqual([]);
    expect(alerts.values()).toEqual([]);
    const fromF1 = expired.values().filter((t) => t.match.get("fails")?.[0]?.id === "f1");
    expect(fromF1.length).toBeGreaterThan(0);
    for (const t of fromF1) {
      expect(t.key).toBe("u2");
      expect(t.timeoutTimestamp).toBe(T0 + TEN_MINUTES);
    }
    // The longest partial match got all five failures and the IP changes never started.
    expect(Math.max(...fromF1.map((t) => t.match.get("fails")?.length ?? 0))).toBe(5);
    await engine.close();
  });

  it("clears a user's state right after an alert (skip past last event discards the rest)", async () => {
    const timedOut = outputTag<TimedOutMatch<Login>>("timed-out");
    const { src, alerts, engine } = await stepped(timedOut);
    src.push(0, ...attack("u1", T0, 6, 4, T0 + 60_000), { user: "x", type: "ok", t: T0 + 61_000, id: "o1" });
    await engine.round();
    expect(alerts.values()).toEqual(["u1: f1 f2 f3 f4 f5 f6 | i1 i2 i3 i4"]);
    expect(await cepEntries(engine, "u1")).toEqual([]);
    await engine.close();
  });
});
