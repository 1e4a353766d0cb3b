/**
 * Job modules: a TypeScript module whose default export is a job built with the typed API. Both
 * `runnel run <module>` and a StreamJob's `spec.module` (the escape hatch from declarative
 * pipelines) load jobs this way.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { JobDefinitionError } from "../errors.ts";
import type { JobGraph } from "../graph/graph.ts";
import { JobBuilder } from "./job.ts";

/**
 * What a job module may export by default: a job (builder or built graph), or a function that
 * returns one, given the arguments after `--` on the command line and, from a StreamJob, its
 * `spec.module.config`.
 */
export type JobModuleExport = JobGraph | JobBuilder | ((args: string[], config: unknown) => JobGraph | JobBuilder | Promise<JobGraph | JobBuilder>);

/** Imports a job module and resolves its default export to a job graph. */
export async function loadJobModule(path: string, options: { args?: string[]; config?: unknown } = {}): Promise<JobGraph> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (err) {
    throw new JobDefinitionError(`cannot load job module ${path}: ${(err as Error).message}`);
  }
  let value = mod.default;
  if (typeof value === "function") value = await (value as (a: string[], c: unknown) => unknown)(options.args ?? [], options.config);
  if (value instanceof JobBuilder) return value.build();
  if (value && typeof value === "object" && "nodes" in value && "edges" in value) return value as JobGraph;
  throw new JobDefinitionError(`${path}: the default export must be a job (job(...) builder or its .build()), or a function returning one`);
}
