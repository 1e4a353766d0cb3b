/**
 * Prometheus metrics of a running job, read from the engine's progress when scraped (pull, so the
 * hot path does no metric work). Names follow Prometheus conventions: a `runnel_` prefix, base
 * units, `_total` for counters; every series carries the job name.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { Progress } from "../exec/engine.ts";
import { MAX_WATERMARK, MIN_WATERMARK } from "../time/watermarks.ts";

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

/** Creates a registry with the job's metrics and the process's default metrics. */
export function createJobMetrics(source: JobMetricsSource): Registry {
  const registry = new Registry();
  const job = source.job;
  const now = source.now ?? Date.now;
  collectDefaultMetrics({ register: registry, prefix: "runnel_" });
  totalCounter(registry, "runnel_records_in_total", "Records read from the job's sources.", ["job"], (c) => c.inc({ job }, source.progress().recordsIn));
  totalCounter(registry, "runnel_records_out_total", "Records written to the job's sinks.", ["job"], (c) => c.inc({ job }, source.progress().recordsOut));
  totalCounter(registry, "runnel_late_records_dropped_total", "Records dropped because they arrived after their window closed (and no late output took them).", ["job"], (c) =>
    c.inc({ job }, source.progress().lateDropped),
  );
  totalCounter(registry, "runnel_checkpoints_total", "Checkpoints completed.", ["job"], (c) => c.inc({ job }, source.progress().checkpoints));
  totalCounter(registry, "runnel_dead_letters_total", "Records sent to the dead-letter output, by step and reason.", ["job", "step", "reason"], (c) => byStepReason(c, job, source.deadLetters?.()));
  totalCounter(registry, "runnel_dropped_records_total", "Records dropped on purpose (filters, duplicates, skipped errors), by step and reason.", ["job", "step", "reason"], (c) =>
    byStepReason(c, job, source.dropped?.()),
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
    collect() {
      this.reset();
      const wm = source.progress().watermark;
      if (wm > MIN_WATERMARK && wm < MAX_WATERMARK) this.set({ job }, (now() - wm) / 1000);
    },
  });
  return registry;
}
