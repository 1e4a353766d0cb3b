/**
 * One worker of a distributed job: worker `ordinal` of `workers` runs the tasks p with
 * p mod workers == ordinal. It compiles the StreamJob with Kafka sources and sinks, plans the
 * graph for distribution (repartition topics, replicated broadcast inputs), creates the job's
 * internal topics, restores its tasks from the changelog and runs them, committing each task's
 * checkpoint as one Kafka transaction. stop() ends with a final checkpoint.
 */
import { dirname, join } from "node:path";
import { createKafkaClient, type KafkaConnection } from "../connectors/kafka/client.ts";
import { createDeadLetterQueue, type DeadLetterQueue } from "../connectors/kafka/dead-letter.ts";
import { JobDefinitionError } from "../errors.ts";
import { createEngine, type Engine, type Progress, type StateOption } from "../exec/engine.ts";
import { taskCount, type JobGraph } from "../graph/graph.ts";
import { compileStreamJob, readStreamJob } from "../pipeline/load.ts";
import type { PipelineMetrics } from "../pipeline/context.ts";
import { parseDuration } from "../spec/duration.ts";
import { DEAD_LETTER } from "../spec/pipeline-graph.ts";
import type { StreamJob } from "../spec/generated/types.ts";
import { BucketHistogram, CHECKPOINT_SECONDS_BUCKETS } from "../observe/histogram.ts";
import { kafkaSinkFor, openKafkaSources } from "./connectors.ts";
import { kafkaCheckpointer, type KafkaCheckpointer } from "./kafka-checkpointer.ts";
import { planDistributed, type DistributedPlan } from "./plan.ts";
import { changelogTopic, ensureTopics, jobPrefix } from "./topics.ts";
import type { Delivery } from "./transactions.ts";
import type { SavepointControl } from "../observe/savepoint-control.ts";
import { fileSavepointStorage, readSavepoint } from "./savepoint-store.ts";
import { savepointCoordinator } from "./savepoints.ts";
import { openKafkaTable, type LiveTable } from "./tables.ts";

/** Options of a worker. */
export interface WorkerOptions {
  /** The StreamJob manifest (a mounted file). */
  manifest: string;
  /** metadata.name of the job when the file holds several. */
  name?: string;
  /** This worker's ordinal (0-based). */
  ordinal: number;
  /** Number of workers. */
  workers: number;
  /** Kubernetes namespace (part of the job's identity on Kafka). */
  namespace: string;
  /** Brokers; default spec.kafka.bootstrapServers. */
  brokers?: string[];
  /** Folder of the tasks' LevelDB stores. */
  stateDir: string;
  /** Keyed state on heap instead of LevelDB (rebuilt from the changelog at every start). */
  heapState?: boolean;
  /** Default spec.checkpoint.mode. */
  delivery?: Delivery;
  /** Default spec.checkpoint.interval. */
  checkpointIntervalMs?: number;
  /** Replication factor of internal topics (default 1, for single-broker clusters; use 3 in production). */
  replicationFactor?: number;
  /** Start from this savepoint folder (into a fresh generation of internal topics). */
  restoreFrom?: string;
  /** Skip savepoint state of operators the job no longer has instead of failing. */
  allowNonRestoredState?: boolean;
}

/** A running worker. */
export interface Worker {
  readonly job: StreamJob;
  readonly engine: Engine;
  readonly plan: DistributedPlan;
  /** Tasks this worker runs. */
  readonly tasks: number[];
  /** Pipeline counters (dead letters, drops) of declarative jobs. */
  readonly metrics: PipelineMetrics;
  /** Source records sent to the dead-letter topic. */
  readonly poisoned: () => number;
  /** Checkpoint timings. */
  readonly checkpointStats: {
    count: number;
    lastDurationMs: number;
    lastBytes: number;
    failures: number;
    /** Durations in seconds (metrics). */ durations: BucketHistogram;
  };
  /** Runs until stop() (then a final checkpoint) or a failure. */
  run(): Promise<Progress>;
  /** Asks the worker to stop after the current round, with a final checkpoint. */
  stop(): void;
  /** Savepoints for the admin API. */
  readonly savepoints: SavepointControl;
}

/** The tasks worker `ordinal` of `workers` owns. */
export function ownedTasks(parallelism: number, ordinal: number, workers: number): number[] {
  return Array.from({ length: parallelism }, (_, t) => t).filter((t) => t % workers === ordinal);
}

/** Starts a worker: compiles, plans, creates topics; run() restores and runs. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  if (!Number.isInteger(options.workers) || options.workers < 1)
    throw new JobDefinitionError(`the worker count must be a positive integer, got ${options.workers}`);
  if (!Number.isInteger(options.ordinal) || options.ordinal < 0 || options.ordinal >= options.workers) {
    throw new JobDefinitionError(`the ordinal must be within 0..${options.workers - 1}, got ${options.ordinal}`);
  }
  const { job, file } = await readStreamJob(options.manifest, options.name);
  const brokers = options.brokers ?? job.spec.kafka?.bootstrapServers;
  if (!brokers || brokers.length === 0) throw new JobDefinitionError("no Kafka brokers: set spec.kafka.bootstrapServers (or pass --brokers)");
  const connection: KafkaConnection = { brokers };
  const jobName = job.metadata?.name ?? "job";
  const prefix = jobPrefix(options.namespace, jobName);
  // A job restored from a savepoint writes a fresh generation of internal topics (named by the
  // savepoint): the old ones may have moved on since, and the savepoint left nothing in flight.
  const savepoint = options.restoreFrom === undefined ? undefined : await readSavepoint(fileSavepointStorage(options.restoreFrom));
  const topicPrefix = savepoint ? `${prefix}.${savepoint.id}` : prefix;
  const kafka = createKafkaClient({ ...connection, clientId: `${prefix}.w${options.ordinal}` });
  const admin = kafka.admin();
  await admin.connect();
  const replicationFactor = options.replicationFactor ?? 1;
  // Reader groups only carry static assignments (positions live in checkpoints): a fresh group per
  // process start means a restarted worker never waits for its killed predecessor's session to expire.
  const workerId = `w${options.ordinal}-${process.pid}-${Date.now().toString(36)}`;
  let poisoned = 0;
  let deadLetters: DeadLetterQueue | undefined;
  let plan: DistributedPlan;
  let graph: JobGraph;
  let metrics: PipelineMetrics;
  const inputTopics = new Map<string, string>();
  const tables = new Map<string, LiveTable>();
  try {
    const sourceSpecs = job.spec.pipeline?.sources ?? [];
    const dlqSink = job.spec.pipeline?.sinks.find((s) => s.input === DEAD_LETTER && s.kafka);
    const dlqTopic = dlqSink?.kafka?.topic ?? `${prefix}.dead-letter`;
    if (!dlqSink) await ensureTopics(admin, [{ topic: dlqTopic, partitions: 1, compacted: false }], replicationFactor, options.ordinal === 0);
    deadLetters = await createDeadLetterQueue({ connection, topic: dlqTopic });
    const sources = await openKafkaSources({
      sources: sourceSpecs,
      connection,
      readerGroup: `${prefix}.${workerId}`,
      deadLetters,
      onPoison: () => void poisoned++,
    });
    for (const s of sourceSpecs) if (s.kafka) inputTopics.set(s.id, s.kafka.topic);
    for (const s of sourceSpecs) {
      if (!s.kafka || s.mode !== "table") continue;
      tables.set(s.id, await openKafkaTable({ connection, admin, topic: s.kafka.topic, readerGroup: `${prefix}.${workerId}.${s.id}` }));
    }
    const compiled = await compileStreamJob(job, {
      mode: "cluster",
      baseDir: dirname(file),
      sourceOverride: (spec) => sources.get(spec.id),
      tableOverride: (spec) => tables.get(spec.id),
      sinkOverride: (spec) => kafkaSinkFor(spec, connection, `.spec.pipeline.sinks[${job.spec.pipeline?.sinks.indexOf(spec) ?? 0}]`),
      // No parallelism: on a cluster spec.parallelism is the worker count (--workers) and the tasks
      // are the input partitions, so a rescale keeps every task and its changelog.
    });
    graph = compiled.graph;
    metrics = compiled.metrics;
    const topics = changelogTopic(topicPrefix);
    plan = await planDistributed(graph, {
      connection,
      prefix: topicPrefix,
      readerGroup: `${prefix}.${workerId}`,
      createTopics: (internal) =>
        ensureTopics(admin, [...internal, { topic: topics, partitions: taskCount(graph), compacted: true }], replicationFactor, options.ordinal === 0),
    });
  } finally {
    await admin.disconnect();
  }
  const tasks = ownedTasks(plan.parallelism, options.ordinal, options.workers);
  const delivery: Delivery = options.delivery ?? job.spec.checkpoint?.mode ?? "exactly-once";
  const checkpointStats = { count: 0, lastDurationMs: 0, lastBytes: 0, failures: 0, durations: new BucketHistogram(CHECKPOINT_SECONDS_BUCKETS) };
  // Source uids are the source ids; the planned graph's uids map them to their Kafka topics.
  const checkpointer: KafkaCheckpointer = kafkaCheckpointer({
    kafka,
    connection,
    prefix,
    changelogTopic: changelogTopic(topicPrefix),
    ...(savepoint ? { savepoint } : {}),
    delivery,
    workerId,
    inputTopics,
    onCheckpoint: ({ durationMs, bytes }) => {
      checkpointStats.count++;
      checkpointStats.lastDurationMs = durationMs;
      checkpointStats.lastBytes = bytes;
      checkpointStats.durations.observe(durationMs / 1000);
    },
  });
  const state: StateOption = options.heapState ? { kind: "heap" } : { kind: "level", dir: join(options.stateDir, prefix) };
  const savepoints = savepointCoordinator({
    job: jobName,
    ordinal: options.ordinal,
    tasks,
    plan,
    ...(job.spec.savepoint?.storage?.path === undefined ? {} : { defaultRoot: job.spec.savepoint.storage.path }),
  });
  const engine: Engine = createEngine({
    onRound: () => savepoints.onRound(engine),
    allowNonRestoredState: options.allowNonRestoredState === true,
    graph: plan.graph,
    state,
    tasks,
    replicatedNodes: plan.replicated,
    checkpointer: { impl: checkpointer, intervalMs: options.checkpointIntervalMs ?? parseDuration(job.spec.checkpoint?.interval ?? "5s") },
    taskServices: (task) => (tasks.includes(task) ? { transaction: checkpointer.producer(task) } : {}),
  });
  const dlq = deadLetters;
  return {
    job,
    engine,
    plan,
    tasks,
    metrics,
    poisoned: () => poisoned,
    checkpointStats,
    async run() {
      try {
        return await engine.run();
      } catch (err) {
        checkpointStats.failures++;
        throw err;
      } finally {
        await dlq.close().catch(() => undefined);
        for (const t of tables.values()) await t.close().catch(() => undefined);
      }
    },
    stop: () => engine.stop(),
    savepoints,
  };
}
