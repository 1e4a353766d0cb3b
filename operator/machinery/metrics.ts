/**
 * The operator's Prometheus metrics: reconciles (totals by result, errors, duration), work queues
 * (depth, time waited, retries), watches (restarts by reason), leadership, and jobs by phase.
 * Names carry the `runnel_operator_` prefix; series carry the controller (`streamjob`,
 * `streamsavepoint`) or the watched resource.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { QueueObserver } from "./queue.ts";

/** The operator's metrics. */
export interface OperatorMetrics {
  readonly registry: Registry;
  /** One finished reconcile: result is done, requeue, retry (retriable error) or error. */
  reconciled(controller: string, result: "done" | "requeue" | "retry" | "error", seconds: number): void;
  /** A queue observer for one controller's queue. */
  queueObserver(controller: string): QueueObserver;
  /** A watch was restarted (reason: expired, watchdog, error, closed). */
  watchRestarted(resource: string, reason: string): void;
  /** Leadership changed. */
  setLeader(leader: boolean): void;
  /** Reads jobs by phase at scrape time. */
  jobsByPhase(read: () => Map<string, number>): void;
}

/** Creates the operator's registry and metrics. */
export function createOperatorMetrics(options: { defaultMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "runnel_operator_" });
  const reconciles = new Counter({
    name: "runnel_operator_reconcile_total",
    help: "Reconciles finished, by controller and result (done, requeue, retry, error).",
    labelNames: ["controller", "result"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "runnel_operator_reconcile_errors_total",
    help: "Reconciles that ended in an error, by controller and whether it is retried.",
    labelNames: ["controller", "retriable"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "runnel_operator_reconcile_duration_seconds",
    help: "Time one reconcile took.",
    labelNames: ["controller"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const depth = new Gauge({ name: "runnel_operator_queue_depth", help: "Keys waiting in a work queue.", labelNames: ["controller"], registers: [registry] });
  const latency = new Histogram({
    name: "runnel_operator_queue_latency_seconds",
    help: "Time a key waited in a work queue before being reconciled.",
    labelNames: ["controller"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
    registers: [registry],
  });
  const retries = new Counter({
    name: "runnel_operator_queue_retries_total",
    help: "Retries scheduled with backoff.",
    labelNames: ["controller"],
    registers: [registry],
  });
  const watchRestarts = new Counter({
    name: "runnel_operator_watch_restarts_total",
    help: "Watches restarted, by resource and reason (expired: 410 Gone, relisted; watchdog: silent too long; error; closed).",
    labelNames: ["resource", "reason"],
    registers: [registry],
  });
  const leader = new Gauge({ name: "runnel_operator_leader", help: "1 while this replica holds the leader Lease.", registers: [registry] });
  let phases: () => Map<string, number> = () => new Map();
  new Gauge({
    name: "runnel_operator_jobs",
    help: "StreamJobs by phase.",
    labelNames: ["phase"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [phase, n] of phases()) this.set({ phase }, n);
    },
  });
  return {
    registry,
    reconciled(controller, result, seconds) {
      reconciles.inc({ controller, result });
      if (result === "retry" || result === "error") errors.inc({ controller, retriable: String(result === "retry") });
      duration.observe({ controller }, seconds);
    },
    queueObserver(controller) {
      depth.set({ controller }, 0);
      return {
        onDepth: (n) => depth.set({ controller }, n),
        onGet: (ms) => latency.observe({ controller }, ms / 1000),
        onRetry: () => retries.inc({ controller }),
      };
    },
    watchRestarted: (resource, reason) => watchRestarts.inc({ resource, reason }),
    setLeader: (v) => leader.set(v ? 1 : 0),
    jobsByPhase(read) {
      phases = read;
    },
  };
}
