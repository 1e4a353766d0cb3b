/** Windows and OVER aggregations, and the aggregation functions they share. */
import { bool, cel, duration, int, list, map, obj, oneOf, str, type Schema } from "./builders.ts";
import { allowedOnlyWhen, durationAtMost, requiredWhen } from "./rules.ts";

const rec = ["record", "key"] as const;

const needsOf = ["sum", "avg", "min", "max", "countDistinct", "collect", "topN", "first", "last"] as const;

/** One aggregation computed per key and window (or per OVER range). */
export const aggregation: Schema = obj(
  "Aggregation",
  "One aggregate value; it becomes the output field `name`.",
  {
    name: str("Output field name.", { pattern: "^[A-Za-z_][A-Za-z0-9_]*$", maxLength: 128 }),
    fn: oneOf(["count", "sum", "avg", "min", "max", "countDistinct", "collect", "topN", "first", "last"], "The aggregate function."),
    of: cel("The value aggregated (not used by count).", "dyn", rec),
    where: cel("Only records for which this is true are aggregated (count where …).", "bool", rec),
    distinct: bool("For collect: keep each value once.", false),
    limit: int("For topN: how many entries to keep.", { min: 1, max: 10000 }),
    by: cel(
      "For topN: the ranking value (highest first unless order is asc; equal values rank by the value itself, whatever the arrival order); defaults to `of`.",
      "double",
      rec,
    ),
    order: oneOf(["desc", "asc"], "For topN: ranking order.", "desc"),
  },
  {
    required: ["name", "fn"],
    rules: [
      requiredWhen("fn", needsOf, "of"),
      requiredWhen("fn", ["topN"], "limit"),
      allowedOnlyWhen("fn", ["topN"], "by"),
      allowedOnlyWhen("fn", ["topN"], "limit"),
    ],
  },
);

/** The aggregations list, keyed by output name. */
export const aggregations: Schema = list("The aggregations; each becomes a field of the output record.", aggregation, { min: 1, max: 64, mapKeys: ["name"] });

const select = (vars: readonly string[]): Schema =>
  map(
    "Shapes the output record: field name → expression. Without it the output is the default record described above.",
    cel("The field's value.", "dyn", vars),
    256,
  );

/** Keyed event-time windows. */
export const window = obj(
  "WindowStep",
  "Event-time windows over a keyed stream. Emits one record per key and window when the watermark passes the window end: {key, windowStart, windowEnd, <aggregation names>…} (`record` in `select`). On a cluster, a tumbling or sliding window whose aggregations are all count, min, max, countDistinct, collect, topN, first or last, without allowedLateness, lateOutput or trigger, is pre-aggregated before its repartition topic: each task sends one partial result per key and window per micro-batch instead of every record; the results are the same.",
  {
    type: oneOf(["tumbling", "sliding", "session", "global"], "The window assigner."),
    size: duration("Window length (tumbling, sliding)."),
    slide: duration("How often a sliding window starts (sliding only)."),
    gap: duration("Inactivity that closes a session (session only)."),
    offset: duration("Shifts window boundaries (e.g. 8h for days starting at UTC+8 midnight); tumbling and sliding."),
    allowedLateness: duration("Keeps window state this long after the window end; late records re-fire the window.", "0s"),
    lateOutput: bool("Send records too late for every window to the side output `<id>.late` instead of dropping them (they are counted either way).", false),
    trigger: obj(
      "WindowTrigger",
      "When a window fires instead of at the watermark; required for global windows.",
      {
        count: int("Fire every this many records per key and window.", { min: 1, max: 100_000_000 }),
      },
      { required: ["count"] },
    ),
    aggregations,
    select: select(["record", "key", "window"]),
  },
  {
    required: ["type", "aggregations"],
    rules: [
      requiredWhen("type", ["tumbling", "sliding"], "size"),
      requiredWhen("type", ["sliding"], "slide"),
      requiredWhen("type", ["session"], "gap"),
      requiredWhen("type", ["global"], "trigger"),
      allowedOnlyWhen("type", ["sliding"], "slide"),
      allowedOnlyWhen("type", ["session"], "gap"),
      allowedOnlyWhen("type", ["tumbling", "sliding"], "size"),
      allowedOnlyWhen("type", ["tumbling", "sliding"], "offset"),
      durationAtMost("slide", "size", "slide must not exceed size"),
      durationAtMost("offset", "size", "offset must not exceed size"),
    ],
  },
);

/** OVER (range) aggregations: each record with aggregates over the key's preceding range. */
export const over = obj(
  "OverStep",
  "OVER aggregation per key: each record is emitted with aggregates over the key's records in the preceding `range` of event time (including itself), e.g. 1-hour ML features. Without `range` the aggregates run over everything seen for the key (a running profile).",
  {
    range: duration("Length of the preceding event-time range; unbounded when absent."),
    aggregations,
    select: select(["record", "key"]),
  },
  { required: ["aggregations"] },
);
