/**
 * Prometheus metrics of a running job, read from the engine's progress when scraped (pull, so the
 * hot path does no metric work beyond plain counters and preallocated histograms). Names follow
 * Prometheus conventions: a `runnel_` prefix, base units, `_total` for counters; every series
 * carries the job name, and `operator`/`task`/`topic`/`partition` where they apply.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { KeyedStateBackend } from "../state/backend.ts";
import type { EngineState } from "../exec/checkpointing.ts";
import type { Progress } from "../exec/engine.ts";
import { MAX_WATERMARK, MIN_WATERMARK } from "../time/watermarks.ts";
import type { PartitionLag } from "./consumer-lag.ts";
import { operatorCounts, sinkLatencies } from "./engine-metrics.ts";
import { CHECKPOINT_SECONDS_BUCKETS, LATENCY_SECONDS_BUCKETS, registerScrapedHistogram, type BucketHistogram } from "./histogram.ts";

/** Checkpoint statistics of a worker (its `checkpointStats`). */
export interface CheckpointStatsView {
  /** Size of the last checkpoint, bytes. */
  lastBytes: number;
  /** Checkpoints that failed (a failed checkpoint fails the run). */
  failures: number;
  /** Durations of completed checkpoints, seconds (absent: no duration histogram). */
  durations?: BucketHistogram;
}

/** Where the metrics read from. */
export interface JobMetricsSource {
  /** The job's name (the `job` label). */
  job: string;
  /** The engine's current counters. */
  progress: () => Progress;
  /** Records sent to the dead-letter output, by `step/reason` (declarative pipelines). */
  deadLetters?: () => Record<string, number>;
  /** Records dropped on purpose, by `step/reason` (declarative pipelines). */
  dropped?: () => Record<string, number>;
  /** Processing time (for the watermark delay). */
  now?: () => number;
  /** The engine's sources and instances: per-operator records in/out and sink end-to-end latency. */
  engineState?: () => EngineState;
  /** Checkpoint statistics (distributed workers). */
  checkpoints?: () => CheckpointStatsView;
  /** Source records that could not be decoded and went to the dead-letter topic. */
  sourceDeadLetters?: () => number;
  /** Consumer lag of the Kafka partitions this process reads (called at scrape time only). */
  consumerLag?: () => Promise<PartitionLag[]>;
  /** Include the process's default metrics (CPU, memory, event loop); false in a worker thread, whose process reports them once. */
  processMetrics?: boolean;
}

/** A counter whose value is a running total kept elsewhere: reset and set at each scrape. */
function totalCounter(registry: Registry, name: string, help: string, labelNames: string[], read: (c: Counter) => void): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read(this);
    },
  });
}

function byStepReason(counter: Counter, job: string, totals: Record<string, number> | undefined): void {
  for (const [key, n] of Object.entries(totals ?? {})) {
    const slash = key.indexOf("/");
    counter.inc({ job, step: slash < 0 ? key : key.slice(0, slash), reason: slash < 0 ? "" : key.slice(slash + 1) }, n);
  }
}

/** A registry with the process's default metrics (CPU, memory, event loop), prefixed `runnel_`. */
export function createProcessMetrics(registry: Registry = new Registry()): Registry {
  collectDefaultMetrics({ register: registry, prefix: "runnel_" });
  return registry;
}

/** Creates a registry with the job's metrics and (unless told otherwise) the process's default metrics. */
export function createJobMetrics(source: JobMetricsSource): Registry {
  const registry = new Registry();
  const job = source.job;
  const now = source.now ?? Date.now;
  if (source.processMetrics !== false) createProcessMetrics(registry);
  totalCounter(registry, "runnel_records_in_total", "Records read from the job's sources.", ["job"], (c) => c.inc({ job }, source.progress().recordsIn));
  totalCounter(registry, "runnel_records_out_total", "Records written to the job's sinks.", ["job"], (c) => c.inc({ job }, source.progress().recordsOut));
  totalCounter(
    registry,
    "runnel_late_records_dropped_total",
    "Records dropped because they arrived after their window closed (and no late output took them).",
    ["job"],
    (c) => c.inc({ job }, source.progress().lateDropped),
  );
  totalCounter(registry, "runnel_checkpoints_total", "Checkpoints completed.", ["job"], (c) => c.inc({ job }, source.progress().checkpoints));
  totalCounter(registry, "runnel_dead_letters_total", "Records sent to the dead-letter output, by step and reason.", ["job", "step", "reason"], (c) =>
    byStepReason(c, job, source.deadLetters?.()),
  );
  totalCounter(
    registry,
    "runnel_dropped_records_total",
    "Records dropped on purpose (filters, duplicates, skipped errors), by step and reason.",
    ["job", "step", "reason"],
    (c) => byStepReason(c, job, source.dropped?.()),
  );
  new Gauge({
    name: "runnel_state_entries",
    help: "Keyed state entries held in memory, plus timers.",
    labelNames: ["job"],
    registers: [registry],
    collect() {
      this.set({ job }, source.progress().stateSize);
    },
  });
  new Gauge({
    name: "runnel_watermark_delay_seconds",
    help: "Processing time minus the job's output watermark (absent until the watermark is a time).",
    labelNames: ["job"],
    registers: [registry],
    // Threads of one worker: the worker is as late as its latest thread.
    aggregator: "max",
    collect() {
      this.reset();
      const wm = source.progress().watermark;
      if (wm > MIN_WATERMARK && wm < MAX_WATERMARK) this.set({ job }, (now() - wm) / 1000);
    },
  });
  if (source.engineState) registerEngineMetrics(registry, job, source.engineState);
  if (source.checkpoints) registerCheckpointMetrics(registry, job, source.checkpoints);
  const sourceDeadLetters = source.sourceDeadLetters;
  if (sourceDeadLetters) {
    totalCounter(registry, "runnel_source_dead_letters_total", "Source records that could not be decoded and went to the dead-letter topic.", ["job"], (c) =>
      c.inc({ job }, sourceDeadLetters()),
    );
  }
  const consumerLag = source.consumerLag;
  if (consumerLag) {
    new Gauge({
      name: "runnel_consumer_lag_records",
      help: "Records between a source partition's end offset (high watermark, refreshed every few seconds) and the position of the task reading it.",
      labelNames: ["job", "topic", "partition"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const l of await consumerLag()) this.set({ job, topic: l.topic, partition: String(l.partition) }, l.lag);
      },
    });
  }
  return registry;
}

function registerEngineMetrics(registry: Registry, job: string, state: () => EngineState): void {
  const byOperator = (c: Counter, field: "recordsIn" | "recordsOut"): void => {
    for (const o of operatorCounts(state())) c.inc({ job, operator: o.operator, task: String(o.task) }, o[field]);
  };
  totalCounter(
    registry,
    "runnel_operator_records_in_total",
    "Records an operator instance received (sources: records read).",
    ["job", "operator", "task"],
    (c) => byOperator(c, "recordsIn"),
  );
  totalCounter(
    registry,
    "runnel_operator_records_out_total",
    "Records an operator instance emitted (sinks: records written).",
    ["job", "operator", "task"],
    (c) => byOperator(c, "recordsOut"),
  );
  // LevelDB-backed tasks only: heap state never reads or writes a store.
  const stores = (): { task: string; backend: KeyedStateBackend }[] =>
    state().backends.flatMap((backend, task) => (backend?.store.persistent === true ? [{ task: String(task), backend }] : []));
  totalCounter(
    registry,
    "runnel_state_keys_read_total",
    "Keys a task looked up in its LevelDB store (what its state cache did not hold).",
    ["job", "task"],
    (c) => {
      for (const s of stores()) c.inc({ job, task: s.task }, s.backend.stats.keysRead);
    },
  );
  totalCounter(
    registry,
    "runnel_state_keys_written_total",
    "Keys a task wrote to or deleted from its LevelDB store (evictions, checkpoints).",
    ["job", "task"],
    (c) => {
      for (const s of stores()) c.inc({ job, task: s.task }, s.backend.stats.keysWritten);
    },
  );
  totalCounter(
    registry,
    "runnel_state_evictions_total",
    "Times a task's state cache went past spec.stateCache.entries and was written back and halved.",
    ["job", "task"],
    (c) => {
      for (const s of stores()) c.inc({ job, task: s.task }, s.backend.evictions);
    },
  );
  totalCounter(
    registry,
    "runnel_state_eviction_waits_total",
    "Times a task's state cache was past spec.stateCache.entries while a checkpoint still wrote, and the task waited for it before reading more (backpressure).",
    ["job", "task"],
    (c) => {
      for (const s of stores()) c.inc({ job, task: s.task }, s.backend.evictionWaits);
    },
  );
  totalCounter(
    registry,
    "runnel_state_timers_stored_total",
    "Timers a task's operators put in its LevelDB store beyond their in-memory bound (four per spec.stateCache.entries; ADR 34).",
    ["job", "task"],
    (c) => {
      for (const s of stores()) c.inc({ job, task: s.task }, s.backend.timersStored);
    },
  );
  registerScrapedHistogram({
    registry,
    name: "runnel_end_to_end_latency_seconds",
    help: "Processing time at a sink minus the record's event timestamp (ingestion time when the source assigns none).",
    labelNames: ["job", "operator"],
    buckets: LATENCY_SECONDS_BUCKETS,
    read: () => sinkLatencies(state()).map((s) => ({ labels: { job, ...s.labels }, histogram: s.histogram })),
  });
}

function registerCheckpointMetrics(registry: Registry, job: string, stats: () => CheckpointStatsView): void {
  registerScrapedHistogram({
    registry,
    name: "runnel_checkpoint_duration_seconds",
    help: "Time to complete a checkpoint (all tasks of this process).",
    labelNames: ["job"],
    buckets: CHECKPOINT_SECONDS_BUCKETS,
    read: () => {
      const durations = stats().durations;
      return durations ? [{ labels: { job }, histogram: durations }] : [];
    },
  });
  new Gauge({
    name: "runnel_checkpoint_size_bytes",
    help: "Size of the last completed checkpoint (state changes and metadata written).",
    labelNames: ["job"],
    registers: [registry],
    collect() {
      this.set({ job }, stats().lastBytes);
    },
  });
  totalCounter(registry, "runnel_checkpoint_failures_total", "Checkpoints that failed.", ["job"], (c) => c.inc({ job }, stats().failures));
}
