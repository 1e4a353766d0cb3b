/**
 * Pipeline sources in local mode. A Kafka source runs from the `local` section the manifest
 * declares for it (a generator or an ndjson file); without one it is an error naming the field
 * to add. Table sources (lookup joins) are read whole at compile time into memory. Event time
 * comes from `timestamp` (a field or an expression); watermarks from `watermark`. Records that are
 * not objects, lack their event time or break their declared field types are dead-lettered by
 * the source check (source-check.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { WatermarkStrategy } from "../api/functions.ts";
import { fileSource } from "../connectors/file.ts";
import type { Source } from "../connectors/types.ts";
import { parseDuration } from "../spec/duration.ts";
import type { Source as SourceSpec } from "../spec/generated/types.ts";
import { claimUid, type CompileContext } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { generateAll, GENERATED_TS, manifestGenerator } from "./generator.ts";
import { checkSource, eventTimeReader, jsonObjectLines } from "./source-check.ts";

/** Default event time of the first generated record: fixed, so local runs are reproducible. */
export const DEFAULT_START_TIME = Date.UTC(2026, 0, 1);

const localHint = "add `local: { generator: { fields: {...} } }` or `local: { file: { path: data.ndjson } }` to run it with `runnel run`";

/** Compiles every stream and broadcast source into a job source (checked, see source-check.ts), and loads table sources. */
export function compileSources(ctx: CompileContext): void {
  ctx.job.spec.pipeline?.sources.forEach((spec, index) => {
    const path = `.spec.pipeline.sources[${index}]`;
    ctx.sources.set(spec.id, { spec, index });
    if ((spec.mode ?? "stream") === "table") {
      ctx.tables.set(spec.id, ctx.options.tableOverride?.(spec) ?? { rows: loadTable(ctx, spec, path) });
      return;
    }
    const override = ctx.options.sourceOverride?.(spec);
    const file = override || spec.local?.generator ? undefined : localFile(ctx, spec, path);
    const raw = override ?? (file === undefined ? localSource(ctx, spec, path) : fileSource({ paths: [file], parse: jsonObjectLines() }));
    const watermarks = watermarkStrategy(spec, path);
    const { source, route } = checkSource(ctx, spec, path, raw, {
      time: watermarks.timestamp as (r: unknown) => number,
      ...(file === undefined ? {} : { file }),
    });
    const uid = claimUid(ctx, spec.id, path);
    const stream = ctx.builder.source(source, { uid, name: spec.id, watermarks });
    const partitionedBy = spec.kafka?.partitionedBy;
    ctx.handles.set(spec.id, route(partitionedBy === undefined ? { stream, keyed: false } : { stream, keyed: false, partitionedBy }));
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

/** The file a source reads locally (resolved against the manifest's folder); a PipelineError when there is none. */
function localFile(ctx: CompileContext, spec: SourceSpec, path: string): string {
  const name = (requireLocal(spec, path).file as { path: string }).path;
  const file = resolve(ctx.options.baseDir, name);
  if (!existsSync(file))
    throw new PipelineError(`${path}.local.file.path`, `${name} does not exist (looked for ${file})`, "the path is relative to the manifest's folder");
  return file;
}

/** The local generator of a source. */
function localSource(ctx: CompileContext, spec: SourceSpec, path: string): Source<unknown> {
  return manifestGenerator(requireLocal(spec, path).generator as NonNullable<NonNullable<SourceSpec["local"]>["generator"]>, {
    startTime: ctx.options.startTime ?? DEFAULT_START_TIME,
    throttle: ctx.options.throttle === true,
    ...(ctx.options.maxRecordsPerSource === undefined ? {} : { maxRecords: ctx.options.maxRecordsPerSource }),
  });
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

/** The watermark strategy of a source. */
function watermarkStrategy(spec: SourceSpec, path: string): WatermarkStrategy<unknown> {
  // Without a timestamp spec: the generator's event time, else ingestion time.
  const timestamp = spec.timestamp
    ? eventTimeReader(spec.timestamp, path).read
    : (r: unknown) => (r as { [GENERATED_TS]?: number })[GENERATED_TS] ?? Date.now();
  const idle = spec.watermark?.idleness;
  return {
    timestamp,
    maxOutOfOrdernessMs: parseDuration(spec.watermark?.outOfOrderness ?? "0s"),
    ...(idle === undefined ? {} : { idleTimeoutMs: parseDuration(idle) }),
  };
}
