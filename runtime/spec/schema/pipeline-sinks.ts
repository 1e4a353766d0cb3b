/** Pipeline sinks: Kafka, Redis (sorted set / hash with TTL), files and stdout. */
import { bool, cel, duration, int, map, obj, oneOf, str, type Schema } from "./builders.ts";
import { id, ref, secretKeyRef, topicName } from "./common.ts";
import { atLeastOne, atMostOne, exactlyOne } from "./rules.ts";

const rec = ["record", "key"] as const;

const kafkaSink = obj(
  "KafkaSink",
  "Writes to a Kafka topic; with checkpoint mode exactly-once, inside each task's checkpoint transaction.",
  {
    topic: topicName("The topic to write."),
    format: oneOf(["json", "string"], "How records are encoded.", "json"),
    key: cel("The Kafka record key (default: the stream's key when keyed, none otherwise).", "string", rec),
    partitions: int("Partitions to create the topic with if it does not exist.", { min: 1, max: 10000 }),
    headers: map("Kafka headers: name → expression.", cel("Header value.", "string", rec), 32),
    timestamps: oneOf(
      ["event-time", "processing-time"],
      "The records' Kafka timestamps: their event time (a replay writes identical records), or the time they are written. Time-based retention (`retention.ms`) counts from this timestamp, so with event time, records whose event time is older than the topic's retention are deleted soon after they are written.",
      "event-time",
    ),
  },
  { required: ["topic"] },
);

/** Where a Redis server is (shared by the Redis sink and the Redis lookup join). */
export const redisEndpointFields = {
  address: str("host:port of the Redis server.", { pattern: "^[^\\s:]+:[0-9]{1,5}$", maxLength: 261, hint: "host:port, e.g. redis:6379" }),
  database: int("Database number.", { min: 0, max: 15, default: 0 }),
  passwordSecretRef: secretKeyRef,
  tls: bool("Connect with TLS.", false),
  keyPrefix: str("Prepended to every key the job uses (e.g. an environment name, to share one Redis).", { maxLength: 256 }),
};

const redisSink = obj(
  "RedisSink",
  "Writes to Redis: one sorted set or hash per record key, with a TTL, in one pipeline per round. Writes are idempotent: replayed after a crash they give the same state, and with `version` a key never goes back to an older value. They are not part of Kafka transactions (a reader may see a write before its checkpoint commits).",
  {
    ...redisEndpointFields,
    sortedSet: obj(
      "RedisSortedSet",
      "ZADD members to a sorted set.",
      {
        key: cel("The Redis key (e.g. 'rec:' + record.userId).", "string", rec),
        member: cel("The member; or a list of {member, score} maps when `score` is absent.", "dyn", rec),
        score: cel("The member's score.", "double", rec),
        maxSize: int("Keep only the highest-scored members.", { min: 1, max: 1_000_000 }),
        replace: bool("Replace the whole set with each record (for ranked top-N lists).", false),
      },
      { required: ["key", "member"] },
    ),
    hash: obj(
      "RedisHash",
      "HSET fields of a hash.",
      {
        key: cel("The Redis key.", "string", rec),
        fields: map("Hash fields: name → expression.", cel("Field value.", "string", rec), 256),
      },
      { required: ["key", "fields"] },
    ),
    ttl: duration("Expire the key this long after its last write."),
    version: cel(
      "A version of each write (e.g. record.windowEnd): a write older than the key's stored version (kept in `<key>#version`) is skipped, so a replay never moves a key back.",
      "int",
      rec,
    ),
  },
  { required: ["address"], rules: [exactlyOne(["sortedSet", "hash"])] },
);

const fileSink = obj(
  "FileSink",
  "Writes to files with two-phase commit (exactly once in local mode).",
  {
    path: str("Output file (or folder for rolling files), relative to the manifest's folder in local mode.", { maxLength: 4096, minLength: 1 }),
    format: oneOf(["ndjson", "csv"], "File format.", "ndjson"),
  },
  { required: ["path"] },
);

const stdoutSink = obj("StdoutSink", "Prints records (local mode and debugging).", {
  format: oneOf(["json", "text"], "How records are printed.", "json"),
});

const blackhole = obj("BlackholeSink", "Discards records (benchmarks).", {});

const localSink = obj(
  "LocalSink",
  "What replaces this sink when the manifest runs locally (default: stdout).",
  {
    file: fileSink,
    stdout: stdoutSink,
    blackhole,
  },
  { rules: [atMostOne(["file", "stdout", "blackhole"]), atLeastOne(["file", "stdout", "blackhole"])] },
);

/** One pipeline sink. */
export const sink: Schema = obj(
  "Sink",
  "An output of the pipeline. Set `input` and exactly one sink kind.",
  {
    id: id("Unique id of the sink."),
    input: ref("The stream written."),
    kafka: kafkaSink,
    redis: redisSink,
    file: fileSink,
    stdout: stdoutSink,
    blackhole,
    local: localSink,
  },
  { required: ["id", "input"], rules: [exactlyOne(["kafka", "redis", "file", "stdout", "blackhole"], "sink kind of")] },
);
