// The Grafana dashboard queries only metrics the code really exports: every `runnel_…` name in its
// queries is read from the real registries (a worker's, with every optional source present, and the
// operator's), histogram series by their _bucket/_sum/_count names. It covers what the operations
// guide promises: throughput, lag, end-to-end latency, checkpoint duration and size, dead letters,
// restarts and reconcile errors.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { createJobMetrics } from "../../../runtime/observe/metrics.ts";
import { createOperatorMetrics } from "../../../operator/machinery/metrics.ts";

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(join(repoRoot, "charts/runnel-operator/dashboards/runnel.json"), "utf8")) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
};

/** Every series name a registry exposes (histograms as their _bucket, _sum and _count series). */
function exportedSeries(registry: Registry): Set<string> {
  const names = new Set<string>();
  for (const m of registry.getMetricsAsArray() as unknown as { name: string; type: string }[]) {
    if (m.type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${m.name}${suffix}`);
    else names.add(m.name);
  }
  return names;
}

/** A worker's registry with every optional source, so every metric a worker can export is registered. */
function workerRegistry(): Registry {
  return createJobMetrics({
    job: "j",
    progress: () => ({}) as never,
    deadLetters: () => ({}),
    dropped: () => ({}),
    engineState: () => ({}) as never,
    checkpoints: () => ({ lastBytes: 0, failures: 0 }),
    sourceDeadLetters: () => 0,
    consumerLag: async () => [],
  });
}

function queries(): string[] {
  const flat = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  const panelExprs = flat(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const varExprs = dashboard.templating.list.map((v) => (typeof v.query === "object" ? v.query.query : "")).filter((q) => q.includes("runnel_"));
  return [...panelExprs, ...varExprs];
}

const queried = [...new Set(queries().flatMap((q) => q.match(/\brunnel_[a-z0-9_]+/g) ?? []))].sort();

describe("Grafana dashboard", () => {
  it("queries only series the worker and the operator really export", () => {
    const exported = new Set([...exportedSeries(workerRegistry()), ...exportedSeries(createOperatorMetrics().registry)]);
    expect(queried.filter((name) => !exported.has(name))).toEqual([]);
  });

  it("covers throughput, lag, latency, checkpoints, dead letters, restarts and reconcile errors", () => {
    for (const name of [
      "runnel_records_in_total",
      "runnel_records_out_total",
      "runnel_consumer_lag_records",
      "runnel_end_to_end_latency_seconds_bucket",
      "runnel_checkpoint_duration_seconds_bucket",
      "runnel_checkpoint_size_bytes",
      "runnel_dead_letters_total",
      "runnel_source_dead_letters_total",
      "runnel_process_start_time_seconds",
      "runnel_operator_reconcile_errors_total",
      "runnel_operator_process_start_time_seconds",
    ])
      expect(queried).toContain(name);
  });

  it("has a unique id and a query on every panel but rows", () => {
    expect(dashboard.uid).toBe("runnel-overview");
    const empty = dashboard.panels.filter((p) => p.type !== "row" && !(p.targets ?? []).length).map((p) => p.title);
    expect(empty).toEqual([]);
  });
});
