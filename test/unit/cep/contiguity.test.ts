/**
 * Contiguity, quantifiers, until, greedy, NOT stages and iterative conditions: the examples of
 * Flink's CEP documentation (docs/libs/cep.md) where it gives them, and our own cases, whose
 * expected matches are derived from the documented rules (the reasoning is noted per case).
 */
import { describe, expect, it } from "vitest";
import { Pattern, PatternDefinitionError } from "../../../runtime/cep/index.ts";
import { is, seq, sortedMatches, type Ev } from "./helpers.ts";

const ab = (link: "next" | "followedBy" | "followedByAny") => Pattern.begin<Ev>("a").where(is("a"))[link]("b").where(is("b"));

describe('contiguity between stages (doc: pattern "a b" over "a c b1 b2")', () => {
  const input = seq("a c b1 b2");
  it("strict (next): no match, c discards a", async () => {
    expect(await sortedMatches(ab("next"), input)).toEqual([]);
  });
  it("relaxed (followedBy): {a b1}", async () => {
    expect(await sortedMatches(ab("followedBy"), input)).toEqual(["a b1"]);
  });
  it("non-deterministic relaxed (followedByAny): {a b1}, {a b2}", async () => {
    expect(await sortedMatches(ab("followedByAny"), input)).toEqual(["a b1", "a b2"]);
  });
});

describe("contiguity within looping patterns", () => {
  // doc: "a b+ c" over "a b1 d1 b2 d2 b3 c"; a followedByAny b+, then c (followedBy).
  const abc = (inner?: "consecutive" | "allowCombinations") => {
    const b = Pattern.begin<Ev>("a").where(is("a")).followedByAny("b").where(is("b")).oneOrMore();
    if (inner) b[inner]();
    return b.followedBy("c").where(is("c"));
  };
  const input = seq("a b1 d1 b2 d2 b3 c");
  it("relaxed (default): the documented six matches", async () => {
    expect(await sortedMatches(abc(), input)).toEqual(["a b1 b2 b3 c", "a b1 b2 c", "a b1 c", "a b2 b3 c", "a b2 c", "a b3 c"].sort());
  });
  it("non-deterministic relaxed (allowCombinations): the documented seven, including {a b1 b3 c}", async () => {
    expect(await sortedMatches(abc("allowCombinations"), input)).toEqual(
      ["a b1 b2 b3 c", "a b1 b2 c", "a b1 b3 c", "a b1 c", "a b2 b3 c", "a b2 c", "a b3 c"].sort(),
    );
  });
  it("strict (consecutive): d1, d2 end each run of b's", async () => {
    // The documentation lists only {a b3 c} here, which no single contiguity for c reconciles with
    // its relaxed list above (that list needs c relaxed, which lets {a b1 c} through). By the rules:
    // a non-b ends a run of b's, and c (relaxed) then ends each run's match, one per run of b's:
    expect(await sortedMatches(abc("consecutive"), input)).toEqual(["a b1 c", "a b2 c", "a b3 c"]);
  });

  // doc (consecutive / allowCombinations): start c, middle a+ (followedBy), end1 b, input "C D A1 A2 A3 D A4 B".
  const cab = (inner?: "consecutive" | "allowCombinations") => {
    const m = Pattern.begin<Ev>("start").where(is("c")).followedBy("middle").where(is("a")).oneOrMore();
    if (inner) m[inner]();
    return m.followedBy("end1").where(is("b"));
  };
  const doc = seq("c d a1 a2 a3 d a4 b");
  it("consecutive(): {C A1 B}, {C A1 A2 B}, {C A1 A2 A3 B}", async () => {
    expect(await sortedMatches(cab("consecutive"), doc)).toEqual(["c a1 a2 a3 b", "c a1 a2 b", "c a1 b"]);
  });
  it("without consecutive(): also {C A1 A2 A3 A4 B}", async () => {
    expect(await sortedMatches(cab(), doc)).toEqual(["c a1 a2 a3 a4 b", "c a1 a2 a3 b", "c a1 a2 b", "c a1 b"]);
  });
  it("allowCombinations(): the documented fifteen matches once the first a may be any a", async () => {
    // The documentation's fifteen need followedByAny into "middle": allowCombinations() only
    // relaxes the contiguity *inside* the loop. With the documented followedBy, the loop must
    // start at A1 (relaxed: only events the stage does not take are skipped): eight matches.
    const any = Pattern.begin<Ev>("start")
      .where(is("c"))
      .followedByAny("middle")
      .where(is("a"))
      .oneOrMore()
      .allowCombinations()
      .followedBy("end1")
      .where(is("b"));
    const expected = [
      "c a1 b",
      "c a1 a2 b",
      "c a1 a3 b",
      "c a1 a4 b",
      "c a1 a2 a3 b",
      "c a1 a2 a4 b",
      "c a1 a3 a4 b",
      "c a1 a2 a3 a4 b",
      "c a2 b",
      "c a2 a3 b",
      "c a2 a4 b",
      "c a2 a3 a4 b",
      "c a3 b",
      "c a3 a4 b",
      "c a4 b",
    ];
    expect(await sortedMatches(any, doc)).toEqual(expected.sort());
    expect(await sortedMatches(cab("allowCombinations"), doc)).toEqual(expected.slice(0, 8).sort());
  });
});

describe("quantifiers", () => {
  it("times(2): exactly two, relaxed inside", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).times(2);
    expect(await sortedMatches(p, seq("a1 x a2 a3"))).toEqual(["a1 a2", "a2 a3"]);
  });
  it("times(2).consecutive(): only adjacent pairs", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).times(2).consecutive();
    expect(await sortedMatches(p, seq("a1 x a2 a3"))).toEqual(["a2 a3"]);
  });
  it("timesOrMore(2): two or more", async () => {
    const p = Pattern.begin<Ev>("start").where(is("c")).followedBy("middle").where(is("a")).timesOrMore(2).followedBy("end").where(is("b"));
    expect(await sortedMatches(p, seq("c a1 a2 a3 b"))).toEqual(["c a1 a2 a3 b", "c a1 a2 b"]);
  });
  it("optional(): the stage may be absent", async () => {
    const p = Pattern.begin<Ev>("start").where(is("c")).followedBy("middle").where(is("a")).optional().followedBy("end").where(is("b"));
    expect(await sortedMatches(p, seq("c b"))).toEqual(["c b"]);
    expect(await sortedMatches(p, seq("c a1 b"))).toEqual(["c a1 b", "c b"]);
  });
  it("until(): doc example (a+ until b) over a1 c a2 b a3 gives {a1 a2} {a1} {a2} {a3}", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).oneOrMore().until(is("b"));
    expect(await sortedMatches(p, seq("a1 c a2 b a3"))).toEqual(["a1", "a1 a2", "a2", "a3"]);
  });
  it("iterative conditions see the events matched so far (doc: sum of prices below 5)", async () => {
    const input: Ev[] = [
      { name: "s", k: "k", t: 1 },
      { name: "foo1", k: "k", t: 2, v: 1 },
      { name: "foo2", k: "k", t: 3, v: 2 },
      { name: "foo3", k: "k", t: 4, v: 3 },
    ];
    const p = Pattern.begin<Ev>("start")
      .where(is("s"))
      .followedBy("middle")
      .where((e, ctx) => e.name.startsWith("foo") && ctx.eventsFor("middle").reduce((s, x) => s + (x.v ?? 0), 0) + (e.v ?? 0) < 5)
      .oneOrMore();
    expect(await sortedMatches(p, input)).toEqual(["s foo1", "s foo1 foo2"]);
  });
});

/** Events "name@v" (v defaults to 0), one key, timestamps 1, 2, 3, … */
const vals = (spec: string): Ev[] =>
  spec.split(" ").map((tok, i) => {
    const [name, v] = tok.split("@");
    return { name: name ?? "", k: "k", t: i + 1, v: v === undefined ? 0 : Number(v) };
  });
const big = (e: Ev): boolean => (e.v ?? 0) > 3;

describe("greedy", () => {
  const cad = (opts: { optional?: boolean; greedy?: boolean; until?: boolean }) => {
    const m = Pattern.begin<Ev>("c").where(is("c")).followedBy("a").where(is("a")).oneOrMore();
    if (opts.optional) m.optional();
    if (opts.greedy) m.greedy();
    if (opts.until) m.until(big);
    return m.followedBy("d").where(is("d"));
  };
  it("a greedy loop does not leave while its events keep coming", async () => {
    // Without greedy, the run may leave the loop after a1 (d is relaxed, so a2 is skipped on that branch).
    expect(await sortedMatches(cad({}), seq("c a1 x a2 d"))).toEqual(["c a1 a2 d", "c a1 d"]);
    // Greedy: when a2 arrives the loop takes it and the branch that left after a1 is not kept.
    expect(await sortedMatches(cad({ greedy: true }), seq("c a1 x a2 d"))).toEqual(["c a1 a2 d"]);
  });
  it("an optional greedy loop is skipped only when none of its events come", async () => {
    // No a at all: the optional loop is skipped and d follows c.
    expect(await sortedMatches(cad({ optional: true, greedy: true }), seq("c x d"))).toEqual(["c d"]);
    // a1 arrives while the loop can take it, so the branch skipping the loop dies there.
    expect(await sortedMatches(cad({ optional: true, greedy: true }), seq("c a1 d"))).toEqual(["c a1 d"]);
    expect(await sortedMatches(cad({ optional: true }), seq("c a1 d"))).toEqual(["c a1 d", "c d"]);
  });
  it("until ends a greedy loop; later events of the loop cannot join", async () => {
    // a3 (v > 3) stops the loop untaken, so a4 is no longer an a of this match; d ends it.
    expect(await sortedMatches(cad({ greedy: true, until: true }), vals("c a1@1 a2@2 a3@5 a4@1 d"))).toEqual(["c a1 a2 d"]);
    // Not greedy: the branch that left after a1 survives as well.
    expect(await sortedMatches(cad({ until: true }), vals("c a1@1 a2@2 a3@5 a4@1 d"))).toEqual(["c a1 a2 d", "c a1 d"]);
  });
  it("until closes an optional loop before it takes anything", async () => {
    // a0 stops the loop at once; being optional, the loop is skipped and the match goes on to d.
    expect(await sortedMatches(cad({ optional: true, greedy: true, until: true }), vals("c a0@5 a1@1 d"))).toEqual(["c d"]);
  });
  it("when the loop and the next stage both accept an event, greedy keeps it in the loop", async () => {
    const p = (greedy: boolean) => {
      const m = Pattern.begin<Ev>("a").where(is("a")).oneOrMore();
      if (greedy) m.greedy();
      return m.next("b").where(big);
    };
    // a2 (v 9) is both an a and a b: without greedy, {a1 | b: a2} is a match too.
    expect(await sortedMatches(p(false), vals("a1@1 a2@9 z@9"))).toEqual(["a1 a2", "a1 a2 z", "a2 z"]);
    expect(await sortedMatches(p(true), vals("a1@1 a2@9 z@9"))).toEqual(["a1 a2 z", "a2 z"]);
  });
});

describe("times(from, to)", () => {
  const cab = (link: "followedBy" | "followedByAny", inner?: "consecutive" | "allowCombinations") => {
    const m = Pattern.begin<Ev>("c").where(is("c"))[link]("a").where(is("a")).times(2, 3);
    if (inner) m[inner]();
    return m.followedBy("b").where(is("b"));
  };
  it("relaxed inside: a run cannot skip an a it could take", async () => {
    // a1 a2 reach the minimum; a3 either joins (up to 3) or the run has already left for b.
    expect(await sortedMatches(cab("followedBy"), seq("c a1 a2 a3 b"))).toEqual(["c a1 a2 a3 b", "c a1 a2 b"]);
  });
  it("allowCombinations: any subset of 2 or 3 of the a's after the first", async () => {
    // followedBy into the stage forces a1 (it is taken, so it cannot be skipped); a2 may be skipped inside.
    expect(await sortedMatches(cab("followedBy", "allowCombinations"), seq("c a1 a2 a3 b"))).toEqual(["c a1 a2 a3 b", "c a1 a2 b", "c a1 a3 b"]);
    // followedByAny into the stage frees a1 as well: every subset of size 2 or 3.
    expect(await sortedMatches(cab("followedByAny", "allowCombinations"), seq("c a1 a2 a3 b"))).toEqual([
      "c a1 a2 a3 b",
      "c a1 a2 b",
      "c a1 a3 b",
      "c a2 a3 b",
    ]);
  });
  it("consecutive: only adjacent a's count", async () => {
    // x breaks a1 off; a2 a3 are the only adjacent pair.
    expect(await sortedMatches(cab("followedByAny", "consecutive"), seq("c a1 x a2 a3 b"))).toEqual(["c a2 a3 b"]);
  });
});

describe("optional stages inside a sequence", () => {
  it("the run waits for the optional stage and for the one after it at once", async () => {
    // After a1 the run may take a b or go straight to c; b1 is not a c, so the skipping branch lives on.
    const p = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b")).optional().followedBy("c").where(is("c"));
    expect(await sortedMatches(p, seq("a1 b1 c1"))).toEqual(["a1 b1 c1", "a1 c1"]);
  });
  it("skipping an optional stage keeps the next stage's contiguity", async () => {
    // c is strict: with b skipped it must come right after a.
    const p = Pattern.begin<Ev>("a").where(is("a")).next("b").where(is("b")).optional().next("c").where(is("c"));
    expect(await sortedMatches(p, seq("a1 c1"))).toEqual(["a1 c1"]);
    expect(await sortedMatches(p, seq("a1 x c1"))).toEqual([]);
  });
  it("times(2).optional() means none or two, not one", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b")).times(2).optional().followedBy("c").where(is("c"));
    // One b is neither; only the branch that skipped the stage reaches c.
    expect(await sortedMatches(p, seq("a1 b1 c1"))).toEqual(["a1 c1"]);
    expect(await sortedMatches(p, seq("a1 b1 b2 c1"))).toEqual(["a1 b1 b2 c1", "a1 c1"]);
  });
  it("an optional first stage: a match may start at the second", async () => {
    // b1 alone matches with a skipped; a1 b1 matches with it.
    const p = Pattern.begin<Ev>("a").where(is("a")).optional().next("b").where(is("b"));
    expect(await sortedMatches(p, seq("a1 b1"))).toEqual(["a1 b1", "b1"]);
  });
});

describe("NOT stages", () => {
  it("notNext: the partial match dies if the very next event matches", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).notNext("not").where(is("b")).followedBy("c").where(is("c"));
    expect(await sortedMatches(p, seq("a b c"))).toEqual([]);
    expect(await sortedMatches(p, seq("a d b c"))).toEqual(["a c"]);
  });
  it("notFollowedBy: the partial match dies if the event occurs anywhere before the next stage", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).notFollowedBy("not").where(is("b")).followedBy("c").where(is("c"));
    expect(await sortedMatches(p, seq("a d b c"))).toEqual([]);
    expect(await sortedMatches(p, seq("a d c b"))).toEqual(["a c"]);
  });
  it("a pattern may end with notFollowedBy when it has within: the match is emitted when the time is up", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).notFollowedBy("not").where(is("b")).within(10);
    const at = (name: string, t: number): Ev => ({ name, k: "k", t });
    expect(await sortedMatches(p, [at("a", 1), at("x", 5), at("y", 30)])).toEqual(["a"]);
    expect(await sortedMatches(p, [at("a", 1), at("b", 5), at("y", 30)])).toEqual([]);
  });
  it("notNext checks only the event right after the preceding one", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).notNext("not").where(is("b")).followedByAny("c").where(is("c"));
    // x follows a1, so the later b1 does not matter; c1 and c2 each complete (followedByAny).
    expect(await sortedMatches(p, seq("a1 x b1 c1 c2"))).toEqual(["a1 c1", "a1 c2"]);
    expect(await sortedMatches(p, seq("a1 b1 c1"))).toEqual([]);
  });
  it("notFollowedBy ends the branches still waiting, not the ones that moved on", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).notFollowedBy("not").where(is("b")).followedByAny("c").where(is("c"));
    // {a1 c1} is complete before b1; the branch still waiting after a1 sees b1 and dies, so no {a1 c2}.
    expect(await sortedMatches(p, seq("a1 c1 b1 c2"))).toEqual(["a1 c1"]);
  });
  it("notFollowedBy before an optional stage guards the whole gap up to the next taken event", async () => {
    const p = Pattern.begin<Ev>("a")
      .where(is("a"))
      .notFollowedBy("not")
      .where(is("b"))
      .followedBy("c")
      .where(is("c"))
      .optional()
      .followedBy("d")
      .where(is("d"));
    // c skipped: b1 lies between a1 and d1.
    expect(await sortedMatches(p, seq("a1 b1 d1"))).toEqual([]);
    // b1 comes after c1, outside the gap after a1.
    expect(await sortedMatches(p, seq("a1 c1 b1 d1"))).toEqual(["a1 c1 d1"]);
  });
  it("after a looping stage the gap starts at the loop's newest event", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).oneOrMore().notFollowedBy("not").where(is("b")).followedBy("c").where(is("c"));
    // b1 ends the wait for c after a1, but the loop may still take a2, which opens a new gap.
    expect(await sortedMatches(p, seq("a1 b1 a2 c1"))).toEqual(["a1 a2 c1", "a2 c1"]);
    const t = Pattern.begin<Ev>("a").where(is("a")).followedBy("b").where(is("b")).times(2).notFollowedBy("not").where(is("x")).followedBy("d").where(is("d"));
    // x falls between the two b's, inside the stage, not after it (our reading; see the ADR).
    expect(await sortedMatches(t, seq("a1 b1 x b2 d1"))).toEqual(["a1 b1 b2 d1"]);
    expect(await sortedMatches(t, seq("a1 b1 b2 x d1"))).toEqual([]);
  });
  it("notFollowedBy at the end only looks after the last positive stage", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).followedBy("c").where(is("c")).notFollowedBy("not").where(is("b")).within(10);
    const at = (name: string, t: number): Ev => ({ name, k: "k", t });
    // b before c is not forbidden; nothing forbidden follows c within 10 of a: the match completes.
    expect(await sortedMatches(p, [at("a", 1), at("b", 2), at("c", 3), at("y", 30)])).toEqual(["a c"]);
    // b at 8 is inside the window after c.
    expect(await sortedMatches(p, [at("a", 1), at("c", 3), at("b", 8), at("y", 30)])).toEqual([]);
    // b at 12 is after the window closed (a + 10): too late to forbid anything.
    expect(await sortedMatches(p, [at("a", 1), at("c", 3), at("b", 12), at("y", 30)])).toEqual(["a c"]);
  });
  it("notNext at the end: the match completes on the next event unless it is forbidden", async () => {
    const p = Pattern.begin<Ev>("a").where(is("a")).notNext("not").where(is("b"));
    // b1 follows a1; x1 follows a2.
    expect(await sortedMatches(p, seq("a1 b1 a2 x1"))).toEqual(["a2"]);
  });
  it("refuses what the documentation rules out", () => {
    expect(() => Pattern.begin<Ev>("a").optional().notNext("b")).toThrow(PatternDefinitionError);
    expect(() => Pattern.begin<Ev>("a").notFollowedBy("b").oneOrMore()).toThrow(PatternDefinitionError);
    expect(() => Pattern.begin<Ev>("a").where(is("a")).until(is("b"))).toThrow(PatternDefinitionError);
    // Ending with notFollowedBy needs within; duplicate names are refused when compiling.
    return Promise.all([
      expect(sortedMatches(Pattern.begin<Ev>("a").notFollowedBy("b"), [])).rejects.toThrow(/notFollowedBy/),
      expect(sortedMatches(Pattern.begin<Ev>("a").next("a"), [])).rejects.toThrow(/duplicate/),
    ]);
  });
});
