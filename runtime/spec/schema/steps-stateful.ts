/** Keyed process functions with declared state and timers, broadcast rules, lookup joins. */
import { cel, duration, int, list, map, obj, oneOf, str, type Schema } from "./builders.ts";
import { redisEndpointFields } from "./pipeline-sinks.ts";
import { ref } from "./common.ts";
import { atLeastOne, exactlyOne, requires } from "./rules.ts";

const stateName = (description: string): Schema =>
  str(description, { pattern: "^[A-Za-z_][A-Za-z0-9_]*$", maxLength: 64, hint: "a name: letters, digits and _" });
const actionVars = ["record", "key", "state", "timer", "watermark"] as const;

const stateDecl = obj(
  "StateDeclaration",
  "One piece of keyed state, visible to expressions as `state.<name>`.",
  {
    name: stateName("State name."),
    kind: oneOf(["value", "list", "map"], "value holds one value, list an ordered list, map string keys to values."),
    initial: cel("Value before the first update (value state).", "dyn", ["key"]),
    ttl: duration("State of a key not updated for this long is dropped."),
    maxSize: int("For list and map: oldest entries beyond this are dropped.", { min: 1, max: 1_000_000 }),
  },
  { required: ["name", "kind"] },
);

const action = obj(
  "ProcessAction",
  "One declarative action: optionally guarded by `when`, it updates state, emits records or manages timers. Actions run in order; later actions see earlier updates.",
  {
    when: cel("Run this action only when true.", "bool", actionVars),
    set: map("Value states to set: name → new value.", cel("The new value.", "dyn", actionVars), 64),
    put: obj(
      "StatePut",
      "Puts an entry into a map state.",
      { state: stateName("Map state name."), key: cel("Entry key.", "string", actionVars), value: cel("Entry value.", "dyn", actionVars) },
      { required: ["state", "key", "value"] },
    ),
    remove: obj(
      "StateRemove",
      "Removes an entry from a map state.",
      { state: stateName("Map state name."), key: cel("Entry key.", "string", actionVars) },
      { required: ["state", "key"] },
    ),
    append: obj(
      "StateAppend",
      "Appends to a list state.",
      { state: stateName("List state name."), value: cel("The element.", "dyn", actionVars) },
      { required: ["state", "value"] },
    ),
    clear: list("States to clear.", stateName("A state name."), { max: 64 }),
    emit: map("Emits a record: field → expression.", cel("The field's value.", "dyn", actionVars), 256),
    emitTo: stateName("Emit to the side output `<id>.<emitTo>` instead of the main output."),
    schedule: obj(
      "TimerSchedule",
      "Registers a timer of this key.",
      {
        timer: stateName("Name of a declared timer."),
        after: duration("Fire this long after the record's event time (or now, for processing-time timers)."),
        at: cel("Fire at this time (ms since the epoch).", "int", actionVars),
      },
      { required: ["timer"], rules: [exactlyOne(["after", "at"])] },
    ),
    cancel: stateName("Deletes this key's pending timer of that name."),
  },
  { rules: [atLeastOne(["set", "put", "remove", "append", "clear", "emit", "schedule", "cancel"]), requires("emitTo", "emit", "emitTo needs emit")] },
);

const timer = obj(
  "TimerDeclaration",
  "A named per-key timer and what happens when it fires (`timer` holds {name, timestamp}).",
  {
    name: stateName("Timer name."),
    domain: oneOf(["event-time", "processing-time"], "The clock: event time fires when the watermark passes, processing time by the wall clock.", "event-time"),
    every: duration("Fire periodically for every key that has state (e.g. refresh interest tags every 5m)."),
    actions: list("What to do when it fires.", action, { min: 1, max: 32 }),
  },
  { required: ["name", "actions"] },
);

/** A keyed process function written declaratively. */
export const processStep = obj(
  "ProcessStep",
  "A keyed process function: declared state, actions per record, and timers (event or processing time). Expressions see `record`, `key`, `state`, `timer` (in a timer's actions) and `watermark`, the step's current event-time watermark in epoch ms (an event-time timer at or below it would fire at the next watermark: act at once instead). For logic beyond this, use a `module` job.",
  {
    state: list("Keyed state.", stateDecl, { max: 32, mapKeys: ["name"] }),
    onRecord: list("Actions for each record.", action, { min: 1, max: 64 }),
    timers: list("Timers.", timer, { max: 16, mapKeys: ["name"] }),
  },
  { required: ["onRecord"] },
);

/** Applies rules that arrive at run time on a broadcast stream. */
export const broadcastRules = obj(
  "BroadcastRulesStep",
  "Applies rules from a broadcast source to every record of the input, without a restart: new, changed and deleted rules apply to the records that follow. Rules are kept in broadcast state (checkpointed). A rule may carry its own CEL condition in `conditionField`, compiled once when the rule arrives.",
  {
    rules: ref("The broadcast source of rules."),
    ruleId: { ...cel("The id of a rule; a later rule with the same id replaces it.", "string", ["rule"]), default: "rule.id" },
    deleteWhen: cel("True for a rule message that deletes the rule with its id (e.g. a tombstone).", "bool", ["rule"]),
    condition: cel("Fixed condition applied with each rule.", "bool", ["record", "key", "rule"]),
    conditionField: str("Name of the rule field holding a CEL condition over `record`, `key` and `rule`.", { maxLength: 128 }),
    match: oneOf(["first", "all"], "Emit for the first matching rule (in rule-id order) or for every matching rule.", "first"),
    unmatched: oneOf(["drop", "pass"], "Records matching no rule are dropped or passed on unchanged.", "drop"),
    emit: map(
      "Output record for a match: field → expression (default: the record with `rule` set to the rule id and `action` copied from the rule).",
      cel("The field's value.", "dyn", ["record", "key", "rule"]),
      256,
    ),
  },
  { required: ["rules"], rules: [exactlyOne(["condition", "conditionField"])] },
);

/** Where a Redis lookup join reads its rows: one hash per key, cached per worker. */
const redisLookup = obj(
  "RedisLookup",
  "Looks rows up in Redis hashes (`keyPrefix` + the lookup key), asynchronously: the keys of a micro-batch not in the cache are fetched in one pipeline before its records are joined. Rows are cached per task (bounded, with a time to live), so a change in Redis shows after at most `cache.ttl`.",
  {
    ...redisEndpointFields,
    fields: list("Hash fields to read (default: every field).", str("A field name.", { maxLength: 256 }), { max: 256 }),
    cache: obj(
      "LookupCache",
      "The per-task cache of looked-up rows (absent rows are cached too).",
      {
        maxEntries: int("Rows kept; the least recently used go first.", { min: 0, max: 10_000_000, default: 100_000 }),
        ttl: duration("How long a cached row is used before it is fetched again.", "1m"),
      },
      {},
    ),
    local: obj(
      "RedisLookupLocal",
      "What replaces Redis when the manifest runs locally (default: the Redis at `address`).",
      {
        file: obj(
          "RedisLookupFile",
          "An ndjson file of rows, each with its lookup key in `key` (or `id`).",
          { path: str("The file, relative to the manifest's folder.", { minLength: 1, maxLength: 4096 }) },
          { required: ["path"] },
        ),
      },
      { required: ["file"] },
    ),
  },
  { required: ["address"] },
);

/** Enriches records from a table (a compacted topic materialised into local state) or from Redis hashes. */
export const lookupJoin = obj(
  "LookupJoinStep",
  "Joins each record with the current row of its key — a dimension-table lookup — from a table source (mode: table, a compacted topic kept in memory) or from Redis hashes (`redis`, looked up per micro-batch through a cache).",
  {
    table: ref("The table source."),
    redis: redisLookup,
    key: cel("The lookup key computed from the record.", "string", ["record", "key"]),
    tableKey: cel("The key of a table row (default: the Kafka record key).", "string", ["row"]),
    type: oneOf(["inner", "left"], "inner drops records without a row; left keeps them (row is null).", "left"),
    as: str("Field the row is put under (default: `row`); ignored with select.", { pattern: "^[A-Za-z_][A-Za-z0-9_]*$", maxLength: 128 }),
    select: map("Output record: field → expression over record and row.", cel("The field's value.", "dyn", ["record", "key", "row"]), 256),
  },
  { required: ["key"], rules: [exactlyOne(["table", "redis"], "row source of"), requires("tableKey", "table", "tableKey applies to table sources only")] },
);
