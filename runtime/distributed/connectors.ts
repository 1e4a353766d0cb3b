/**
 * A StreamJob's Kafka sources and sinks as a worker runs them: sources read their topic with
 * static assignment (broadcast sources in full), values decoded per `format`, and records that
 * cannot be decoded go to the dead-letter topic; Kafka sinks write JSON through the task's
 * transaction with the key the spec names (else the stream's key).
 */
import type { KafkaConnection } from "../connectors/kafka/client.ts";
import type { DeadLetterQueue } from "../connectors/kafka/dead-letter.ts";
import { createKafkaSink } from "../connectors/kafka/sink.ts";
import { createKafkaSource, jsonValue, type KafkaMessageIn } from "../connectors/kafka/source.ts";
import type { Sink, Source } from "../connectors/types.ts";
import { recordFn } from "../pipeline/expr.ts";
import { keyOf, plain, toJson, toKey } from "../pipeline/values.ts";
import type { Sink as SinkSpec, Source as SourceSpec } from "../spec/generated/types.ts";

/** Decodes a message's value as the source's `format` says. */
function decoder(spec: SourceSpec): (m: KafkaMessageIn) => unknown {
  const format = spec.kafka?.format ?? "json";
  if (format === "json") {
    return (m) => {
      const v = jsonValue<unknown>(m);
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`the value is JSON but not an object (${Array.isArray(v) ? "an array" : typeof v})`);
      return v;
    };
  }
  if (format === "string") return (m) => ({ value: m.value?.toString("utf8") ?? null });
  return (m) => ({ value: m.value?.toString("base64") ?? null });
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
    });
    out.set(spec.id, source);
  }
  return out;
}

/** The Kafka sink of a sink spec (JSON or string values, keyed as the spec says). */
export function kafkaSinkFor(spec: SinkSpec, connection: KafkaConnection, path: string): Sink<unknown> | undefined {
  const k = spec.kafka;
  if (!k) return undefined;
  const keyFn = k.key === undefined ? undefined : recordFn(k.key, `${path}.kafka.key`, "string");
  const headerFns = Object.entries(k.headers ?? {}).map(([name, src]) => [name, recordFn(src, `${path}.kafka.headers.${name}`, "string")] as const);
  return createKafkaSink<unknown>({
    connection,
    topic: k.topic,
    key: (r) => {
      const key = keyFn ? keyFn(r, keyOf(r)) : keyOf(r);
      return key === null || key === undefined ? null : String(toKey(key));
    },
    serialize: k.format === "string" ? (r) => (typeof r === "string" ? r : toJson(r)) : (r) => toJson(plain(r)),
    ...(headerFns.length === 0 ? {} : { headers: (r: unknown) => Object.fromEntries(headerFns.map(([n, f]) => [n, String(f(r, keyOf(r)))])) }),
  });
}
