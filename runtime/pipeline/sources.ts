/**
 * Pipeline sources in local mode. A Kafka source runs from the `local` section the manifest
 * declares for it (a generator or an ndjson file); without one it is an error naming the field
 * to add. Table sources (lookup joins) are read whole at compile time into memory. Event time
 * comes from `timestamp` (a field or an expression); watermarks from `watermark`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { WatermarkStrategy } from "../api/functions.ts";
import { fileSource } from "../connectors/file.ts";
import type { Source } from "../connectors/types.ts";
import { parseDuration } from "../spec/duration.ts";
import type { EventTime, Source as SourceSpec } from "../spec/generated/types.ts";
import { claimUid, type CompileContext } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { recordFn } from "./expr.ts";
import { generateAll, GENERATED_TS, manifestGenerator } from "./generator.ts";
import { internalized } from "./readers.ts";
import { toNumber } from "./values.ts";

/** Default event time of the first generated record: fixed, so local runs are reproducible. */
export const DEFAULT_START_TIME = Date.UTC(2026, 0, 1);

const localHint = "add `local: { generator: { fields: {...} } }` or `local: { file: { path: data.ndjson } }` to run it with `runnel run`";

/** Compiles every stream and broadcast source into a job source, and loads table sources. */
export function compileSources(ctx: CompileContext): void {
  ctx.job.spec.pipeline?.sources.forEach((spec, index) => {
    const path = `.spec.pipeline.sources[${index}]`;
    ctx.sources.set(spec.id, { spec, index });
    if ((spec.mode ?? "stream") === "table") {
      ctx.tables.set(spec.id, ctx.options.tableOverride?.(spec) ?? { rows: loadTable(ctx, spec, path) });
      return;
    }
    const source = ctx.options.sourceOverride?.(spec) ?? localSource(ctx, spec, path);
    const uid = claimUid(ctx, spec.id, path);
    const stream = ctx.builder.source(source, { uid, name: spec.id, watermarks: watermarkStrategy(spec, path) });
    const partitionedBy = spec.kafka?.partitionedBy;
    ctx.handles.set(spec.id, partitionedBy === undefined ? { stream, keyed: false } : { stream, keyed: false, partitionedBy });
  });
}

function requireLocal(spec: SourceSpec, path: string): NonNullable<SourceSpec["local"]> {
  if (spec.local) return spec.local;
  throw new PipelineError(
    `${path}.local`,
    `source ${JSON.stringify(spec.id)} reads Kafka topic ${JSON.stringify(spec.kafka?.topic ?? "")} and has no local replacement`,
    localHint,
  );
}

/** The local replacement of a source: its generator or its file. */
function localSource(ctx: CompileContext, spec: SourceSpec, path: string): Source<unknown> {
  const local = requireLocal(spec, path);
  if (local.generator) {
    return manifestGenerator(local.generator, {
      startTime: ctx.options.startTime ?? DEFAULT_START_TIME,
      throttle: ctx.options.throttle === true,
      ...(ctx.options.maxRecordsPerSource === undefined ? {} : { maxRecords: ctx.options.maxRecordsPerSource }),
    });
  }
  const file = resolve(ctx.options.baseDir, (local.file as { path: string }).path);
  return fileSource({ paths: [file] });
}

/** Rows of a table source: its file's lines or its bounded generator's records. */
function loadTable(ctx: CompileContext, spec: SourceSpec, path: string): Record<string, unknown>[] {
  const local = requireLocal(spec, path);
  if (local.generator) {
    if (local.generator.count === undefined) throw new PipelineError(`${path}.local.generator.count`, "a table generator must be bounded", "set count");
    return generateAll(local.generator, ctx.options.startTime ?? DEFAULT_START_TIME);
  }
  return readRows(resolve(ctx.options.baseDir, (local.file as { path: string }).path), `${path}.local.file.path`);
}

/** The rows of an ndjson file (a local table or lookup file); a PipelineError at `path` naming the bad line. */
export function readRows(file: string, path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PipelineError(path, `cannot read ${file}: ${(err as Error).message}`);
  }
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new PipelineError(path, `${file} line ${i + 1} is not JSON`);
      }
    });
}

/** Reads event time as the spec says; a record without a usable time gets 0 (then counted as late). */
function timestampFn(t: EventTime, path: string): (r: unknown) => number {
  let read: (r: unknown) => unknown;
  if (t.field !== undefined) {
    const field = internalized(t.field);
    read = (r) => (r as Record<string, unknown>)[field];
  } else {
    const f = recordFn(t.expression as string, `${path}.timestamp.expression`, "int");
    read = (r) => f(r, null);
  }
  const format = t.format ?? "epoch-millis";
  const convert =
    format === "iso-8601"
      ? (v: unknown) => (typeof v === "string" ? Date.parse(v) : Number.NaN)
      : format === "epoch-seconds"
        ? (v: unknown) => toNumber(v) * 1000
        : toNumber;
  if (t.field !== undefined && format === "epoch-millis") {
    // The common case, without the general path's conversions.
    const field = internalized(t.field);
    return (r) => {
      const v = (r as Record<string, unknown>)[field];
      return typeof v === "number" && Number.isFinite(v) ? v : typeof v === "bigint" ? Number(v) : 0;
    };
  }
  return (r) => {
    let ms: number;
    try {
      ms = convert(read(r));
    } catch {
      ms = Number.NaN;
    }
    return Number.isFinite(ms) ? ms : 0;
  };
}

/** The watermark strategy of a source. */
function watermarkStrategy(spec: SourceSpec, path: string): WatermarkStrategy<unknown> {
  const timestamp = spec.timestamp ? timestampFn(spec.timestamp, path) : (r: unknown) => (r as { [GENERATED_TS]?: number })[GENERATED_TS] ?? Date.now();
  const idle = spec.watermark?.idleness;
  return {
    timestamp,
    maxOutOfOrdernessMs: parseDuration(spec.watermark?.outOfOrderness ?? "0s"),
    ...(idle === undefined ? {} : { idleTimeoutMs: parseDuration(idle) }),
  };
}
