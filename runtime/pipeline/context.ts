/**
 * What the step compilers share: the job being built, the stream each reference names, the
 * dead-letter producers, counters, and the per-step error policy (dead-letter, skip or fail).
 */
import type { Context } from "../api/functions.ts";
import type { DataStream, JobBuilder } from "../api/job.ts";
import { OutputTag } from "../api/output-tag.ts";
import { UserFunctionError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Sink as SinkSpec, Source as SourceSpec, Step, StreamJob } from "../spec/generated/types.ts";
import type { Sink, Source } from "../connectors/types.ts";
import { errorText } from "./expr.ts";
import type { Stage } from "./stages.ts";
import { PipelineError } from "./errors.ts";

/** A compiled stream: the typed-API stream and whether its records carry a key. */
export interface Handle {
  stream: DataStream<unknown>;
  keyed: boolean;
  /** For the main output of a record-at-a-time step: the stage that ends it (a sole reader fuses after it). */
  stage?: Stage;
  /** The record field the stream's Kafka topic is keyed by (`partitionedBy`), while steps keep records as they are. */
  partitionedBy?: string;
  /** Keyed by exactly that field: keyed steps need no repartition topic. */
  colocated?: boolean;
}

/** The record sent to the dead-letter stream. */
export interface DeadLetter {
  /** Step id that rejected the record (a source id for records its source check rejected). */
  step: string;
  /** The clean rule, the filter's reason, `expression-error`, or a source check's reason (`invalid-json`, `not-an-object`, `event-time`, `field-type`). */
  reason: string;
  /** The evaluation error, for expression errors. */
  error?: string;
  /** The record as it reached the step (a source's rejected file line: its text). */
  record: unknown;
  /** Where a source read it, when the record cannot say itself: `file:line` of an ndjson line. */
  origin?: string;
}

/** Side output every step sends dead letters to (merged into the `dead-letter` stream). */
export const DEAD_LETTER_TAG = new OutputTag<DeadLetter>("dead-letter");

/** Counters of a compiled pipeline (shared by all tasks of a local run). */
export interface PipelineMetrics {
  /** Records sent to the dead-letter stream, by `step/reason`. */
  deadLetters: Record<string, number>;
  /** Records dropped on purpose (filters, clean with drop, skipped errors), by `step/reason`. */
  dropped: Record<string, number>;
  /** The first dead letter of each `step/reason`, kept when a local run summarises its dead letters instead of printing them. */
  deadLetterSamples: Record<string, DeadLetter>;
}

/** Options of compilePipeline. */
export interface CompileOptions {
  /** local: Kafka sources run from their `local` section; cluster: a worker supplies Kafka sources and sinks through the overrides. */
  mode: "local" | "cluster";
  /** Folder relative paths of the manifest (local files) are resolved against. */
  baseDir: string;
  /**
   * Replaces sinks: "collect" keeps every sink's records in memory (tests); a function may
   * return a sink for a sink spec (undefined: the default local mapping).
   */
  sinkOverride?: "collect" | ((sink: SinkSpec) => Sink<unknown> | undefined);
  /** Replaces sources: a function may return a source for a source spec (undefined: its `local` section). */
  sourceOverride?: (source: SourceSpec) => Source<unknown> | undefined;
  /** Replaces table sources (a worker's live compacted topics); undefined: the `local` section. */
  tableOverride?: (source: SourceSpec) => TableRows | undefined;
  /** Kafka and Redis sinks without `local` write ndjson here, one folder per sink id (default: stdout). */
  outDir?: string;
  /** Generators pace records at their `rate` in wall-clock time (live runs); default: as fast as possible. */
  throttle?: boolean;
  /** Event time of the first generated record (default 2026-01-01T00:00:00Z, so runs are reproducible). */
  startTime?: number;
  /** Caps every generator's record count (bounded runs of unbounded manifests). */
  maxRecordsPerSource?: number;
  /** Overrides the job's parallelism (default: spec.parallelism). */
  parallelism?: number;
  /** Where steps log what an operator wants to know as it happens (a rule applied at run time). */
  log?: Logger;
  /** Cluster mode: the topic a SQL job's dead letters go to (the worker's dead-letter topic). */
  deadLetterTopic?: string;
}

/** A table source's rows and, when it is a live compacted topic, a feed of its later changes. */
export interface TableRows {
  /** Rows known at start. */
  rows: Record<string, unknown>[];
  /** The Kafka key of each row (absent for local files and generators). */
  keys?: (string | null)[];
  /** Calls `onChange` for every later update; `row` null is a deletion (a tombstone) of `key`. */
  subscribe?(onChange: (key: string | null, row: Record<string, unknown> | null) => void): void;
}

/** The state of one compilation. */
export interface CompileContext {
  job: StreamJob;
  options: CompileOptions;
  builder: JobBuilder;
  /** Compiled streams by reference (`id`, `id.output`). */
  handles: Map<string, Handle>;
  /** Streams whose side output DEAD_LETTER_TAG may carry records. */
  deadLetterProducers: DataStream<unknown>[];
  metrics: PipelineMetrics;
  /** Source specs by id (tables and broadcast sources are read by steps, not as inputs). */
  sources: Map<string, { spec: SourceSpec; index: number }>;
  /** How many steps and sinks read each stream reference. */
  readers: Map<string, number>;
  /** The first stage of each process node built from record-at-a-time steps. */
  stages: Map<DataStream<unknown>, Stage>;
  /** Table sources: their rows (loaded at compile time in local mode) and, on a cluster, their updates. */
  tables: Map<string, TableRows>;
  /** Explicit uids used so far (steps, sources, sinks share one namespace). */
  uids: Set<string>;
}

/** A fresh compile context for `job` (pipeline or SQL) building into `builder`. */
export function newCompileContext(job: StreamJob, options: CompileOptions, builder: JobBuilder): CompileContext {
  return {
    job,
    options,
    builder,
    handles: new Map(),
    deadLetterProducers: [],
    metrics: { deadLetters: {}, dropped: {}, deadLetterSamples: {} },
    sources: new Map(),
    tables: new Map(),
    uids: new Set(),
    readers: new Map(),
    stages: new Map(),
  };
}

/**
 * A counter `name` in `counters`, made once at compile time: counting is one increment of a
 * closure variable (a hot filter counts most records), and the entry appears on first use.
 */
export function counter(counters: Record<string, number>, name: string): () => void {
  let n = 0;
  let shown = false;
  return () => {
    n++;
    if (!shown) {
      shown = true;
      const earlier = Object.getOwnPropertyDescriptor(counters, name);
      // Two counters of one name (a sink and a step sharing an id) add up.
      const base = (): number => (earlier?.get ? Number(earlier.get.call(counters)) : 0);
      Object.defineProperty(counters, name, { get: () => base() + n, enumerable: true, configurable: true });
    }
  };
}

/** The compiled stream a reference names; a PipelineError at `path` if there is none. */
export function streamOf(ctx: CompileContext, ref: string, path: string): Handle {
  const h = ctx.handles.get(ref);
  if (!h) throw new PipelineError(path, `no stream ${JSON.stringify(ref)} (it names no source or step, or a step that could not be compiled before it)`);
  return h;
}

/** The stable uid of a step's stateful operator: `uid`, or the step id. */
export function stepUid(step: Step): string {
  return step.uid ?? step.id;
}

/**
 * How a step handles a record whose expression failed: route it to the dead-letter stream (the
 * default), skip it (counted), or fail the job. Returns the function the step calls in its catch.
 */
export function onErrorPolicy(ctx: CompileContext, step: Step): (err: unknown, record: unknown, fnCtx: Context | undefined) => void {
  const mode = step.onError ?? "dead-letter";
  const uid = stepUid(step);
  const skipped = counter(ctx.metrics.dropped, `${step.id}/expression-error`);
  const dead = counter(ctx.metrics.deadLetters, `${step.id}/expression-error`);
  return (err, record, fnCtx) => {
    if (mode === "fail") throw new UserFunctionError(uid, err);
    // Inside an aggregation there is no side output to send the record to: it is counted instead.
    if (mode === "skip" || fnCtx === undefined) return skipped();
    dead();
    fnCtx.output(DEAD_LETTER_TAG, { step: step.id, reason: "expression-error", error: errorText(err), record });
  };
}

/** A function that sends a record to the dead-letter stream with a reason (clean rules, filters with onReject: dead-letter), counted. */
export function deadLetterSender(ctx: CompileContext, step: string, reason: string): (fnCtx: Context, record: unknown) => void {
  const count = counter(ctx.metrics.deadLetters, `${step}/${reason}`);
  return (fnCtx, record) => {
    count();
    fnCtx.output(DEAD_LETTER_TAG, { step, reason, record });
  };
}

/** Claims an explicit uid, or a suffixed variant when a sink id collides with a step id. */
export function claimUid(ctx: CompileContext, uid: string, path: string): string {
  if (!ctx.uids.has(uid)) {
    ctx.uids.add(uid);
    return uid;
  }
  throw new PipelineError(path, `operator uid ${JSON.stringify(uid)} is used twice`, "give the step a distinct `uid`");
}
