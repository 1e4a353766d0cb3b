/**
 * One worker of a distributed job: worker `ordinal` of `workers` runs the tasks p with
 * p mod workers == ordinal. It settles which generation of the job it runs (generations.ts),
 * compiles the StreamJob with Kafka sources and sinks, plans the graph for distribution
 * (repartition topics, replicated broadcast inputs), creates the generation's internal topics,
 * restores its tasks from the changelog and runs them, committing each task's checkpoint as one
 * Kafka transaction. stop() ends with a final checkpoint.
 */
import { dirname, join, resolve } from "node:path";
import { createKafkaClient, type KafkaAdmin, type KafkaConnection } from "../kafka/index.ts";
import { createDeadLetterQueue, type DeadLetterQueue } from "../connectors/kafka/dead-letter.ts";
import { ConnectorError, GenerationSealedError, JobDefinitionError } from "../errors.ts";
import { createLogger, type Logger } from "../log.ts";
import { createEngine, type Engine, type Progress, type StateOption } from "../exec/engine.ts";
import { taskCount, type JobGraph } from "../graph/graph.ts";
import { compileStreamJob, jobConnectors, readStreamJob } from "../pipeline/load.ts";
import type { PipelineMetrics } from "../pipeline/context.ts";
import { parseDuration } from "../spec/duration.ts";
import { DEAD_LETTER } from "../spec/pipeline-graph.ts";
import type { StreamJob } from "../spec/generated/types.ts";
import { BucketHistogram, CHECKPOINT_SECONDS_BUCKETS } from "../observe/histogram.ts";
import { kafkaSinkFor, openKafkaSources } from "./connectors.ts";
import { kafkaCheckpointer, type KafkaCheckpointer } from "./kafka-checkpointer.ts";
import { planDistributed, type DistributedPlan } from "./plan.ts";
import { changelogTopic, ensureTopics, generationPrefix, generationsTopic, jobPrefix } from "./topics.ts";
import { chooseGeneration, generationLog, type GenerationLog, type GenerationRecord } from "./generations.ts";
import { transactionTimeoutFor, type Delivery } from "./transactions.ts";
import { repartitionPurger } from "./purge.ts";
import { checkpointDurations } from "../spec/transaction-timeout.ts";
import type { SavepointControl } from "../observe/savepoint-control.ts";
import type { Snapshot } from "../checkpoint/format.ts";
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
  /** The generation to run (ADR 16); default: the job's current one, or a new one when restoring. */
  generation?: string;
  /** Run a generation that is not the job's current one (it becomes current). */
  allowOldGeneration?: boolean;
  /** The savepoint a new generation starts from; tasks of the generation without checkpoints take their state from it. */
  restoreFrom?: string;
  /** Skip savepoint state of operators the job no longer has instead of failing. */
  allowNonRestoredState?: boolean;
  /** Steps whose restored state is dropped when incompatible with the job (added to spec.dropIncompatibleState). */
  dropIncompatibleState?: string[];
  /** A savepoint whose drain (or, when stopping, whose other workers' shares) is not done within this fails; default spec.savepoint.timeout, else 10 min. */
  savepointTimeoutMs?: number;
  /** Aborted (SIGTERM during startup): startup ends at the next step with the signal's reason. */
  signal?: AbortSignal;
  /** Structured log of the worker (default: a `worker` logger with the job's context). */
  log?: Logger;
  /** Ordinals the other threads of this process run (threads/pool.ts): their task stores in stateDir are theirs. */
  siblingOrdinals?: readonly number[];
}

/** A running worker. */
export interface Worker {
  readonly job: StreamJob;
  /** The generation it runs. */
  readonly generation: string;
  readonly ordinal: number;
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

/** Rejects with the signal's reason once it aborts. */
function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
  });
}

/**
 * Connects the admin client; an unreachable cluster fails with one line naming the brokers and
 * where they came from (transient: the brokers may come up). An abort ends the wait at once.
 */
async function connectAdmin(admin: KafkaAdmin, brokers: string[], from: string, signal: AbortSignal | undefined): Promise<void> {
  const connecting = admin.connect();
  try {
    await (signal ? Promise.race([connecting, whenAborted(signal)]) : connecting);
  } catch (err) {
    if (signal?.aborted) {
      connecting.catch(() => undefined);
      throw err;
    }
    throw new ConnectorError(
      `cannot reach the Kafka brokers ${brokers.join(",")} (from ${from}): ${(err as Error).message}; check the addresses and that the brokers are up and reachable from here`,
      true,
      err,
    );
  }
}

/** Starts a worker: settles its generation, compiles, plans, creates topics; run() restores and runs. */
export async function createWorker(options: WorkerOptions): Promise<Worker> {
  if (!Number.isInteger(options.workers) || options.workers < 1)
    throw new JobDefinitionError(`the worker count must be a positive integer, got ${options.workers}`);
  if (!Number.isInteger(options.ordinal) || options.ordinal < 0 || options.ordinal >= options.workers) {
    throw new JobDefinitionError(`the ordinal must be within 0..${options.workers - 1}, got ${options.ordinal}`);
  }
  const { job, file } = await readStreamJob(options.manifest, options.name);
  const connectors = await jobConnectors(job);
  // A SQL job may name its brokers in its tables ('properties.bootstrap.servers') instead.
  const brokers = options.brokers ?? job.spec.kafka?.bootstrapServers ?? (connectors.brokers.length > 0 ? connectors.brokers : undefined);
  if (!brokers || brokers.length === 0) throw new JobDefinitionError("no Kafka brokers: set spec.kafka.bootstrapServers (or pass --brokers)");
  const connection: KafkaConnection = { brokers };
  const jobName = job.metadata?.name ?? "job";
  const prefix = jobPrefix(options.namespace, jobName);
  let log = (options.log ?? createLogger("worker")).child({ job: jobName, namespace: options.namespace, ordinal: options.ordinal });
  const kafka = createKafkaClient({ ...connection, clientId: `${prefix}.w${options.ordinal}` });
  const admin = kafka.admin();
  log.info(`connecting to Kafka at ${brokers.join(",")}`);
  await connectAdmin(admin, brokers, options.brokers === undefined ? "spec.kafka.bootstrapServers" : "--brokers", options.signal);
  const replicationFactor = options.replicationFactor ?? 1;
  // Reader groups only carry static assignments (positions live in checkpoints): a fresh group per
  // process start means a restarted worker never waits for its killed predecessor's session to expire.
  const workerId = `w${options.ordinal}-${process.pid}-${Date.now().toString(36)}`;
  // Which generation runs is settled before anything of the job is touched (ADR 16).
  let generations: GenerationLog;
  let entry: GenerationRecord;
  let loaded: Promise<Snapshot & { id: string }> | undefined;
  try {
    options.signal?.throwIfAborted();
    await ensureTopics(admin, [{ topic: generationsTopic(prefix), partitions: 1, compacted: true }], replicationFactor);
    generations = generationLog({ kafka, admin, connection, topic: generationsTopic(prefix), readerGroup: `${prefix}.${workerId}.generations` });
    const chosen = await chooseGeneration(await generations.read(), {
      ...(options.generation === undefined ? {} : { generation: options.generation }),
      ...(options.restoreFrom === undefined ? {} : { restoreFrom: options.restoreFrom }),
      allowOldGeneration: options.allowOldGeneration === true,
      savepointId: async () => (await (loaded ??= readSavepoint(fileSavepointStorage(options.restoreFrom as string)))).id,
    });
    entry = chosen.entry;
    log = log.child({ generation: entry.generation });
    if (entry.sealed) throw new GenerationSealedError(entry.generation, { id: entry.sealed.savepoint, path: entry.sealed.path });
    if (options.restoreFrom !== undefined && entry.restoredFrom !== undefined && entry.restoredFrom !== resolve(options.restoreFrom))
      log.warn("--restore-from differs from the savepoint this generation started from; tasks without checkpoints use the generation's", {
        restoreFrom: options.restoreFrom,
        generationRestoredFrom: entry.restoredFrom,
      });
    options.signal?.throwIfAborted();
    if (chosen.record) await generations.makeCurrent(entry);
    log.info(chosen.reason);
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    throw err;
  }
  const restoredFrom = entry.restoredFrom;
  const savepoint = restoredFrom === undefined ? undefined : () => (loaded ??= readSavepoint(fileSavepointStorage(restoredFrom)));
  const topicPrefix = generationPrefix(prefix, entry.generation);
  let poisoned = 0;
  let deadLetters: DeadLetterQueue | undefined;
  let plan: DistributedPlan;
  let graph: JobGraph;
  let metrics: PipelineMetrics;
  const delivery: Delivery = options.delivery ?? job.spec.checkpoint?.mode ?? "exactly-once";
  const durations = checkpointDurations(job.spec.checkpoint);
  const intervalMs = options.checkpointIntervalMs ?? durations.intervalMs;
  let transactionTimeoutMs: number | undefined;
  const inputTopics = new Map<string, string>();
  const tables = new Map<string, LiveTable>();
  try {
    if (delivery === "exactly-once") transactionTimeoutMs = await transactionTimeoutFor(admin, intervalMs, durations.timeoutMs);
    const sourceSpecs = connectors.sources;
    const dlqSink = connectors.sinks.find((s) => s.input === DEAD_LETTER && s.kafka);
    const dlqTopic = dlqSink?.kafka?.topic ?? `${prefix}.dead-letter`;
    options.signal?.throwIfAborted();
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
      tables.set(
        s.id,
        await openKafkaTable({
          connection,
          admin,
          topic: s.kafka.topic,
          readerGroup: `${prefix}.${workerId}.${s.id}`,
          log: log.child({ source: s.id }, "table"),
        }),
      );
    }
    const compiled = await compileStreamJob(job, {
      mode: "cluster",
      baseDir: dirname(file),
      sourceOverride: (spec) => sources.get(spec.id),
      tableOverride: (spec) => tables.get(spec.id),
      sinkOverride: (spec) => kafkaSinkFor(spec, connection, `.spec.pipeline.sinks[${connectors.sinks.findIndex((s) => s.id === spec.id)}]`),
      log: log.child({}, "pipeline"),
      deadLetterTopic: dlqTopic,
      // No parallelism: on a cluster spec.parallelism is the worker count (--workers) and the tasks
      // are the input partitions, so a rescale keeps every task and its changelog.
    });
    graph = compiled.graph;
    metrics = compiled.metrics;
    options.signal?.throwIfAborted();
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
  const purger = repartitionPurger({ kafka, topics: new Map(plan.repartitions.map((r) => [r.sourceUid, r.topic])), log: log.child({}, "purge") });
  const checkpointStats = { count: 0, lastDurationMs: 0, lastBytes: 0, failures: 0, durations: new BucketHistogram(CHECKPOINT_SECONDS_BUCKETS) };
  // Source uids are the source ids; the planned graph's uids map them to their Kafka topics.
  const checkpointer: KafkaCheckpointer = kafkaCheckpointer({
    kafka,
    connection,
    prefix,
    changelogTopic: changelogTopic(topicPrefix),
    generation: entry.generation,
    ...(savepoint ? { savepoint } : {}),
    log: log.child({}, "checkpoints"),
    delivery,
    workerId,
    inputTopics,
    ...(transactionTimeoutMs === undefined ? {} : { transactionTimeoutMs }),
    onCommitted: (task, positions) => purger.committed(task, positions),
    onCheckpoint: ({ durationMs, bytes }) => {
      checkpointStats.count++;
      checkpointStats.lastDurationMs = durationMs;
      checkpointStats.lastBytes = bytes;
      checkpointStats.durations.observe(durationMs / 1000);
    },
  });
  const cacheEntries = job.spec.stateCache?.entries;
  const state: StateOption = options.heapState
    ? { kind: "heap" }
    : {
        kind: "level",
        dir: join(options.stateDir, prefix),
        ...(cacheEntries === undefined ? {} : { maxCachedEntries: cacheEntries }),
        keepTasks: (options.siblingOrdinals ?? []).flatMap((o) => ownedTasks(plan.parallelism, o, options.workers)),
      };
  const sealedLog = generations;
  const specTimeout = job.spec.savepoint?.timeout;
  const savepointTimeoutMs = options.savepointTimeoutMs ?? (specTimeout === undefined ? undefined : parseDuration(specTimeout));
  const savepoints = savepointCoordinator({
    job: jobName,
    ordinal: options.ordinal,
    workers: options.workers,
    tasks,
    plan,
    ...(job.spec.savepoint?.storage?.path === undefined ? {} : { root: job.spec.savepoint.storage.path }),
    ...(savepointTimeoutMs === undefined ? {} : { timeoutMs: savepointTimeoutMs }),
    markSealed: (info) => checkpointer.seal(info),
    recordSealed: (info) => sealedLog.seal(entry, info),
    log: log.child({}, "savepoint"),
  });
  const engine: Engine = createEngine({
    onRound: () => savepoints.onRound(engine),
    allowNonRestoredState: options.allowNonRestoredState === true,
    dropIncompatibleState: [...(job.spec.dropIncompatibleState ?? []), ...(options.dropIncompatibleState ?? [])],
    graph: plan.graph,
    state,
    tasks,
    replicatedNodes: plan.replicated,
    checkpointer: { impl: checkpointer, intervalMs },
    taskServices: (task) => (tasks.includes(task) ? { transaction: checkpointer.producer(task) } : {}),
  });
  const dlq = deadLetters;
  return {
    job,
    generation: entry.generation,
    ordinal: options.ordinal,
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
        await purger.close();
        for (const t of tables.values()) await t.close().catch(() => undefined);
      }
    },
    stop: () => engine.stop(),
    savepoints,
  };
}
