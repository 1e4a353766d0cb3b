/** After-match skip strategies on the three tables of Flink's CEP documentation. */
import { describe, expect, it } from "vitest";
import { AfterMatchSkipStrategy, Pattern, type SkipKind } from "../../../runtime/cep/index.ts";
import { is, matches, seq, type Ev } from "./helpers.ts";

const strategy = (kind: SkipKind, stage = "b"): AfterMatchSkipStrategy =>
  kind === "skipToFirst"
    ? AfterMatchSkipStrategy.skipToFirst(stage)
    : kind === "skipToLast"
      ? AfterMatchSkipStrategy.skipToLast(stage)
      : AfterMatchSkipStrategy[kind]();

describe("after-match skip strategies: pattern b+ c over b1 b2 b3 c", () => {
  // "b+ c" read as a regular expression: consecutive b's, then c. (With relaxed contiguity inside
  // the loop, the run started at b1 would stay alive after c, and SKIP_TO_FIRST would hold the
  // later matches back behind it for as long as it lives, as Flink does.)
  const run = async (kind: SkipKind) =>
    (await matches(Pattern.begin<Ev>("b", strategy(kind)).where(is("b")).oneOrMore().consecutive().next("c").where(is("c")), seq("b1 b2 b3 c"))).matches;
  const table: [SkipKind, string[]][] = [
    ["noSkip", ["b1 b2 b3 c", "b2 b3 c", "b3 c"]],
    ["skipToNext", ["b1 b2 b3 c", "b2 b3 c", "b3 c"]],
    ["skipPastLastEvent", ["b1 b2 b3 c"]],
    ["skipToFirst", ["b1 b2 b3 c", "b2 b3 c", "b3 c"]],
    ["skipToLast", ["b1 b2 b3 c", "b3 c"]],
  ];
  for (const [kind, expected] of table) {
    it(`${kind}: ${expected.map((m) => `{${m}}`).join(" ")}`, async () => {
      // Matches come out in the order of their first event, as Flink emits them.
      expect(await run(kind)).toEqual(expected);
    });
  }
});

describe("NO_SKIP versus SKIP_TO_FIRST: (a | b | c) (b | c) c+.greedy d over a b c1 c2 c3 d", () => {
  const p = (skip: AfterMatchSkipStrategy) =>
    Pattern.begin<Ev>("x", skip)
      .where(is("a"))
      .or(is("b"))
      .or(is("c"))
      .next("y")
      .where(is("b"))
      .or(is("c"))
      .next("c")
      .where(is("c"))
      .oneOrMore()
      .greedy()
      .next("d")
      .where(is("d"));
  const input = seq("a b c1 c2 c3 d");
  it("NO_SKIP: three matches", async () => {
    expect((await matches(p(AfterMatchSkipStrategy.noSkip()), input)).matches).toEqual(["a b c1 c2 c3 d", "b c1 c2 c3 d", "c1 c2 c3 d"]);
  });
  it("SKIP_TO_FIRST[c]: the match started at b is discarded", async () => {
    expect((await matches(p(AfterMatchSkipStrategy.skipToFirst("c")), input)).matches).toEqual(["a b c1 c2 c3 d", "c1 c2 c3 d"]);
  });
});

describe("NO_SKIP versus SKIP_TO_NEXT: a b+ over a b1 b2 b3", () => {
  const p = (skip: AfterMatchSkipStrategy) => Pattern.begin<Ev>("a", skip).where(is("a")).followedBy("b").where(is("b")).oneOrMore();
  const input = seq("a b1 b2 b3");
  it("NO_SKIP: {a b1} {a b1 b2} {a b1 b2 b3}", async () => {
    expect((await matches(p(AfterMatchSkipStrategy.noSkip()), input)).matches).toEqual(["a b1", "a b1 b2", "a b1 b2 b3"]);
  });
  it("SKIP_TO_NEXT: {a b1} only", async () => {
    expect((await matches(p(AfterMatchSkipStrategy.skipToNext()), input)).matches).toEqual(["a b1"]);
  });
  it("a skip strategy naming a stage the pattern lacks is refused", async () => {
    await expect(matches(p(AfterMatchSkipStrategy.skipToLast("nope")), input)).rejects.toThrow(/nope/);
  });
});

describe("matches held back by a skip strategy", () => {
  it("are released when the earlier partial match dies, not only on the next match", async () => {
    // a1 waits for a b with its own v; a2's match {a2 b} must wait behind it (skip strategies emit
    // in first-event order). The n kills a1's partial match (notFollowedBy): {a2 b} comes out then.
    const p = Pattern.begin<Ev>("a", AfterMatchSkipStrategy.skipPastLastEvent())
      .where(is("a"))
      .notFollowedBy("no")
      .where(is("n"))
      .followedBy("b")
      .where((e, ctx) => e.name.startsWith("b") && e.v === ctx.eventsFor("a")[0]?.v);
    const ev = (name: string, t: number, v: number): Ev => ({ name, k: "k", t, v });
    expect((await matches(p, [ev("a1", 1, 1), ev("a2", 2, 2), ev("b", 3, 2), ev("n", 4, 0)])).matches).toEqual(["a2 b"]);
    // Still alive at the end of the input, a1's partial match keeps holding the match back.
    expect((await matches(p, [ev("a1", 1, 1), ev("a2", 2, 2), ev("b", 3, 2)])).matches).toEqual([]);
  });
});
