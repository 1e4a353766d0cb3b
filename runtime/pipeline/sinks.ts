/**
 * Pipeline sinks in local mode. File, stdout and blackhole sinks run as declared. A Kafka or
 * Redis sink runs as its `local` section says; without one it writes ndjson to `<outDir>/<sink id>/`
 * when an output folder is given, else to stdout — except a sink of the dead-letter stream, which
 * keeps one dead letter per reason for the run's summary (the counts are kept anyway). Kafka
 * records are written as the record; Redis records as the write they stand for ({op:
 * zreplace|zadd|hset, key, …, ttlMs, version}, RedisWrite) so the sink's expressions run and their
 * results can be checked. On a cluster (mode "cluster") a Redis sink writes to Redis itself. CEL
 * ints leave as JSON numbers.
 */
import { join, resolve } from "node:path";
import { fileSink } from "../connectors/file.ts";
import { collectSink, type CollectSink } from "../connectors/memory.ts";
import { blackholeSink, stdoutSink } from "../connectors/sinks.ts";
import type { Sink } from "../connectors/types.ts";
import { redisSink, redisWriteTarget, type RedisWrite, type ScoredMember } from "../connectors/redis/sink.ts";
import { RecordError } from "../errors.ts";
import { DEAD_LETTER } from "../spec/pipeline-graph.ts";
import { parseDuration } from "../spec/duration.ts";
import type { FileSink, Sink as SinkSpec, StdoutSink } from "../spec/generated/types.ts";
import { claimUid, counter, DEAD_LETTER_TAG, streamOf, type CompileContext, type DeadLetter, type Handle } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { celExpression } from "./expr.ts";
import { KEY, keyOf, plain, toJson, toNumber, type Rec } from "./values.ts";

/** Turns a pipeline record into what the sink writes. */
type Shape = (record: unknown) => unknown;

/** The `dead-letter` stream: every step's dead-letter side output, merged. */
function deadLetterStream(ctx: CompileContext, path: string): Handle {
  const known = ctx.handles.get(DEAD_LETTER);
  if (known) return known;
  const [first, ...rest] = ctx.deadLetterProducers.map((s) => s.getSideOutput(DEAD_LETTER_TAG) as typeof s);
  if (!first) throw new PipelineError(path, "no source or step sends records to the dead-letter stream");
  const stream = first
    .union(...rest)
    .uid(claimUid(ctx, DEAD_LETTER, path))
    .name(DEAD_LETTER);
  const h = { stream, keyed: false };
  ctx.handles.set(DEAD_LETTER, h);
  return h;
}

/** The input of a sink or step, including the reserved `dead-letter` stream. */
export function inputStream(ctx: CompileContext, ref: string, path: string): Handle {
  return ref === DEAD_LETTER ? deadLetterStream(ctx, path) : streamOf(ctx, ref, path);
}

/** A CEL value as the string Redis stores (CEL ints as JSON numbers, maps and lists as JSON). */
function redisString(v: unknown): string {
  return typeof v === "string" ? v : toJson(plain(v));
}

/** Turns records into the writes a Redis sink spec describes (RedisWrite, the real sink's input). */
function redisShape(spec: NonNullable<SinkSpec["redis"]>, path: string): Shape {
  const ttlMs = spec.ttl === undefined ? undefined : parseDuration(spec.ttl);
  const prefix = spec.keyPrefix ?? "";
  const vars = ["record", "key"];
  const e = (src: string, p: string, returns: "string" | "dyn" | "double" | "int" = "dyn") => celExpression(src, `${path}.redis.${p}`, returns, vars);
  const version = spec.version === undefined ? undefined : e(spec.version, "version", "int");
  const common = (scope: { record: unknown; key: unknown }): { ttlMs?: number; version?: number } => ({
    ...(ttlMs === undefined ? {} : { ttlMs }),
    ...(version === undefined ? {} : { version: toNumber(version.evaluate(scope)) }),
  });
  if (spec.sortedSet) {
    const z = spec.sortedSet;
    const key = e(z.key, "sortedSet.key", "string");
    const member = e(z.member, "sortedSet.member");
    const score = z.score === undefined ? undefined : e(z.score, "sortedSet.score", "double");
    const op = z.replace === true ? "zreplace" : "zadd";
    return (r): RedisWrite => {
      const scope = { record: r, key: keyOf(r) };
      const m = member.evaluate(scope);
      const members: ScoredMember[] = score
        ? [{ member: redisString(m), score: toNumber(score.evaluate(scope)) }]
        : (Array.isArray(m) ? m : [m]).map((x) => {
            const o = (x instanceof Map ? Object.fromEntries(x) : x) as { member?: unknown; score?: unknown } | null;
            if (o === null || typeof o !== "object" || o.member === undefined)
              throw new RecordError("redis sink: without `sortedSet.score`, `sortedSet.member` must give a list of {member, score} maps");
            return { member: redisString(o.member), score: toNumber(o.score) };
          });
      return { op, key: prefix + String(key.evaluate(scope)), members, ...(z.maxSize === undefined ? {} : { maxSize: z.maxSize }), ...common(scope) };
    };
  }
  const hsh = spec.hash as NonNullable<typeof spec.hash>;
  const key = e(hsh.key, "hash.key", "string");
  const fields = Object.entries(hsh.fields).map(([n, src]) => [n, e(src, `hash.fields.${n}`)] as const);
  return (r): RedisWrite => {
    const scope = { record: r, key: keyOf(r) };
    return {
      op: "hset",
      key: prefix + String(key.evaluate(scope)),
      fields: Object.fromEntries(fields.map(([n, x]) => [n, redisString(x.evaluate(scope))])),
      ...common(scope),
    };
  };
}

/** The real Redis sink of a spec (workers), counting writes skipped as older than the key's version. */
function redisTarget(ctx: CompileContext, spec: SinkSpec): Sink<unknown> {
  const r = spec.redis as NonNullable<SinkSpec["redis"]>;
  const older = counter(ctx.metrics.dropped, `${spec.id}/older-version`);
  return redisSink({
    name: spec.id,
    target: () => redisWriteTarget(r, { name: spec.id }),
    onSkipped: (n) => {
      for (let i = 0; i < n; i++) older();
    },
  });
}

/** Applies `shape` to every record on its way into `sink`; a record the shape fails on is counted and skipped. */
function shaped(sink: Sink<unknown>, shape: Shape, onError: () => void): Sink<unknown> {
  return {
    name: sink.name,
    async open(c) {
      const w = await sink.open(c);
      return {
        write(value, ts) {
          let v: unknown;
          try {
            v = shape(value);
          } catch {
            onError();
            return;
          }
          w.write(v, ts);
        },
        flush: () => w.flush(),
        ...(w.prepareCommit ? { prepareCommit: (id: number) => (w.prepareCommit as (id: number) => Promise<unknown>)(id) } : {}),
        ...(w.commit ? { commit: (id: number, p: unknown) => (w.commit as (id: number, p: unknown) => Promise<void>)(id, p) } : {}),
        close: () => w.close(),
      };
    },
  };
}

function fileTarget(ctx: CompileContext, f: FileSink): Sink<unknown> {
  const format =
    f.format === "csv"
      ? (v: unknown) =>
          Object.values(v as Record<string, unknown>)
            .map((x) => toJson(x))
            .join(",")
      : toJson;
  return fileSink({ dir: resolve(ctx.options.baseDir, f.path), format });
}

function stdoutTarget(s: StdoutSink, label: string | undefined): Sink<unknown> {
  return stdoutSink({ format: (v) => `${label === undefined ? "" : `${label}\t`}${s.format === "text" && typeof v === "string" ? v : toJson(v)}` });
}

/** The local-mode sink for a sink spec (before overrides). */
function localTarget(ctx: CompileContext, spec: SinkSpec, label: string | undefined): Sink<unknown> {
  const declared = spec.kafka || spec.redis ? spec.local : spec;
  if (declared?.file) return fileTarget(ctx, declared.file);
  if (declared?.blackhole) return blackholeSink();
  if (declared?.stdout) return stdoutTarget(declared.stdout, label);
  if (ctx.options.outDir !== undefined) return fileSink({ dir: join(ctx.options.outDir, spec.id), format: toJson });
  // Dead letters would drown the results on the terminal: counted (as always) and one kept per reason.
  if (spec.input === DEAD_LETTER) return deadLetterSummary(ctx.metrics.deadLetterSamples);
  return stdoutTarget({}, label);
}

/** Keeps the first dead letter of each `step/reason` in `samples` and nothing else (counting is the steps' own). */
function deadLetterSummary(samples: Record<string, DeadLetter>): Sink<unknown> {
  return {
    name: "dead-letter summary",
    async open() {
      return {
        write: (value: unknown) => {
          const d = value as DeadLetter;
          const k = `${d.step}/${d.reason}`;
          if (!(k in samples)) samples[k] = d;
        },
        flush: async () => {},
        close: async () => {},
      };
    },
  };
}

/** Whether a sink prints its records to stdout in local mode. */
function printsToStdout(ctx: CompileContext, s: SinkSpec): boolean {
  if (s.file || s.blackhole || ctx.options.outDir !== undefined) return false;
  if (s.kafka || s.redis) return !(s.local?.file || s.local?.blackhole) && (s.local?.stdout !== undefined || s.input !== DEAD_LETTER);
  return true;
}

/** A shallow copy without the key a keyed stream carries (the value itself when it has none). */
function withoutKey(v: unknown): unknown {
  if (v === null || typeof v !== "object" || !(KEY in v)) return v;
  const copy = { ...(v as Rec) };
  delete copy[KEY];
  return copy;
}

/** Compiles every sink; returns the collecting sinks by id when sinkOverride is "collect". */
export function compileSinks(ctx: CompileContext): Map<string, CollectSink<unknown>> {
  const collected = new Map<string, CollectSink<unknown>>();
  const specs = ctx.job.spec.pipeline?.sinks ?? [];
  const toStdout = specs.filter((s) => printsToStdout(ctx, s)).length;
  specs.forEach((spec, index) => {
    const path = `.spec.pipeline.sinks[${index}]`;
    const input = inputStream(ctx, spec.input, `${path}.input`);
    // Serialisers turn CEL ints into JSON numbers themselves (toJson), so only Redis records are reshaped here.
    const shape: Shape | undefined = spec.redis ? redisShape(spec.redis, path) : undefined;
    const override = ctx.options.sinkOverride;
    let target: Sink<unknown> | undefined;
    let write = shape;
    if (override === "collect") {
      const c = collectSink<unknown>(spec.id);
      collected.set(spec.id, c);
      target = c;
      // Collected records are compared by tests: hand them over without the carried key.
      write = shape ? (r) => withoutKey(plain(shape(r))) : (r) => withoutKey(plain(r));
    } else if (typeof override === "function") target = override(spec);
    // On a cluster a Redis sink writes to Redis; locally it writes the writes it stands for as ndjson.
    target ??= spec.redis && ctx.options.mode === "cluster" ? redisTarget(ctx, spec) : localTarget(ctx, spec, toStdout > 1 ? spec.id : undefined);
    const uid = claimUid(ctx, ctx.uids.has(spec.id) ? `sink.${spec.id}` : spec.id, path);
    // Records a sink writes as they are go to it directly: no adapter call per record.
    const sink = write ? shaped(target, write, counter(ctx.metrics.dropped, `${spec.id}/expression-error`)) : target;
    input.stream.sink(sink, { uid, name: spec.id });
  });
  return collected;
}
