/**
 * Loading what `runnel run` runs: a StreamJob manifest (compiled for local mode) or a job module.
 * Its own module so that each thread of a threaded run loads only this and the engine: the
 * manifest compiler (pipelines, CEL, SQL) is imported only when the file is a manifest.
 */
import { dirname } from "node:path";
import { loadJobModule } from "../api/job-module.ts";
import type { JobGraph } from "../graph/graph.ts";
import type { PipelineMetrics } from "../pipeline/context.ts";
import { createLogger } from "../log.ts";

/** How a manifest run is set up (the manifest-only options). */
export interface ManifestRunOptions {
  outDir?: string;
  maxRecords?: number;
  throttle: boolean;
  /** Event time the throttled generators start at (default now; threads of one run share the main thread's). */
  startTime?: number;
  /** Tasks to run (default: the largest source partition count); --threads raises it to one task per thread at least. */
  parallelism?: number;
}

/** A loaded job: its graph and, for manifests, the pipeline's dead-letter and drop counters and restore settings. */
export interface LoadedJob {
  graph: JobGraph;
  metrics?: PipelineMetrics;
  dropIncompatibleState?: string[];
  /** spec.stateCache.entries of a manifest: the default of --state-cache. */
  stateCacheEntries?: number;
}

/** Whether `path` names a StreamJob manifest rather than a job module. */
function isManifest(path: string): boolean {
  return /\.ya?ml$/.test(path);
}

/** Loads a StreamJob manifest (compiled for local mode) or a job module (its default export). */
export async function loadJob(path: string, args: string[], manifest: ManifestRunOptions = { throttle: true }): Promise<LoadedJob> {
  if (!isManifest(path)) return { graph: await loadJobModule(path, { args }) };
  const { compileStreamJob, readStreamJob } = await import("../pipeline/load.ts");
  const { job, file } = await readStreamJob(path);
  const compiled = await compileStreamJob(job, {
    log: createLogger("pipeline"),
    mode: "local",
    baseDir: dirname(file),
    throttle: manifest.throttle,
    ...(manifest.throttle ? { startTime: manifest.startTime ?? Date.now() } : {}),
    ...(manifest.outDir === undefined ? {} : { outDir: manifest.outDir }),
    ...(manifest.maxRecords === undefined ? {} : { maxRecordsPerSource: manifest.maxRecords }),
    ...(manifest.parallelism === undefined ? {} : { parallelism: manifest.parallelism }),
  });
  return {
    graph: compiled.graph,
    metrics: compiled.metrics,
    ...(job.spec.dropIncompatibleState ? { dropIncompatibleState: job.spec.dropIncompatibleState } : {}),
    ...(job.spec.stateCache?.entries === undefined ? {} : { stateCacheEntries: job.spec.stateCache.entries }),
  };
}
