/** Pipeline sources: Kafka topics (streams, tables, broadcast rules) and local generators for `runnel run`. */
import { bool, cel, duration, int, intOrString, list, map, num, obj, oneOf, str, type Schema } from "./builders.ts";
import { id, notReserved, topicName } from "./common.ts";
import { allowedOnlyWhen, atLeastOne, atMostOne, custom, numberAtMost, requiredWhen } from "./rules.ts";

const formats = ["json", "string", "bytes"] as const;

const kafkaSource = obj(
  "KafkaSource",
  "Reads one Kafka topic through the job's Kafka connection.",
  {
    topic: topicName("The topic to read."),
    format: oneOf(formats, "How record values are decoded: json objects, UTF-8 strings (as {value}) or raw bytes (as {value} in base64).", "json"),
    keyFormat: oneOf(["string", "json", "bytes", "none"], "How record keys are decoded; the key is available as `key` in expressions.", "string"),
    partitions: int(
      "The topic's partition count, when known: parallelism may not exceed it (a worker with no partition would idle), and internal topics are created with it.",
      { min: 1, max: 10000 },
    ),
    partitionedBy: str("The record field the topic is keyed by. A keyBy on exactly `record.<field>` then needs no repartition topic.", { maxLength: 253 }),
    startOffset: oneOf(["earliest", "latest"], "Where a job without a checkpoint or savepoint starts reading.", "earliest"),
    bounded: bool(
      "Read only up to the end offsets seen at start, then finish (batch over historical data); the job completes when every bounded source has.",
      false,
    ),
  },
  { required: ["topic"] },
);

const fieldGenerator = obj(
  "FieldGenerator",
  "How a local generator fills one field.",
  {
    kind: oneOf(
      ["key", "choice", "int", "double", "bool", "uuid", "sequence", "eventTime", "constant"],
      "The generator: `key` draws from a (skewed) key space, `choice` from `values`, `int`/`double` uniformly in [min, max], `eventTime` is the record's event time in ms.",
    ),
    prefix: str("For kind=key: prefix of generated keys (`u` gives u0, u1, …).", { maxLength: 64 }),
    cardinality: int("For kind=key: number of distinct keys.", { min: 1, max: 100_000_000 }),
    skew: num("For kind=key: Zipf exponent; 0 is uniform.", { min: 0, max: 10 }),
    values: list("For kind=choice: the values to pick from (strings or integers).", intOrString("A value."), { max: 1000, min: 1 }),
    weights: list("For kind=choice: relative weight of each value (same length as values).", num("A weight.", { min: 0 }), { max: 1000 }),
    min: num("For kind=int/double: smallest value."),
    max: num("For kind=int/double: largest value."),
    probability: num("For kind=bool: probability of true.", { min: 0, max: 1 }),
    value: intOrString("For kind=constant: the value (a string or an integer)."),
  },
  {
    required: ["kind"],
    rules: [
      requiredWhen("kind", ["choice"], "values"),
      requiredWhen("kind", ["key"], "cardinality"),
      requiredWhen("kind", ["int", "double"], "min"),
      requiredWhen("kind", ["int", "double"], "max"),
      requiredWhen("kind", ["constant"], "value"),
      allowedOnlyWhen("kind", ["choice"], "weights"),
      numberAtMost("min", "max", "min must not exceed max"),
      custom(
        "!has(self.weights) || !has(self.values) || size(self.weights) == size(self.values)",
        "weights must have one entry per value",
        (s) => !Array.isArray(s.weights) || !Array.isArray(s.values) || s.weights.length === s.values.length,
        { fieldPath: ".weights" },
      ),
    ],
  },
);

const generator = obj(
  "GeneratorSource",
  "A deterministic, seeded record generator (local mode and tests).",
  {
    rate: int("Records per second; 0 means as fast as possible.", { min: 0, max: 100_000_000, default: 1000 }),
    count: int("Stop after this many records (a bounded source); unbounded when absent.", { min: 1, int64: true }),
    seed: int("Random seed; the same seed gives the same records.", { default: 1 }),
    partitions: int("Simulated partitions (tasks).", { min: 1, max: 1024, default: 4 }),
    outOfOrderness: duration("Maximum event-time disorder the generator introduces.", "0s"),
    fields: map("The fields of each record, by name.", fieldGenerator, 64),
  },
  { required: ["fields"] },
);

const fileSource = obj(
  "FileSource",
  "Reads newline-delimited JSON from a file (replayable: positions are byte offsets). A line that is not a JSON object goes to the dead-letter stream with its `file:line`; the job goes on.",
  {
    path: str("Path of the file, relative to the manifest's folder in local mode.", { maxLength: 4096, minLength: 1 }),
  },
  { required: ["path"] },
);

const localSource = obj(
  "LocalSource",
  "What replaces the Kafka source when the manifest runs locally (`runnel run`).",
  { generator, file: fileSource },
  { rules: [atMostOne(["generator", "file"]), atLeastOne(["generator", "file"])] },
);

/** One pipeline source. */
export const source: Schema = obj(
  "Source",
  "An input stream of the pipeline.",
  {
    id: id("Unique id of the source; steps and sinks name it in `input`."),
    mode: oneOf(
      ["stream", "table", "broadcast"],
      "How tasks read the topic: `stream` partition by partition (each task its own), `table` as a compacted topic materialised into local state for lookup joins (every task reads all partitions), `broadcast` as a rules/config stream every task sees in full.",
      "stream",
    ),
    kafka: kafkaSource,
    local: localSource,
    timestamp: obj(
      "EventTime",
      "Where each record's event time comes from. When absent: the Kafka record timestamp (on a cluster), the generator's event time (`local.generator`), or the time the record is read (`local.file`). A record whose event time is missing or unreadable goes to the dead-letter stream (reason `event-time`).",
      {
        field: str("The record field holding the event time.", { maxLength: 253 }),
        expression: cel("Computes the event time.", "int", ["record", "key"]),
        format: oneOf(["epoch-millis", "epoch-seconds", "iso-8601"], "How the field or expression result is read.", "epoch-millis"),
      },
      { rules: [atMostOne(["field", "expression"]), atLeastOne(["field", "expression"])] },
    ),
    watermark: obj("Watermark", "Event-time progress of this source, per partition (min across partitions and inputs).", {
      outOfOrderness: duration("Bounded out-of-orderness: the watermark trails the highest event time seen by this much.", "0s"),
      idleness: duration("A partition with no records for this long stops holding the watermark back."),
    }),
    fields: map(
      "Declared record fields and their CEL types (string, int, double, bool, timestamp, list<T>, map<string,T>, dyn), used to type-check expressions and enforced on every record: a record whose field holds another type goes to the dead-letter stream (reason `field-type`). Absent and null fields pass.",
      str("A CEL type.", { maxLength: 128, pattern: "^[a-z][a-z0-9<>, ]*$" }),
      256,
    ),
    fieldTypes: oneOf(
      ["enforce", "coerce"],
      "How declared `fields` types meet each record: `enforce` dead-letters a record whose field has another type; `coerce` first converts what converts without loss (numeric strings to int or double, numbers and booleans to string, the strings true/false to bool) and dead-letters the rest.",
      "enforce",
    ),
  },
  {
    required: ["id"],
    rules: [atLeastOne(["kafka", "local"]), notReserved],
  },
);

/** The list of sources, keyed by id. */
export const sources: Schema = list("The pipeline's inputs.", source, { min: 1, max: 32, mapKeys: ["id"] });
