/**
 * The admin API of a `runnel worker`: probes, /status, Prometheus metrics (per-operator
 * records, end-to-end latency, checkpoints, consumer lag, source dead letters) and, with the
 * job's bearer token, savepoints and stop-with-savepoint through the worker's SavepointControl.
 * A worker on several threads builds one source per thread (workerAdminSource) and serves them
 * merged (distributed/threads/pool.ts).
 */
import type { Registry } from "prom-client";
import type { Worker } from "../distributed/worker.ts";
import type { AdminToken } from "../observe/admin-auth.ts";
import { startAdminServer, type AdminSource } from "../observe/admin-server.ts";
import { ConsumerLag } from "../observe/consumer-lag.ts";
import { kafkaPositions } from "../observe/engine-metrics.ts";
import { kafkaEndOffsets } from "../observe/kafka-end-offsets.ts";
import { createJobMetrics } from "../observe/metrics.ts";
import type { WorkerStatus } from "../worker-contract.ts";

/** A started worker admin server. */
export interface WorkerAdmin {
  url: string;
  /** Whether POST /savepoints and /stop are served (the worker offers savepoints). */
  savepoints: boolean;
  close(): Promise<void>;
}

/** What one worker (or one thread of a worker) serves, before any HTTP. */
export interface WorkerAdminSource extends AdminSource {
  registry: Registry;
  status: () => Promise<WorkerStatus>;
  ready: () => boolean;
  /** Closes the lag reader's Kafka client. */
  close(): Promise<void>;
}

/** The admin source of a worker: its metrics (with the process's unless `processMetrics` is false), status, readiness and savepoints. */
export function workerAdminSource(w: Worker, options: { brokers: string[]; token?: AdminToken; processMetrics?: boolean }): WorkerAdminSource {
  const job = w.job.metadata?.name ?? "job";
  const ends = kafkaEndOffsets({ brokers: options.brokers, clientId: `runnel-lag-${job}` });
  const lag = new ConsumerLag({ positions: () => kafkaPositions(w.engine.state), endOffsets: ends.endOffsets });
  const registry = createJobMetrics({
    job,
    progress: () => w.engine.progress(),
    deadLetters: () => w.metrics.deadLetters,
    dropped: () => w.metrics.dropped,
    engineState: () => w.engine.state,
    checkpoints: () => w.checkpointStats,
    sourceDeadLetters: () => w.poisoned(),
    consumerLag: () => lag.read(),
    ...(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics }),
  });
  return {
    registry,
    ready: () => w.engine.progress().rounds > 0,
    status: async () => ({
      job,
      generation: w.generation,
      ordinal: w.ordinal,
      tasks: w.tasks,
      parallelism: w.plan.parallelism,
      ...w.engine.progress(),
      checkpoint: {
        count: w.checkpointStats.count,
        lastDurationMs: w.checkpointStats.lastDurationMs,
        lastBytes: w.checkpointStats.lastBytes,
        failures: w.checkpointStats.failures,
      },
      sourceDeadLetters: w.poisoned(),
      // The contract's lag: records behind the inputs' ends, summed (end offsets cached, refreshed at most every 5 s).
      consumerLag: (await lag.read()).reduce((sum, l) => sum + l.lag, 0),
      ...(lag.lastError === undefined ? {} : { consumerLagError: lag.lastError }),
    }),
    ...(options.token ? { token: options.token } : {}),
    savepoints: w.savepoints,
    close: () => ends.close().catch(() => undefined),
  };
}

/** Serves an admin source on host:port; closing stops the server, then the source. */
export async function serveAdmin(source: AdminSource & { close(): Promise<void> }, at: { host: string; port: number }): Promise<WorkerAdmin> {
  const server = await startAdminServer(source, at).catch(async (err: unknown) => {
    await source.close();
    throw err;
  });
  return {
    url: server.url,
    savepoints: source.savepoints !== undefined,
    async close() {
      await server.close();
      await source.close();
    },
  };
}

/** Starts the admin API of a worker on host:port. */
export function serveWorkerAdmin(w: Worker, options: { at: { host: string; port: number }; brokers: string[]; token: AdminToken }): Promise<WorkerAdmin> {
  return serveAdmin(workerAdminSource(w, { brokers: options.brokers, token: options.token }), options.at);
}
