/** Complex event processing on keyed streams: the pattern API, the matcher and the CEP operator. */
export { CEP, PatternStream, type CepOptions } from "./cep.ts";
export { Pattern, type Consuming } from "./pattern.ts";
export { AfterMatchSkipStrategy, type SkipKind } from "./skip.ts";
export type { Condition, ConditionLike, PatternContext } from "./conditions.ts";
export type { TimedOutMatch, PatternProcessContext, PatternProcessFunction, CepOutputs } from "./operator.ts";
export { compilePlan, type Plan } from "./plan.ts";
export { Matcher, newKeyState, type CepKeyState, type MatchSink } from "./matcher.ts";
export { PatternDefinitionError } from "./errors.ts";
export { patternFromSpec } from "./spec.ts";
