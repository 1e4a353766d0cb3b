/**
 * `loadManifestJob`: what `runnel run <streamjob.yaml>` does before running — read the manifest,
 * check it exactly as `runnel validate` does (refusing it with the findings), compile it.
 */
import { readFile } from "node:fs/promises";
import { loadJobModule } from "../api/job-module.ts";
import { dirname, resolve } from "node:path";
import { JobDefinitionError } from "../errors.ts";
import { checkDocument } from "../spec/check.ts";
import { parseManifests } from "../spec/manifest.ts";
import { parseStreamJob } from "../spec/validate.ts";
import type { Sink, Source, StreamJob } from "../spec/generated/types.ts";
import { compilePipeline, type CompiledPipeline } from "./compile.ts";
import type { CompileOptions } from "./context.ts";
import { ManifestInvalidError } from "./errors.ts";

/** Options of loadManifestJob: compile options (baseDir defaults to the manifest's folder) and which job. */
export type LoadOptions = Partial<CompileOptions> & {
  /** metadata.name of the StreamJob to run when the file holds several (default: the only one). */
  name?: string;
};

/** Picks the StreamJob document to run. */
function pickJob(file: string, docs: unknown[], name: string | undefined): unknown {
  const jobs = docs.filter((d) => (d as { kind?: unknown } | null)?.kind === "StreamJob");
  const named = name === undefined ? jobs : jobs.filter((d) => (d as StreamJob).metadata?.name === name);
  if (named.length === 1) return named[0];
  const names = jobs.map((d) => (d as StreamJob).metadata?.name ?? "?").join(", ");
  if (named.length === 0)
    throw new JobDefinitionError(name === undefined ? `${file} holds no StreamJob` : `${file} holds no StreamJob named ${name} (it has: ${names || "none"})`);
  throw new JobDefinitionError(`${file} holds several StreamJobs (${names}); choose one by name`);
}

/** Reads a manifest file and validates the chosen StreamJob exactly as `runnel validate` does. */
export async function readStreamJob(path: string, name?: string): Promise<{ job: StreamJob; file: string }> {
  const file = resolve(path);
  let docs: unknown[];
  try {
    docs = parseManifests(await readFile(file, "utf8"));
  } catch (err) {
    const missing = (err as { code?: string }).code === "ENOENT";
    throw new JobDefinitionError(missing ? `${path}: no such file (looked for ${file}); check the path` : `cannot read ${path}: ${(err as Error).message}`);
  }
  const doc = pickJob(path, docs, name);
  const report = await checkDocument(doc);
  if (report.findings.some((f) => f.severity === "error")) throw new ManifestInvalidError(path, report.findings);
  return { job: parseStreamJob(doc).value, file };
}

/** Compiles a validated StreamJob: its pipeline, its SQL script, or the typed-API module it names. */
export async function compileStreamJob(job: StreamJob, options: Partial<CompileOptions> & { baseDir: string }): Promise<CompiledPipeline> {
  const module = job.spec.module;
  if (module) {
    // The escape hatch: a typed-API job module (a path inside the image; relative to the manifest locally).
    const graph = await loadJobModule(resolve(options.baseDir, module.path), { config: module.config });
    return { graph, metrics: { deadLetters: {}, dropped: {}, deadLetterSamples: {} }, collected: new Map() };
  }
  // The SQL compiler is loaded only for a SQL job (ADR 38).
  if (job.spec.sql !== undefined) return (await import("../sql/compile.ts")).compileSql(job, { mode: "local", ...options });
  return compilePipeline(job, { mode: "local", ...options });
}

/** Reads, validates and compiles a StreamJob manifest for local mode. */
export async function loadManifestJob(path: string, options: LoadOptions = {}): Promise<CompiledPipeline> {
  const { name, ...compile } = options;
  const { job, file } = await readStreamJob(path, name);
  return compileStreamJob(job, { ...compile, mode: "local", baseDir: compile.baseDir ?? dirname(file) });
}

/** The sources and sinks a job reads and writes (its pipeline's, or those its SQL tables map onto) and brokers its SQL tables name. */
export async function jobConnectors(job: StreamJob): Promise<{ sources: Source[]; sinks: Sink[]; brokers: string[] }> {
  if (job.spec.sql !== undefined) return (await import("../sql/compile.ts")).sqlConnectors(job);
  return { sources: job.spec.pipeline?.sources ?? [], sinks: job.spec.pipeline?.sinks ?? [], brokers: [] };
}
