/** Complex event processing: a pattern of stages matched per key in event time. */
import { bool, cel, duration, int, list, map, obj, oneOf, str, type Schema } from "./builders.ts";
import { atMostOne, custom, numberAtMost, requiredWhen, requires, type Obj } from "./rules.ts";

const stageVars = ["record", "key", "match"] as const;
const looping = (s: Obj): boolean => s.timesOrMore !== undefined || s.oneOrMore === true || s.times !== undefined;

const stage: Schema = obj(
  "PatternStage",
  "One stage of a pattern (Flink CEP's Pattern). `match` in expressions maps earlier stage names to their matched records (iterative conditions).",
  {
    name: str("Stage name; the match output groups records by it.", { pattern: "^[A-Za-z_][A-Za-z0-9_]*$", maxLength: 64 }),
    contiguity: oneOf(
      ["next", "followedBy", "followedByAny", "notNext", "notFollowedBy"],
      "How this stage follows the previous one: strict (next), relaxed (followedBy), non-deterministic relaxed (followedByAny), or the negations. Not set on the first stage.",
    ),
    where: cel("A record belongs to this stage when true.", "bool", stageVars),
    or: list("Alternative conditions (where OR any of these).", cel("An alternative condition.", "bool", stageVars), { max: 16 }),
    until: cel("Stop condition of a looping stage.", "bool", stageVars),
    times: int("Exactly this many records (or from times to timesMax).", { min: 1, max: 1000 }),
    timesMax: int("With times: at most this many.", { min: 1, max: 1000 }),
    timesOrMore: int('At least this many records ("more than 5" is timesOrMore: 6).', { min: 1, max: 1000 }),
    oneOrMore: bool("One or more records."),
    optional: bool("The stage may be skipped."),
    greedy: bool("A looping stage takes as many records as it can."),
    consecutive: bool("A looping stage's records must be contiguous (strict within the loop)."),
  },
  {
    required: ["name", "where"],
    rules: [
      atMostOne(["times", "timesOrMore", "oneOrMore"]),
      requires("timesMax", "times", "timesMax needs times"),
      numberAtMost("times", "timesMax", "times must not exceed timesMax"),
      custom(
        "!has(self.greedy) || !self.greedy || has(self.times) || has(self.timesOrMore) || (has(self.oneOrMore) && self.oneOrMore)",
        "greedy needs a looping quantifier (times, timesOrMore or oneOrMore)",
        (s) => s.greedy !== true || looping(s),
        { fieldPath: ".greedy" },
      ),
      custom(
        "!has(self.until) || has(self.timesOrMore) || (has(self.oneOrMore) && self.oneOrMore)",
        "until needs timesOrMore or oneOrMore",
        (s) => s.until === undefined || s.timesOrMore !== undefined || s.oneOrMore === true,
        { fieldPath: ".until" },
      ),
      custom(
        "!has(self.consecutive) || !self.consecutive || has(self.times) || has(self.timesOrMore) || (has(self.oneOrMore) && self.oneOrMore)",
        "consecutive needs a looping quantifier",
        (s) => s.consecutive !== true || looping(s),
        { fieldPath: ".consecutive" },
      ),
      custom(
        "!has(self.contiguity) || !(self.contiguity in ['notNext', 'notFollowedBy']) || (!has(self.times) && !has(self.timesOrMore) && !has(self.oneOrMore) && !has(self.optional))",
        "a notNext/notFollowedBy stage takes no quantifier and cannot be optional",
        (s) =>
          !(s.contiguity === "notNext" || s.contiguity === "notFollowedBy") ||
          (s.times === undefined && s.timesOrMore === undefined && s.oneOrMore === undefined && s.optional === undefined),
      ),
    ],
  },
);

const lastContiguity = (s: Obj): unknown => {
  const stages = Array.isArray(s.stages) ? (s.stages as Obj[]) : [];
  return stages.at(-1)?.contiguity;
};

/** A CEP pattern step. */
export const cep = obj(
  "CepStep",
  "Matches a pattern of stages per key in event time (an NFA whose partial matches live in keyed state). Emits one record per match; partial matches that time out go to `<id>.timedOut` when enabled.",
  {
    stages: list("The pattern, in order.", stage, { min: 1, max: 16, mapKeys: ["name"] }),
    within: duration("A match must complete within this time from its first record; older partial matches are dropped."),
    afterMatchSkip: obj(
      "AfterMatchSkip",
      "Which partial matches survive after a match.",
      {
        strategy: oneOf(["noSkip", "skipToNext", "skipPastLastEvent", "skipToFirst", "skipToLast"], "The skip strategy.", "noSkip"),
        stage: str("For skipToFirst/skipToLast: the stage name.", { maxLength: 64 }),
      },
      { rules: [requiredWhen("strategy", ["skipToFirst", "skipToLast"], "stage")] },
    ),
    select: map(
      "Output record for a match: field → expression (default: {key, match} with the matched records by stage).",
      cel("The field's value.", "dyn", ["key", "match"]),
      256,
    ),
    timedOut: bool("Send timed-out partial matches to the side output `<id>.timedOut`.", false),
  },
  {
    required: ["stages"],
    rules: [
      custom(
        "size(self.stages) == 0 || !has(self.stages[0].contiguity)",
        "the first stage begins the pattern and must not set contiguity",
        (s) => !Array.isArray(s.stages) || s.stages.length === 0 || (s.stages[0] as Obj).contiguity === undefined,
        { fieldPath: ".stages" },
      ),
      custom(
        "size(self.stages) == 0 || !has(self.stages[size(self.stages) - 1].contiguity) || self.stages[size(self.stages) - 1].contiguity != 'notFollowedBy' || has(self.within)",
        "a pattern ending in notFollowedBy needs within",
        (s) => lastContiguity(s) !== "notFollowedBy" || s.within !== undefined,
        { fieldPath: ".within", reason: "FieldValueRequired" },
      ),
      custom(
        "!has(self.afterMatchSkip) || !has(self.afterMatchSkip.stage) || self.stages.exists(s, s.name == self.afterMatchSkip.stage)",
        "afterMatchSkip.stage must name a stage",
        (s) => {
          const skipTo = (s.afterMatchSkip as Obj | undefined)?.stage;
          return skipTo === undefined || (Array.isArray(s.stages) && (s.stages as Obj[]).some((st) => st.name === skipTo));
        },
        { fieldPath: ".afterMatchSkip.stage" },
      ),
    ],
  },
);
