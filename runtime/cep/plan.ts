/**
 * The matching plan: a pattern chain flattened into the list of its positive stages, each with
 * its occurrence bounds and contiguity rules, and with the NOT stages folded in as guards on the
 * gap after the stage they follow. The matcher interprets this list directly; there is no state
 * graph. Conditions (CEL included) are compiled here, once, when the pattern is applied.
 */
import { and, celCondition, or, type Condition } from "./conditions.ts";
import { PatternDefinitionError } from "./errors.ts";
import { conditionOf, type ConditionTree, type Consuming, type Pattern } from "./pattern.ts";
import type { AfterMatchSkipStrategy, SkipKind } from "./skip.ts";

/** Contiguity codes: no event may be skipped / skip the events the stage does not take / skip any. */
export const STRICT = 0;
/** See STRICT. */
export const RELAXED = 1;
/** See STRICT. */
export const ANY = 2;

/** A compiled condition; `slot` indexes the matcher's per-event result cache. */
export interface CompiledCondition<T> {
  /** The predicate. */
  readonly test: Condition<T>;
  /** Reads the partial match (ctx), so its result cannot be shared between partial matches. */
  readonly iterative: boolean;
  /** Cache slot, unique in the plan. */
  readonly slot: number;
}

/** A NOT stage, as a guard on the gap after a positive stage. */
export interface Guard<T> {
  /** The forbidden event. */
  readonly cond: CompiledCondition<T>;
  /** notNext: only the first event of the gap is checked; notFollowedBy: every event of it. */
  readonly nextOnly: boolean;
}

/** One positive stage. */
export interface Stage<T> {
  /** Stage name. */
  readonly name: string;
  /** Occurrences needed before the match may move on (1 for a single stage). */
  readonly min: number;
  /** Occurrences allowed (Infinity for oneOrMore / timesOrMore). */
  readonly max: number;
  /** The stage may be skipped altogether. */
  readonly optional: boolean;
  /** While the stage takes an event, the partial match does not branch past it. */
  readonly greedy: boolean;
  /** Contiguity with the previous stage (STRICT / RELAXED / ANY). */
  readonly entry: number;
  /** Contiguity between the stage's own events. */
  readonly inner: number;
  /** The condition; undefined accepts every event. */
  readonly cond: CompiledCondition<T> | undefined;
  /** The stop condition of a loop. */
  readonly until: CompiledCondition<T> | undefined;
  /** NOT stages between this stage and the next positive one (or the end). */
  readonly guards: readonly Guard<T>[];
  /** Every stage after this one is optional: a match may end here. */
  readonly lastRequired: boolean;
}

/** The whole plan. */
export interface Plan<T> {
  /** Positive stages in order. */
  readonly stages: readonly Stage<T>[];
  /** Their names, by index. */
  readonly names: readonly string[];
  /** `within` in ms, 0 for none. */
  readonly windowMs: number;
  /** The pattern ends with NOT stages: a complete match waits for them (see matcher). */
  readonly endGuard: boolean;
  /** Of the end guards, at least one is notFollowedBy: the match completes when `within` is up. */
  readonly endGuardUntilWithin: boolean;
  /** After-match skip strategy. */
  readonly skip: SkipKind;
  /** Stage index skipToFirst / skipToLast refer to, -1 otherwise. */
  readonly skipStage: number;
  /** Number of condition cache slots. */
  readonly slots: number;
}

/** Partial matches track their positions in a 31-bit mask, one bit per stage. */
const MAX_STAGES = 30;

function contiguity(c: Consuming): number {
  return c === "strict" ? STRICT : c === "skipTillAny" ? ANY : RELAXED;
}

/** A condition tree as one function; iterative when any leaf reads the partial match. */
function compileTree<T>(tree: ConditionTree<T>, names: readonly string[]): { test: Condition<T>; iterative: boolean } {
  if (tree.kind === "leaf") {
    const c = tree.cond;
    if (typeof c === "string") return { test: celCondition<T>(c, names), iterative: /\bmatch\b/.test(c) };
    // A function that declares no second parameter cannot read the context.
    return { test: c, iterative: c.length >= 2 };
  }
  const a = compileTree(tree.a, names);
  const b = compileTree(tree.b, names);
  return { test: tree.kind === "and" ? and(a.test, b.test) : or(a.test, b.test), iterative: a.iterative || b.iterative };
}

/** Compiles the pattern ending at `last` into a plan; throws PatternDefinitionError for what cannot match. */
export function compilePlan<T>(last: Pattern<T>): Plan<T> {
  const chain = last.stages();
  const seen = new Set<string>();
  for (const p of chain) {
    if (seen.has(p.name)) throw new PatternDefinitionError(`duplicate stage name '${p.name}'`);
    seen.add(p.name);
  }
  const positive = chain.filter((p) => p.consuming !== "notNext" && p.consuming !== "notFollow");
  if (positive.length > MAX_STAGES) throw new PatternDefinitionError(`a pattern may have at most ${MAX_STAGES} positive stages`);
  const names = positive.map((p) => p.name);
  let slots = 0;
  const compile = (tree: ConditionTree<T> | undefined): CompiledCondition<T> | undefined =>
    tree === undefined ? undefined : { ...compileTree(tree, names), slot: slots++ };

  let windowMs = 0;
  for (const p of chain) if (p.windowMs !== undefined && (windowMs === 0 || p.windowMs < windowMs)) windowMs = p.windowMs;

  // Guards: the NOT stages after each positive stage.
  const guards: Guard<T>[][] = positive.map(() => []);
  let at = -1;
  for (const p of chain) {
    if (p.consuming === "notNext" || p.consuming === "notFollow") {
      const g = guards[at] as Guard<T>[];
      g.push({ cond: compile(conditionOf(p)) as CompiledCondition<T>, nextOnly: p.consuming === "notNext" });
    } else at++;
  }
  const endGuards = guards[positive.length - 1] as Guard<T>[];
  const endGuardUntilWithin = endGuards.some((g) => !g.nextOnly);
  if (endGuardUntilWithin && windowMs === 0) {
    throw new PatternDefinitionError("a pattern ending with notFollowedBy needs within(): the match completes when the time is up");
  }

  const stages: Stage<T>[] = positive.map((p, i) => ({
    name: p.name,
    min: p.timesFrom,
    max: p.quantity === "looping" ? Number.POSITIVE_INFINITY : p.timesTo,
    optional: p.isOptional,
    greedy: p.isGreedy,
    entry: contiguity(p.consuming),
    inner: contiguity(p.innerConsuming),
    cond: p.condition === undefined ? undefined : compile(p.condition),
    until: compile(p.untilCondition),
    guards: guards[i] as Guard<T>[],
    lastRequired: positive.slice(i + 1).every((q) => q.isOptional),
  }));

  const skip: AfterMatchSkipStrategy = last.skip;
  let skipStage = -1;
  if (skip.kind === "skipToFirst" || skip.kind === "skipToLast") {
    skipStage = names.indexOf(skip.stage ?? "");
    if (skipStage < 0) throw new PatternDefinitionError(`skip strategy ${skip.kind} names stage '${skip.stage ?? ""}', which the pattern does not have`);
  }
  return { stages, names, windowMs, endGuard: endGuards.length > 0, endGuardUntilWithin, skip: skip.kind, skipStage, slots };
}
