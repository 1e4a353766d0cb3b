/**
 * The pattern API, with Flink CEP's names and rules: `Pattern.begin("a").where(...).next("b")
 * .oneOrMore().within(ms)`. A pattern is a chain of stages linked backwards (`previous`), as in
 * Flink; quantifier and condition calls modify the current stage and return it. Nothing is
 * compiled here: `compilePlan` turns the finished chain into the matcher's stage list.
 */
import { alwaysTrue, type ConditionLike } from "./conditions.ts";
import { PatternDefinitionError } from "./errors.ts";
import { AfterMatchSkipStrategy } from "./skip.ts";

/**
 * How a stage consumes events relative to the previous one (Flink's ConsumingStrategy):
 * strict = next, skipTillNext = followedBy, skipTillAny = followedByAny.
 */
export type Consuming = "strict" | "skipTillNext" | "skipTillAny" | "notNext" | "notFollow";

/** A stage condition as given: a function or CEL, combined with where/or. */
export type ConditionTree<T> = { kind: "leaf"; cond: ConditionLike<T> } | { kind: "and" | "or"; a: ConditionTree<T>; b: ConditionTree<T> };

/** One stage of a pattern sequence (Flink's Pattern). */
export class Pattern<T> {
  /** Stage name, unique in the pattern; matches group events by it. */
  readonly name: string;
  /** The stage before this one, or undefined for the first. */
  readonly previous: Pattern<T> | undefined;
  /** Contiguity with the previous stage. */
  readonly consuming: Consuming;
  /** Contiguity between the events of a looping stage (consecutive / allowCombinations). */
  innerConsuming: Consuming = "skipTillNext";
  /** Accepts one event (single), a fixed range (times) or a loop (looping). */
  quantity: "single" | "times" | "looping" = "single";
  /** Minimum and maximum occurrences for times/looping. */
  timesFrom = 1;
  timesTo = 1;
  /** The stage may match no event. */
  isOptional = false;
  /** A looping stage takes as many events as it can. */
  isGreedy = false;
  /** The condition, undefined meaning "every event". */
  condition: ConditionTree<T> | undefined;
  /** Stop condition of a looping stage. */
  untilCondition: ConditionTree<T> | undefined;
  /** Time bound (ms) from a match's first event to its last. */
  windowMs: number | undefined;
  /** After-match skip strategy (set on the first stage, as in Flink). */
  readonly skip: AfterMatchSkipStrategy;

  private constructor(name: string, previous: Pattern<T> | undefined, consuming: Consuming, skip: AfterMatchSkipStrategy) {
    if (name.includes(":")) throw new PatternDefinitionError(`pattern name '${name}' must not contain ':'`);
    this.name = name;
    this.previous = previous;
    this.consuming = consuming;
    this.skip = skip;
  }

  /** Starts a pattern sequence with the stage `name`. */
  static begin<T>(name: string, skip: AfterMatchSkipStrategy = AfterMatchSkipStrategy.noSkip()): Pattern<T> {
    return new Pattern<T>(name, undefined, "skipTillNext", skip);
  }

  private append(name: string, consuming: Consuming): Pattern<T> {
    return new Pattern<T>(name, this, consuming, this.skip);
  }

  /** Appends a stage whose event must directly follow (strict contiguity). */
  next(name: string): Pattern<T> {
    return this.append(name, "strict");
  }

  /** Appends a stage; non-matching events in between are ignored (relaxed contiguity). */
  followedBy(name: string): Pattern<T> {
    return this.append(name, "skipTillNext");
  }

  /** Appends a stage; every later matching event starts an alternative match (non-deterministic relaxed). */
  followedByAny(name: string): Pattern<T> {
    return this.append(name, "skipTillAny");
  }

  /** Appends a negative stage: the partial match is discarded if the next event matches it. */
  notNext(name: string): Pattern<T> {
    if (this.isOptional) throw new PatternDefinitionError("a NOT pattern cannot be preceded by an optional one");
    return this.append(name, "notNext");
  }

  /** Appends a negative stage: the partial match is discarded if a matching event occurs before the next stage. */
  notFollowedBy(name: string): Pattern<T> {
    if (this.isOptional) throw new PatternDefinitionError("a NOT pattern cannot be preceded by an optional one");
    return this.append(name, "notFollow");
  }

  /** ANDs a condition onto the stage. */
  where(cond: ConditionLike<T>): this {
    const leaf: ConditionTree<T> = { kind: "leaf", cond };
    this.condition = this.condition === undefined ? leaf : { kind: "and", a: this.condition, b: leaf };
    return this;
  }

  /** ORs a condition onto the stage. */
  or(cond: ConditionLike<T>): this {
    const leaf: ConditionTree<T> = { kind: "leaf", cond };
    this.condition = this.condition === undefined ? leaf : { kind: "or", a: this.condition, b: leaf };
    return this;
  }

  /** Stop condition of a looping stage: once an event matches it, the loop accepts no more. */
  until(cond: ConditionLike<T>): this {
    if (this.quantity !== "looping")
      throw new PatternDefinitionError(`until on '${this.name}': the until condition only applies to looping stages (oneOrMore, timesOrMore)`);
    const leaf: ConditionTree<T> = { kind: "leaf", cond };
    this.untilCondition = this.untilCondition === undefined ? leaf : { kind: "or", a: this.untilCondition, b: leaf };
    return this;
  }

  /** Bounds the time from a match's first event to its last; the smallest bound of a sequence applies. */
  within(ms: number): this {
    if (!(ms > 0)) throw new PatternDefinitionError(`within must be positive, got ${ms}`);
    this.windowMs = ms;
    return this;
  }

  private checkQuantifiable(): void {
    if (this.consuming === "notNext" || this.consuming === "notFollow") {
      throw new PatternDefinitionError(`'${this.name}': a NOT pattern takes no quantifier`);
    }
    if (this.quantity !== "single") throw new PatternDefinitionError(`'${this.name}' already has a quantifier`);
  }

  /** Exactly n events (n ≥ 1), or from..to events. */
  times(from: number, to?: number): this {
    this.checkQuantifiable();
    const max = to ?? from;
    if (!Number.isInteger(from) || !Number.isInteger(max) || from < 0 || max < 1 || from > max) {
      throw new PatternDefinitionError(`'${this.name}': times(${from}${to === undefined ? "" : `, ${to}`}) is not a valid range`);
    }
    if (to === undefined && from === 0) throw new PatternDefinitionError(`'${this.name}': times must be at least 1`);
    this.quantity = "times";
    // times(0, n) is Flink's times(1, n).optional().
    if (from === 0) this.isOptional = true;
    this.timesFrom = Math.max(1, from);
    this.timesTo = max;
    return this;
  }

  /** At least n events. */
  timesOrMore(n: number): this {
    this.checkQuantifiable();
    if (!Number.isInteger(n) || n < 1) throw new PatternDefinitionError(`'${this.name}': timesOrMore needs a positive integer`);
    this.quantity = "looping";
    this.timesFrom = n;
    this.timesTo = n;
    return this;
  }

  /** One or more events. */
  oneOrMore(): this {
    return this.timesOrMore(1);
  }

  /** The stage may match no event at all. */
  optional(): this {
    if (this.consuming === "notNext" || this.consuming === "notFollow") throw new PatternDefinitionError(`'${this.name}': a NOT pattern cannot be optional`);
    this.isOptional = true;
    return this;
  }

  /** A looping stage repeats as many times as possible. */
  greedy(): this {
    if (this.quantity === "single") throw new PatternDefinitionError(`'${this.name}': greedy applies to looping or times stages`);
    this.isGreedy = true;
    return this;
  }

  /** Strict contiguity between the events of a looping stage. */
  consecutive(): this {
    if (this.quantity === "single") throw new PatternDefinitionError(`'${this.name}': consecutive applies to looping or times stages`);
    this.innerConsuming = "strict";
    return this;
  }

  /** Non-deterministic relaxed contiguity between the events of a looping stage. */
  allowCombinations(): this {
    if (this.quantity === "single") throw new PatternDefinitionError(`'${this.name}': allowCombinations applies to looping or times stages`);
    this.innerConsuming = "skipTillAny";
    return this;
  }

  /** The stages from first to last. */
  stages(): Pattern<T>[] {
    const out: Pattern<T>[] = [this];
    for (let p = this.previous; p !== undefined; p = p.previous) out.push(p);
    return out.reverse();
  }
}

/** The condition of a stage as a tree, "always" when it has none (Flink's getCondition). */
export function conditionOf<T>(p: Pattern<T>): ConditionTree<T> {
  return p.condition ?? { kind: "leaf", cond: alwaysTrue };
}
