/**
 * The example manifests as data: where their sources read and their sinks write (for the
 * generators and verifiers), and a copy with deployment values applied (brokers, topic and Redis
 * key prefixes, parallelism, checkpoint interval, name) — what tests do to run an example on
 * their own topics, and what a chart's values do.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments, stringify } from "yaml";
import { durationMs } from "./cli.ts";

type Obj = Record<string, unknown>;

/** A string field of a manifest object ("" when absent). */
export function text(o: Obj | undefined, field: string): string {
  const v = o?.[field];
  return typeof v === "string" ? v : "";
}

/** One StreamJob manifest (the first document of a file, or the one named). */
export function readManifest(path: string, name?: string): Obj {
  const docs = parseAllDocuments(readFileSync(path, "utf8")).map((d) => d.toJS() as Obj);
  const job = docs.find((d) => d?.kind === "StreamJob" && (name === undefined || (d.metadata as Obj | undefined)?.name === name));
  if (!job) throw new Error(`${path} holds no StreamJob${name === undefined ? "" : ` named ${name}`}`);
  return job;
}

const pipelineOf = (job: Obj): { sources: Obj[]; steps: Obj[]; sinks: Obj[] } => {
  const p = (job.spec as Obj).pipeline as { sources: Obj[]; steps?: Obj[]; sinks: Obj[] };
  return { sources: p.sources, steps: p.steps ?? [], sinks: p.sinks };
};

/** The Kafka topic each source reads, by source id. */
export function sourceTopics(job: Obj): Map<string, string> {
  return new Map(
    pipelineOf(job).sources.flatMap((s) => ((s.kafka as Obj | undefined)?.topic ? [[String(s.id), String((s.kafka as Obj).topic)] as const] : [])),
  );
}

/** A sink's id, Kafka topic and Redis key prefix. */
export interface SinkTarget {
  id: string;
  topic?: string;
  redisPrefix?: string;
  /** The Redis sink's key expiry (spec `ttl`), in ms. */
  redisTtlMs?: number;
}

/** A sink by id. */
export function sinkTarget(job: Obj, id: string): SinkTarget {
  const s = pipelineOf(job).sinks.find((x) => x.id === id);
  if (!s) throw new Error(`the manifest has no sink ${id}`);
  const kafka = s.kafka as Obj | undefined;
  const redis = s.redis as Obj | undefined;
  return {
    id,
    ...(kafka ? { topic: text(kafka, "topic") } : {}),
    ...(redis ? { redisPrefix: text(redis, "keyPrefix") } : {}),
    ...(redis && typeof redis.ttl === "string" ? { redisTtlMs: durationMs(redis.ttl) } : {}),
  };
}

/** A step by id (its spec). */
export function stepOf(job: Obj, id: string): Obj {
  const s = pipelineOf(job).steps.find((x) => x.id === id);
  if (!s) throw new Error(`the manifest has no step ${id}`);
  return s;
}

/** Deployment values applied to an example manifest. */
export interface ManifestValues {
  name?: string;
  brokers?: string[];
  /** Prepended to every Kafka topic the job reads or writes. */
  topicPrefix?: string;
  /** Replaces every Redis address (sinks and lookups). */
  redisAddress?: string;
  /** Prepended to every Redis key prefix. */
  redisPrefix?: string;
  parallelism?: number;
  /** Partitions of the input streams (kafka.partitions of the sources that declare it; tables and rules keep theirs). */
  partitions?: number;
  checkpointInterval?: string;
  checkpointMode?: "exactly-once" | "at-least-once";
  savepointPath?: string;
  /** Further changes to the object before it is written. */
  edit?: (job: Obj) => void;
}

/** The manifest with `values` applied, as YAML. */
export function withValues(job: Obj, values: ManifestValues): string {
  const copy = structuredClone(job);
  const spec = copy.spec as Obj;
  if (values.name !== undefined) (copy.metadata as Obj).name = values.name;
  if (values.brokers) spec.kafka = { ...(spec.kafka as Obj), bootstrapServers: values.brokers };
  if (values.parallelism !== undefined) spec.parallelism = values.parallelism;
  if (values.checkpointInterval !== undefined || values.checkpointMode !== undefined)
    spec.checkpoint = {
      ...(spec.checkpoint as Obj),
      ...(values.checkpointInterval === undefined ? {} : { interval: values.checkpointInterval }),
      ...(values.checkpointMode === undefined ? {} : { mode: values.checkpointMode }),
    };
  if (values.savepointPath !== undefined) spec.savepoint = { ...(spec.savepoint as Obj), storage: { path: values.savepointPath } };
  const p = pipelineOf(copy);
  const prefix = values.topicPrefix ?? "";
  for (const s of p.sources) {
    const k = s.kafka as Obj | undefined;
    if (!k) continue;
    k.topic = prefix + String(k.topic);
    if (values.partitions !== undefined && k.partitions !== undefined) k.partitions = values.partitions;
  }
  const redis = (r: Obj | undefined): void => {
    if (!r) return;
    if (values.redisAddress !== undefined) r.address = values.redisAddress;
    if (values.redisPrefix !== undefined) r.keyPrefix = values.redisPrefix + text(r, "keyPrefix");
  };
  for (const s of p.sinks) {
    const k = s.kafka as Obj | undefined;
    if (k) k.topic = prefix + String(k.topic);
    redis(s.redis as Obj | undefined);
  }
  for (const st of p.steps) redis((st.lookupJoin as Obj | undefined)?.redis as Obj | undefined);
  values.edit?.(copy);
  return stringify(copy, { lineWidth: 0 });
}
