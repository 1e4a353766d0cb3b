/**
 * A StreamJob's Kafka sources and sinks as a worker runs them: sources read their topic with
 * static assignment (broadcast sources in full), values decoded per `format`, and records that
 * cannot be decoded go to the dead-letter topic; Kafka sinks write JSON through the task's
 * transaction with the key the spec names (else the stream's key).
 */
import { createKafkaClient, type KafkaConnection } from "../kafka/index.ts";
import { DEAD_LETTER_HEADERS, type DeadLetterQueue } from "../connectors/kafka/dead-letter.ts";
import type { DeadLetter } from "../pipeline/context.ts";
import { DEAD_LETTER } from "../spec/pipeline-graph.ts";
import { createKafkaSink } from "../connectors/kafka/sink.ts";
import { createKafkaSource, jsonValue, type KafkaMessageIn } from "../connectors/kafka/source.ts";
import type { Sink, Source } from "../connectors/types.ts";
import { recordFn } from "../pipeline/expr.ts";
import { KEY, keyOf, plain, TOMBSTONE, toJson, toKey } from "../pipeline/values.ts";
import type { Sink as SinkSpec, Source as SourceSpec } from "../spec/generated/types.ts";
import { RecordError } from "../errors.ts";

/**
 * Where a record came from, carried on it (a registered symbol, invisible to CEL and JSON) so a
 * step that rejects it can dead-letter the original bytes with their coordinates. Repartition
 * topics carry the coordinates but not the bytes.
 */
export const ORIGIN: unique symbol = Symbol.for("runnel.origin");

/** A record's origin in its source topic. */
export interface Origin {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  /** The original key and value (absent after a repartition topic). */
  key?: Buffer | null;
  value?: Buffer | null;
}

/** Decodes a message's value as the source's `format` says, noting its origin on the record. */
function decoder(spec: SourceSpec): (m: KafkaMessageIn) => unknown {
  const format = spec.kafka?.format ?? "json";
  const decode =
    format === "json"
      ? (m: KafkaMessageIn): Record<string | symbol, unknown> => {
          const v = jsonValue<unknown>(m);
          if (v === null || typeof v !== "object" || Array.isArray(v))
            throw new RecordError(`the value is JSON but not an object (${Array.isArray(v) ? "an array" : typeof v})`);
          return v as Record<string | symbol, unknown>;
        }
      : format === "string"
        ? (m: KafkaMessageIn): Record<string | symbol, unknown> => ({ value: m.value?.toString("utf8") ?? null })
        : (m: KafkaMessageIn): Record<string | symbol, unknown> => ({ value: m.value?.toString("base64") ?? null });
  const keyFormat = spec.kafka?.keyFormat ?? "string";
  const decodeKey =
    keyFormat === "none"
      ? undefined
      : keyFormat === "json"
        ? (b: Buffer): unknown => JSON.parse(b.toString("utf8"))
        : keyFormat === "bytes"
          ? (b: Buffer): unknown => b.toString("base64")
          : (b: Buffer): unknown => b.toString("utf8");
  return (m) => {
    const r = decode(m);
    // The Kafka key is the record's `key` in expressions (and the default key of Kafka sinks), until a keyBy sets another.
    if (decodeKey && m.key !== null) r[KEY] = decodeKey(m.key);
    r[ORIGIN] = { topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value } satisfies Origin;
    return r;
  };
}

/**
 * A source read only up to the end offsets its partitions had at start (`kafka.bounded`): a
 * batch over a topic range. Records appended later are left alone and the partition finishes.
 */
function boundedTo(source: Source<unknown>, ends: Map<number, number>): Source<unknown> {
  return {
    name: source.name,
    partitions: source.partitions,
    async open(partition, position) {
      const r = await source.open(partition, position);
      const end = ends.get(partition) ?? 0;
      const past = (x: unknown): boolean => ((x as Record<symbol, Origin | undefined> | null)?.[ORIGIN]?.offset ?? -1) >= end;
      return {
        async read(max) {
          if ((r.position() as number) >= end) return { records: [], done: true };
          const res = await r.read(max);
          if (res.records.some(past)) {
            const keep = res.records.map((x) => !past(x));
            const pick = <T>(xs: T[] | undefined): T[] | undefined => xs?.filter((_, i) => keep[i]);
            const records = pick(res.records) as unknown[];
            const timestamps = pick(res.timestamps);
            const keys = pick(res.keys);
            return { records, ...(timestamps ? { timestamps } : {}), ...(keys ? { keys } : {}), done: true };
          }
          return { ...res, done: res.done || (r.position() as number) >= end };
        },
        position: () => r.position(),
        ...(r.watermark ? { watermark: r.watermark.bind(r) } : {}),
        close: () => r.close(),
      };
    },
  };
}

/** End offsets of a topic's partitions now. */
async function endOffsets(connection: KafkaConnection, topic: string): Promise<Map<number, number>> {
  const admin = createKafkaClient({ ...connection, clientId: `runnel-bounded-${topic}` }).admin();
  await admin.connect();
  try {
    return new Map((await admin.offsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

/** Opens the Kafka sources of a job's stream and broadcast sources, by source id. */
export async function openKafkaSources(options: {
  sources: SourceSpec[];
  connection: KafkaConnection;
  /** Reader group stem, unique per worker. */
  readerGroup: string;
  deadLetters: DeadLetterQueue;
  onPoison?: (sourceId: string) => void;
}): Promise<Map<string, Source<unknown>>> {
  const out = new Map<string, Source<unknown>>();
  for (const spec of options.sources) {
    if (!spec.kafka || (spec.mode ?? "stream") === "table") continue;
    const source = await createKafkaSource<unknown>({
      connection: options.connection,
      topic: spec.kafka.topic,
      readerGroup: `${options.readerGroup}.${spec.id}`,
      startFrom: spec.kafka.startOffset ?? "earliest",
      deserialize: decoder(spec),
      deadLetters: options.deadLetters,
      onPoison: () => options.onPoison?.(spec.id),
      // Without an event-time field of its own, a record's event time is its Kafka timestamp.
      recordTimestamps: spec.timestamp === undefined,
    });
    out.set(spec.id, spec.kafka.bounded === true ? boundedTo(source, await endOffsets(options.connection, spec.kafka.topic)) : source);
  }
  return out;
}

/**
 * The dead-letter stream's Kafka sink: the original bytes when the rejected record still carries
 * them (else the record as JSON), with headers naming the error, the step and the origin.
 */
function deadLetterSink(topic: string, connection: KafkaConnection): Sink<unknown> {
  const origin = (d: DeadLetter): Origin | undefined => (d.record as Record<symbol, Origin | undefined> | null)?.[ORIGIN];
  return createKafkaSink<unknown>({
    connection,
    topic,
    key: (d) => origin(d as DeadLetter)?.key?.toString("utf8") ?? null,
    serialize: (d) => {
      const o = origin(d as DeadLetter);
      return o?.value ?? toJson(plain((d as DeadLetter).record));
    },
    headers: (d) => {
      const dl = d as DeadLetter;
      const o = origin(dl);
      return {
        [DEAD_LETTER_HEADERS.error]: dl.error ?? dl.reason,
        [DEAD_LETTER_HEADERS.errorClass]: dl.reason,
        [DEAD_LETTER_HEADERS.operator]: dl.step,
        ...(o
          ? {
              [DEAD_LETTER_HEADERS.topic]: o.topic,
              [DEAD_LETTER_HEADERS.partition]: String(o.partition),
              [DEAD_LETTER_HEADERS.offset]: String(o.offset),
              [DEAD_LETTER_HEADERS.timestamp]: String(o.timestamp),
            }
          : {}),
      };
    },
  });
}

/** The Kafka sink of a sink spec (JSON or string values, keyed as the spec says). */
export function kafkaSinkFor(spec: SinkSpec, connection: KafkaConnection, path: string): Sink<unknown> | undefined {
  const k = spec.kafka;
  if (!k) return undefined;
  if (spec.input === DEAD_LETTER) return deadLetterSink(k.topic, connection);
  const keyFn = k.key === undefined ? undefined : recordFn(k.key, `${path}.kafka.key`, "string");
  const headerFns = Object.entries(k.headers ?? {}).map(([name, src]) => [name, recordFn(src, `${path}.kafka.headers.${name}`, "string")] as const);
  return createKafkaSink<unknown>({
    connection,
    topic: k.topic,
    key: (r) => {
      const key = keyFn ? keyFn(r, keyOf(r)) : keyOf(r);
      return key === null || key === undefined ? null : String(toKey(key));
    },
    // A record marked TOMBSTONE (a deleted row of an updating SQL result) is written as its key with no value.
    serialize:
      k.format === "string"
        ? (r) => (typeof r === "string" ? r : toJson(r))
        : (r) => ((r as Record<symbol, unknown> | null)?.[TOMBSTONE] === true ? null : toJson(plain(r))),
    timestamps: k.timestamps ?? "event-time",
    ...(headerFns.length === 0 ? {} : { headers: (r: unknown) => Object.fromEntries(headerFns.map(([n, f]) => [n, String(f(r, keyOf(r)))])) }),
  });
}
