/** Timed-out partial matches and late events reach their side outputs; event-time buffering orders input. */
import { describe, expect, it } from "vitest";
import { outputTag } from "../../../runtime/api/index.ts";
import { Pattern, type TimedOutMatch } from "../../../runtime/cep/index.ts";
import { is, matches, render, type Ev } from "./helpers.ts";

const at = (name: string, t: number, k = "k"): Ev => ({ name, k, t });
const aThenB = () => Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b")).within(10);

describe("timed-out partial matches", () => {
  it("go to the timed-out side output with first event time + within", async () => {
    const timedOut = outputTag<TimedOutMatch<Ev>>("timed-out");
    const r = await matches(aThenB(), [at("a1", 1), at("x", 5), at("a2", 20), at("b", 25), at("y", 40)], { timedOut });
    expect(r.matches).toEqual(["a2 b"]);
    expect(r.timedOut.map((t) => ({ key: t.key, match: render(t.match), at: t.timeoutTimestamp }))).toEqual([{ key: "k", match: "a1", at: 11 }]);
  });

  it("are dropped silently without a side output, and a match at 9 ms is still in time", async () => {
    const r = await matches(aThenB(), [at("a1", 1), at("b1", 10), at("a2", 20), at("b2", 30)]);
    expect(r.matches).toEqual(["a1 b1"]);
    expect(r.timedOut).toEqual([]);
  });
});

describe("event time", () => {
  it("feeds the NFA in timestamp order whatever the arrival order (within the watermark bound)", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).next("b").where(is("b"));
    const r = await matches(p, [at("b", 2), at("a", 1), at("c", 3)], { outOfOrderMs: 5 });
    expect(r.matches).toEqual(["a b"]);
  });

  it("keeps arrival order among events with the same timestamp", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).next("b").where(is("b"));
    expect((await matches(p, [at("a", 1), at("b", 1)])).matches).toEqual(["a b"]);
    expect((await matches(p, [at("b", 1), at("a", 1)])).matches).toEqual([]);
  });

  it("sends events at or below the watermark to the late side output, unprocessed", async () => {
    const late = outputTag<Ev>("late");
    const p = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b"));
    // One record per round: a@10 moves the watermark to 9; b@5 and b@9 are late, b@11 is not.
    const r = await matches(p, [at("a", 10), at("b1", 5), at("b2", 9), at("b3", 11)], { late, engine: { batchSize: 1 } });
    expect(r.late.map((e) => e.name)).toEqual(["b1", "b2"]);
    expect(r.matches).toEqual(["a b3"]);
  });

  it("keeps keys apart", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).next("b").where(is("b"));
    const r = await matches(p, [at("a", 1, "k1"), at("a", 2, "k2"), at("b", 3, "k1"), at("c", 4, "k2"), at("b", 5, "k2")]);
    expect(r.matches).toEqual(["a b"]);
  });
});
