/**
 * A pattern from a declarative pipeline's `cep` step (the StreamJob schema's CepStep): every
 * condition is CEL over `record`, `key` and `match`, compiled once when the pattern is applied.
 * The pipeline compiler calls this; the schema's own rules (first stage without contiguity,
 * quantifier combinations, notFollowedBy at the end needs within) were checked by validation.
 */
import type { CepStep, PatternStage } from "../spec/generated/types.ts";
import { parseDuration } from "../spec/duration.ts";
import { PatternDefinitionError } from "./errors.ts";
import { Pattern } from "./pattern.ts";
import { AfterMatchSkipStrategy } from "./skip.ts";

/** The skip strategy a step asks for (noSkip by default). */
function skipOf(step: CepStep): AfterMatchSkipStrategy {
  const s = step.afterMatchSkip;
  switch (s?.strategy ?? "noSkip") {
    case "skipToNext":
      return AfterMatchSkipStrategy.skipToNext();
    case "skipPastLastEvent":
      return AfterMatchSkipStrategy.skipPastLastEvent();
    case "skipToFirst":
      return AfterMatchSkipStrategy.skipToFirst(s?.stage ?? "");
    case "skipToLast":
      return AfterMatchSkipStrategy.skipToLast(s?.stage ?? "");
    default:
      return AfterMatchSkipStrategy.noSkip();
  }
}

/** Applies a stage's conditions and quantifiers to `p`. */
function configure<T>(p: Pattern<T>, s: PatternStage): Pattern<T> {
  p.where(s.where);
  for (const alt of s.or ?? []) p.or(alt);
  if (s.times !== undefined) p.times(s.times, s.timesMax ?? s.times);
  else if (s.timesOrMore !== undefined) p.timesOrMore(s.timesOrMore);
  else if (s.oneOrMore === true) p.oneOrMore();
  if (s.until !== undefined) p.until(s.until);
  if (s.optional === true) p.optional();
  if (s.greedy === true) p.greedy();
  if (s.consecutive === true) p.consecutive();
  return p;
}

/** Builds the pattern of a `cep` step. */
export function patternFromSpec<T>(step: CepStep): Pattern<T> {
  const [first, ...rest] = step.stages;
  if (first === undefined) throw new PatternDefinitionError("a cep step needs at least one stage");
  let p = configure(Pattern.begin<T>(first.name, skipOf(step)), first);
  for (const s of rest) {
    const link = s.contiguity ?? "followedBy";
    p = configure(p[link](s.name), s);
  }
  if (step.within !== undefined) p.within(parseDuration(step.within));
  return p;
}
