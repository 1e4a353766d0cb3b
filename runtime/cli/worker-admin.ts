/**
 * The admin API of a `runnel worker`: probes, /status, Prometheus metrics (per-operator
 * records, end-to-end latency, checkpoints, consumer lag, source dead letters) and, with the
 * job's bearer token, savepoints and stop-with-savepoint through the worker's SavepointControl.
 */
import type { Worker } from "../distributed/worker.ts";
import type { AdminToken } from "../observe/admin-auth.ts";
import { startAdminServer } from "../observe/admin-server.ts";
import { ConsumerLag } from "../observe/consumer-lag.ts";
import { kafkaPositions } from "../observe/engine-metrics.ts";
import { kafkaEndOffsets } from "../observe/kafka-end-offsets.ts";
import { createJobMetrics } from "../observe/metrics.ts";
import type { SavepointControl } from "../observe/savepoint-control.ts";

/** A started worker admin server. */
export interface WorkerAdmin {
  url: string;
  /** Whether POST /savepoints and /stop are served (the worker offers savepoints). */
  savepoints: boolean;
  close(): Promise<void>;
}

/** Starts the admin API of a worker on host:port. */
export async function serveWorkerAdmin(w: Worker, options: { at: { host: string; port: number }; brokers: string[]; token: AdminToken }): Promise<WorkerAdmin> {
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
  });
  const savepoints: SavepointControl | undefined = w.savepoints;
  const server = await startAdminServer(
    {
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
      token: options.token,
      ...(savepoints ? { savepoints } : {}),
    },
    options.at,
  );
  return {
    url: server.url,
    savepoints: savepoints !== undefined,
    async close() {
      await server.close();
      await ends.close().catch(() => undefined);
    },
  };
}
