/**
 * The pipeline compiler: a StreamJob's `spec.pipeline` onto the typed API, so a declarative job
 * and a typed job run as the same kind of graph. Sources, then steps in dependency order, then
 * sinks; every stateful operator's uid is its step's `uid` (default: the step id), so savepoints
 * map state by step id; every CEL expression is compiled here, once.
 */
import { job as newJob, type JobBuilder } from "../api/job.ts";
import type { CollectSink } from "../connectors/memory.ts";
import type { JobGraph } from "../graph/graph.ts";
import type { Step, StreamJob } from "../spec/generated/types.ts";
import { buildGraph, DEAD_LETTER, mainInputs, operatorOf, parseRef, topologicalSteps, type PipelineGraph } from "../spec/pipeline-graph.ts";
import { newCompileContext, stepUid, type CompileContext, type CompileOptions, type Handle, type PipelineMetrics } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { inputStream, compileSinks } from "./sinks.ts";
import { compileSources } from "./sources.ts";
import {
  compileClean,
  compileExplode,
  compileFilter,
  compileKeyBy,
  compileMap,
  compileProject,
  compileRoute,
  compileScore,
  compileUnion,
} from "./steps-basic.ts";
import { compileCep } from "./steps-cep.ts";
import { compileProcess } from "./steps-process.ts";
import { compileLookupJoin } from "./steps-lookup.ts";
import { compileBroadcastRules, compileDedup } from "./steps-stateful.ts";
import { compileOver, compileWindow } from "./steps-window.ts";

export type { CompileOptions, PipelineMetrics } from "./context.ts";

/** A compiled declarative job. */
export interface CompiledPipeline {
  /** The job graph, ready for the engine. */
  graph: JobGraph;
  /** The builder it came from (absent for a module job). */
  builder?: JobBuilder;
  /** Dead-letter and drop counters, updated while the job runs. */
  metrics: PipelineMetrics;
  /** With sinkOverride "collect": each sink's records by sink id. */
  collected: Map<string, CollectSink<unknown>>;
}

type StepCompiler = (ctx: CompileContext, step: Step, path: string, input: Handle, shared: boolean) => void;

const single: Record<string, StepCompiler> = {
  filter: compileFilter,
  clean: compileClean,
  map: compileMap,
  project: compileProject,
  explode: compileExplode,
  keyBy: compileKeyBy,
  route: compileRoute,
  dedup: compileDedup,
  score: compileScore,
  window: compileWindow,
  over: compileOver,
  process: compileProcess,
  cep: compileCep,
  broadcastRules: compileBroadcastRules,
  lookupJoin: compileLookupJoin,
};

/** Steps whose main output records are always new objects (a map expression may return `record` itself). */
const freshRecords = new Set(["project", "score", "window", "over", "process", "cep", "lookupJoin"]);

/** Steps that pass their input's record objects on unchanged. */
const passThrough = new Set(["filter", "clean", "dedup"]);

/**
 * Whether the records of a stream are held by its one reader alone: a sole-read main output of a
 * source or of a step that builds new records, or of a pass-through step whose input is owned too.
 */
function owned(graph: PipelineGraph, readCount: Map<string, number>, ref: string): boolean {
  const { id, output } = parseRef(ref);
  const node = graph.nodes.get(id);
  if (!node || output !== undefined || (readCount.get(ref) ?? 0) !== 1) return false;
  if (node.kind === "source" || freshRecords.has(node.operator)) return true;
  const input = node.step?.input;
  return passThrough.has(node.operator) && input !== undefined && owned(graph, readCount, input);
}

/** A Kubernetes-style job name from the manifest (the typed API insists on one). */
function jobName(job: StreamJob): string {
  const raw = (job.metadata?.name ?? "pipeline")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return raw.length > 0 ? raw : "pipeline";
}

/** How many steps and sinks read each stream reference. */
function readers(graph: PipelineGraph): Map<string, number> {
  const n = new Map<string, number>();
  for (const r of graph.refs) n.set(r.ref, (n.get(r.ref) ?? 0) + 1);
  return n;
}

/** Steps in dependency order, with those reading the dead-letter stream last (it merges every other step). */
function stepOrder(graph: PipelineGraph): PipelineGraph["steps"] {
  const ordered = topologicalSteps(graph);
  if (ordered.length !== graph.steps.length)
    throw new PipelineError(".spec.pipeline.steps", "the steps form a cycle", "run `runnel validate` for the references involved");
  const readsDeadLetter = (id: string): boolean => mainInputs(graph, id).some((r) => r.ref === DEAD_LETTER);
  return [...ordered.filter((n) => !readsDeadLetter(n.id)), ...ordered.filter((n) => readsDeadLetter(n.id))];
}

/** Compiles a StreamJob's pipeline into a job graph for local mode. */
export function compilePipeline(job: StreamJob, options: CompileOptions): CompiledPipeline {
  const pipeline = job.spec.pipeline;
  if (!pipeline) {
    throw new PipelineError(
      ".spec.pipeline",
      "this StreamJob has no pipeline",
      job.spec.module ? `it is a module job: run its module (${job.spec.module.path}) directly` : "add spec.pipeline",
    );
  }
  const builder = newJob(jobName(job), options.parallelism === undefined ? {} : { parallelism: options.parallelism });
  const ctx = newCompileContext(job, options, builder);
  const graph = buildGraph(pipeline);
  const readCount = readers(graph);
  for (const [ref, n] of readCount) ctx.readers.set(ref, n);
  compileSources(ctx);
  for (const node of stepOrder(graph)) {
    const step = node.step as Step;
    const op = operatorOf(step);
    const inputs = mainInputs(graph, step.id).map((r) => inputStream(ctx, r.ref, r.path));
    if (ctx.uids.has(stepUid(step))) throw new PipelineError(`${node.path}.uid`, `operator uid ${JSON.stringify(stepUid(step))} is used twice`);
    ctx.uids.add(stepUid(step));
    if (op === "union") {
      compileUnion(ctx, step, node.path, inputs);
      continue;
    }
    const compiler = single[op];
    const input = inputs[0];
    if (!compiler || !input) throw new PipelineError(node.path, `step kind ${op} is not supported`);
    // keyBy may update a record in place only when no one else can hold it: the sole reader of a
    // step that builds fresh records (filters and routes pass on objects other branches may hold).
    const shared = !owned(graph, readCount, step.input ?? "");
    compiler(ctx, step, node.path, input, shared);
  }
  const collected = compileSinks(ctx);
  return { graph: builder.build(), builder, metrics: ctx.metrics, collected };
}
