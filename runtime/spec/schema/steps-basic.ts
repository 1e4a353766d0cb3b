/** Record-at-a-time steps: filter, clean, map, project, explode, keyBy, route, union, dedup, score. */
import { bool, cel, duration, int, list, map, num, obj, oneOf, str, type Schema } from "./builders.ts";
import { requires } from "./rules.ts";

const rec = ["record", "key"] as const;

const fieldName = (description: string): Schema =>
  str(description, { pattern: "^[A-Za-z_][A-Za-z0-9_]*$", maxLength: 128, hint: "a field name: letters, digits and _" });

/** Keeps records for which the condition holds. */
export const filter = obj(
  "FilterStep",
  "Keeps the records for which `condition` is true.",
  {
    condition: cel("Keep the record when true.", "bool", rec),
    onReject: oneOf(
      ["drop", "dead-letter", "side-output"],
      "What happens to rejected records: dropped (still counted), sent to the dead-letter stream with `reason`, or to the side output `<id>.rejected`.",
      "drop",
    ),
    reason: str("Label for rejected records in metrics and dead letters.", { maxLength: 128 }),
  },
  { required: ["condition"] },
);

/** Named validity checks; failures are counted and routed, never silently lost. */
export const clean = obj(
  "CleanStep",
  "Checks each record against named rules (e.g. bad ids, non-positive amounts, invalid coordinates). A record failing any rule is counted under that rule's name and routed by `onInvalid`.",
  {
    rules: list(
      "The checks, in order; the first failing rule names the reason.",
      obj(
        "CleanRule",
        "One validity check.",
        { name: fieldName("Name of the check, used as the reason."), condition: cel("True when the record is valid.", "bool", rec) },
        { required: ["name", "condition"] },
      ),
      { min: 1, max: 64, mapKeys: ["name"] },
    ),
    onInvalid: oneOf(
      ["dead-letter", "drop", "side-output"],
      "Where invalid records go: the dead-letter stream, nowhere (counted only), or the side output `<id>.invalid`.",
      "dead-letter",
    ),
  },
  { required: ["rules"] },
);

/** Replaces each record with the result of an expression. */
export const mapStep = obj(
  "MapStep",
  "Replaces each record with the value of `expression` (a CEL map literal builds a new record).",
  { expression: cel("The new record.", "map", rec) },
  { required: ["expression"] },
);

/** Builds records field by field. */
export const project = obj(
  "ProjectStep",
  "Builds each output record field by field.",
  {
    fields: map("Output fields and the expressions computing them.", cel("The field's value.", "dyn", rec), 256),
    keep: bool("Keep the input record's other fields (then `fields` adds or overwrites).", false),
    drop: list("With keep: input fields to remove.", fieldName("A field name."), { max: 256 }),
  },
  { required: ["fields"], rules: [requires("drop", "keep", "drop only makes sense with keep: true")] },
);

/** flatMap as explode: one output record per element of a list. */
export const explode = obj(
  "ExplodeStep",
  "Emits one record per element of a list (flatMap).",
  {
    expression: cel("The list to explode.", "list", rec),
    as: fieldName("Field the element is put under; without it each element (a map) becomes the record."),
    keepParent: bool("With `as`: copy the input record's fields into each output record.", true),
  },
  { required: ["expression"] },
);

/** Keys the stream; repartitions through Kafka unless the source is already partitioned by this key. */
export const keyBy = obj(
  "KeyByStep",
  "Keys the stream. Keyed state, windows, CEP and process steps downstream are per key. A key the input is not partitioned by goes through an internal repartition topic.",
  {
    key: cel("The key; a list (e.g. [record.type, record.region]) makes a composite key.", "dyn", rec),
    partitions: int("Partitions of the repartition topic (default: the input's partition count).", { min: 1, max: 10000 }),
  },
  { required: ["key"] },
);

/** Splits a stream into named side outputs. */
export const route = obj(
  "RouteStep",
  "Sends records to named side outputs `<id>.<route>` by condition.",
  {
    routes: list(
      "The routes, in order.",
      obj(
        "Route",
        "One side output and its condition.",
        { name: fieldName("Name of the side output."), condition: cel("Send the record to this output when true.", "bool", rec) },
        { required: ["name", "condition"] },
      ),
      { min: 1, max: 32, mapKeys: ["name"] },
    ),
    match: oneOf(["first", "all"], "Send a record to the first matching route only, or to every matching route.", "first"),
    otherwise: oneOf(["main", "drop"], "Records matching no route go to the main output or are dropped.", "main"),
  },
  { required: ["routes"] },
);

/** Merges several streams. */
export const union = obj("UnionStep", "Merges the streams named in the step's `inputs` (records keep their order within each input).", {});

/** Drops repeated records. */
export const dedup = obj(
  "DedupStep",
  "Drops records whose key was already seen within `within` (state per key, expired by TTL).",
  {
    key: cel("What makes two records duplicates (e.g. record.eventId).", "dyn", rec),
    within: duration("How long a key is remembered."),
    keep: oneOf(["first"], "Which record of duplicates is kept.", "first"),
  },
  { required: ["key", "within"] },
);

/** A linear or logistic scoring model with weights carried in the spec. */
export const score = obj(
  "ScoreStep",
  "Scores each record with a model whose weights are in the spec: linear `intercept + Σ weight·feature`, logistic the sigmoid of that. Adds the score (and a decision) to the record.",
  {
    model: oneOf(["logistic", "linear"], "The model.", "logistic"),
    intercept: num("The bias term.", { default: 0 }),
    features: list(
      "Model inputs.",
      obj(
        "ScoreFeature",
        "One weighted feature.",
        { name: fieldName("Feature name (for explanations)."), expression: cel("The feature value.", "double", rec), weight: num("The weight.") },
        { required: ["name", "expression", "weight"] },
      ),
      { min: 1, max: 256, mapKeys: ["name"] },
    ),
    as: { ...fieldName("Field receiving the score."), default: "score" },
    threshold: obj(
      "ScoreThreshold",
      "Turns the score into a decision.",
      {
        value: num("Scores at or above this are `above`."),
        field: { ...fieldName("Field receiving the decision."), default: "decision" },
        above: str("Decision at or above the threshold, e.g. BLOCK.", { maxLength: 64 }),
        below: str("Decision below the threshold, e.g. ALLOW.", { maxLength: 64 }),
      },
      { required: ["value", "above", "below"] },
    ),
  },
  { required: ["features"] },
);
