/**
 * `runnel run <job module>`: runs a job in-process (local mode) with a live progress line and
 * a summary on exit. Ctrl-C stops after the current round (with a final checkpoint when
 * checkpointing is on). The module's default export is a JobGraph, a JobBuilder, or a function
 * of the arguments after `--` returning either.
 */
import { parseArgs } from "node:util";
import { assertBroadcastInputsReplicated, replicatedNodes } from "../distributed/plan.ts";
import { RunnelError } from "../errors.ts";
import { createEngine, type Engine, type EngineOptions, type Progress } from "../exec/engine.ts";
import { startLocalThreads } from "../exec/threads/coordinator.ts";
import type { PipelineCounts, ThreadFailure } from "../exec/threads/protocol.ts";
import { DEFAULT_MAX_CACHED_ENTRIES } from "../state/backend.ts";
import { startAdminServer, type AdminServer } from "../observe/admin-server.ts";
import { createJobMetrics } from "../observe/metrics.ts";
import { taskCount, type JobGraph } from "../graph/graph.ts";
import type { PipelineMetrics } from "../pipeline/context.ts";
import { plain, toJson } from "../pipeline/values.ts";
import { hostPort, positiveInt, progressLine, stepList, UsageError } from "./args.ts";
import { progressDisplay } from "./progress.ts";
import { reportFailure } from "./failure.ts";
import type { RunThreadStart } from "./run-thread.ts";
import { loadJob, type ManifestRunOptions } from "./load-job.ts";
import { threadEntry } from "./thread-entry.ts";

/** Usage text of `runnel run`. */
export const RUN_USAGE = `runnel run <job module | streamjob.yaml> [options] [-- job arguments]

A StreamJob manifest runs with the generators and files its sources declare under \`local\`.

Options:
  --state heap|level         where keyed state lives (default heap)
  --state-dir <dir>          LevelDB directory, one sub-directory per task (default .runnel/<job>/state)
  --state-cache <entries>    write-back cache bound per task before flush-and-evict; timers in memory: four times it per operator (default: the manifest's spec.stateCache.entries, else 200000)
  --checkpoint-dir <dir>     take checkpoints here (two-phase-commit file sinks need it for exactly-once)
  --checkpoint-interval <ms> time between checkpoints (default 5000)
  --retain <n>               completed checkpoints to keep (default 3)
  --restore <latest|dir>     restore from the newest checkpoint in --checkpoint-dir, or from a directory
  --drop-incompatible-state <step,...>
                             on restore, start these steps empty when their state no longer fits the job
                             (e.g. a changed window) instead of refusing; manifests: spec.dropIncompatibleState
  --batch-size <n>           records per source partition per round (default 4096)
  --threads <n>              run the tasks on n threads (default 1): each thread runs every n-th task and
                             records cross threads where their keys do; a manifest runs n tasks at least,
                             a job module as many threads as it has tasks at most
  --no-progress              no live progress line
  --admin <host:port>        serve /healthz, /readyz, /metrics (Prometheus) and /status (port 0: any free port)
Manifests only:
  --out <dir>                Kafka and Redis sinks write ndjson here, one folder per sink (default stdout)
  --max-records <n>          stop each generator after n records (default: run until Ctrl-C)
  --no-throttle              generate as fast as possible from a fixed start time (default: at each
                             generator's rate, in event time starting now)`;

/** The sum of a counter map. */
function total(m: Record<string, number>): number {
  return Object.values(m).reduce((a, b) => a + b, 0);
}

/** One dead letter of each reason the run's dead-letter summary kept (the demo prints counts, not every letter). */
function printDeadLetterSamples(metrics: PipelineCounts): void {
  const samples = Object.entries(metrics.deadLetterSamples ?? {});
  if (samples.length === 0) return;
  console.error(`a dead letter of each reason (write them all with --out <dir>):`);
  for (const [reason, letter] of samples) console.error(`  ${reason}: ${toJson(plain(letter))}`);
}

function pipelineCounters(metrics: PipelineCounts): string {
  const detail = (m: Record<string, number>): string =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${v.toLocaleString("en-US")}`)
      .join(", ");
  const dead = total(metrics.deadLetters);
  const dropped = total(metrics.dropped);
  return `dead letters ${dead.toLocaleString("en-US")}${dead ? ` (${detail(metrics.deadLetters)})` : ""}, dropped ${dropped.toLocaleString("en-US")}${dropped ? ` (${detail(metrics.dropped)})` : ""}`;
}

/** Runs `runnel run`; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const jobArgs = dash < 0 ? [] : argv.slice(dash + 1);
  let engineOptions: Omit<EngineOptions, "graph">;
  let graph: JobGraph;
  let showProgress: boolean;
  let pipelineMetrics: PipelineMetrics | undefined;
  let admin: { host: string; port: number } | undefined;
  let threads: number;
  let threadData: RunThreadStart | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        state: { type: "string" },
        "state-dir": { type: "string" },
        "state-cache": { type: "string" },
        "checkpoint-dir": { type: "string" },
        "checkpoint-interval": { type: "string" },
        retain: { type: "string" },
        restore: { type: "string" },
        "batch-size": { type: "string" },
        "no-progress": { type: "boolean" },
        out: { type: "string" },
        "max-records": { type: "string" },
        "no-throttle": { type: "boolean" },
        admin: { type: "string" },
        "drop-incompatible-state": { type: "string" },
        threads: { type: "string" },
      },
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one job module or StreamJob manifest");
    const state = values.state ?? "heap";
    if (state !== "heap" && state !== "level") throw new UsageError(`--state must be heap or level, got '${state}'`);
    if (values.restore !== undefined && values.restore === "latest" && values["checkpoint-dir"] === undefined) {
      throw new UsageError("--restore latest needs --checkpoint-dir");
    }
    const maxRecords = values["max-records"] === undefined ? undefined : positiveInt("max-records", values["max-records"], 0);
    const manifest: ManifestRunOptions = {
      throttle: values["no-throttle"] !== true,
      startTime: Date.now(),
      ...(values.out === undefined ? {} : { outDir: values.out }),
      ...(maxRecords === undefined ? {} : { maxRecords }),
    };
    const path = positionals[0] as string;
    const wanted = positiveInt("threads", values.threads, 1);
    let loaded = await loadJob(path, jobArgs, manifest);
    // A manifest's local tasks are its sources' partitions (one for a file): give each thread one at least.
    if (wanted > taskCount(loaded.graph) && loaded.metrics) {
      manifest.parallelism = wanted;
      loaded = await loadJob(path, jobArgs, manifest);
    }
    graph = loaded.graph;
    pipelineMetrics = loaded.metrics;
    admin = values.admin === undefined ? undefined : hostPort(values.admin);
    showProgress = values["no-progress"] !== true;
    engineOptions = {
      batchSize: positiveInt("batch-size", values["batch-size"], 4096),
      state:
        state === "level"
          ? {
              kind: "level",
              dir: values["state-dir"] ?? `.runnel/${graph.name}/state`,
              maxCachedEntries: positiveInt("state-cache", values["state-cache"], loaded.stateCacheEntries ?? DEFAULT_MAX_CACHED_ENTRIES),
            }
          : { kind: "heap" },
      ...(values["checkpoint-dir"] === undefined
        ? {}
        : {
            checkpoint: {
              dir: values["checkpoint-dir"],
              intervalMs: positiveInt("checkpoint-interval", values["checkpoint-interval"], 5000),
              retain: positiveInt("retain", values.retain, 3),
            },
          }),
      ...(values.restore === undefined ? {} : { restoreFrom: values.restore }),
      dropIncompatibleState: [...(loaded.dropIncompatibleState ?? []), ...stepList(values["drop-incompatible-state"])],
    };
    // A job module fixes its own parallelism: it runs on as many threads as it has tasks at most.
    threads = Math.min(wanted, taskCount(graph));
    if (threads > 1) {
      assertBroadcastInputsReplicated(graph, replicatedNodes(graph), "thread");
      threadData = { path, jobArgs, manifest, engine: engineOptions };
    }
  } catch (err) {
    return reportFailure("run", err);
  }

  const running = threadData ? runningOnThreads(threads, threadData) : runningInProcess(createEngine({ graph, ...engineOptions }), pipelineMetrics);
  let server: AdminServer | undefined;
  try {
    server = admin ? await serveAdmin(running, graph.name, pipelineMetrics !== undefined, admin) : undefined;
  } catch (err) {
    return reportFailure(
      "run",
      new UsageError(`cannot serve the admin API on ${admin?.host}:${admin?.port}: ${(err as Error).message}; pick another port (0 takes any free one)`),
    );
  }
  const stop = (): void => running.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const started = performance.now();
  let lastIn = 0;
  let lastAt = started;
  const display = showProgress ? progressDisplay() : undefined;
  const timer = display
    ? setInterval(() => {
        const p = running.progress();
        const now = performance.now();
        const rate = ((p.recordsIn - lastIn) * 1000) / Math.max(1, now - lastAt);
        lastIn = p.recordsIn;
        lastAt = now;
        const counts = running.pipeline();
        const dead = counts ? total(counts.deadLetters) : 0;
        display.update(`${progressLine(p, rate)}${dead > 0 ? `  dead letters ${dead.toLocaleString("en-US")}` : ""}`);
      }, 1000)
    : undefined;
  try {
    const { progress: p, pipeline } = await running.run();
    const secs = (performance.now() - started) / 1000;
    if (timer) clearInterval(timer);
    display?.close();
    console.error(
      `runnel run: ${graph.name} ${p.finished ? "finished" : "stopped"} after ${secs.toFixed(1)} s: ` +
        `${p.recordsIn.toLocaleString("en-US")} records in (${Math.round(p.recordsIn / Math.max(secs, 1e-3)).toLocaleString("en-US")}/s), ` +
        `${p.recordsOut.toLocaleString("en-US")} out, ${p.lateDropped} late dropped, ${p.checkpoints} checkpoints` +
        (p.lastCheckpoint >= 0 ? ` (last ${p.lastCheckpoint})` : "") +
        (threads > 1 ? ` on ${threads} threads` : "") +
        (pipeline ? `; ${pipelineCounters(pipeline)}` : ""),
    );
    if (pipeline) printDeadLetterSamples(pipeline);
    return 0;
  } catch (err) {
    if (timer) clearInterval(timer);
    display?.close();
    return reportFailure("run", err);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await server?.close();
  }
}

/** A run as the command drives it: in this thread or on several. */
interface Running {
  progress(): Progress;
  /** Dead letters and drops of a manifest's pipeline so far. */
  pipeline(): PipelineCounts | undefined;
  stop(): void;
  /** Runs to the end; throws what the run failed with. */
  run(): Promise<{ progress: Progress; pipeline?: PipelineCounts }>;
}

/** A run of one engine in this thread. */
function runningInProcess(engine: Engine, metrics: PipelineMetrics | undefined): Running {
  const pipeline = (): PipelineCounts | undefined =>
    metrics ? { deadLetters: metrics.deadLetters, dropped: metrics.dropped, deadLetterSamples: metrics.deadLetterSamples } : undefined;
  return {
    progress: () => engine.progress(),
    pipeline,
    stop: () => engine.stop(),
    async run() {
      const progress = await engine.run();
      const counts = pipeline();
      return { progress, ...(counts ? { pipeline: counts } : {}) };
    },
  };
}

/** A run on threads (ADR 36): the threads run the engines, this thread agrees their rounds and completes their checkpoints. */
function runningOnThreads(threads: number, data: RunThreadStart): Running {
  const checkpoint = data.engine.checkpoint;
  const started = startLocalThreads({
    ...threadEntry(new URL("./run-thread.ts", import.meta.url)),
    threads,
    data,
    ...(checkpoint ? { checkpoint: { dir: checkpoint.dir, intervalMs: checkpoint.intervalMs ?? 5000, retain: checkpoint.retain ?? 3 } } : {}),
  });
  return {
    progress: () => started.progress(),
    pipeline: () => started.pipeline(),
    stop: () => started.stop(),
    async run() {
      const r = await started.ended;
      if (!r.ok) throw failureOfThread(r.failure);
      return r;
    },
  };
}

/** A thread's failure as the error the command reports. */
function failureOfThread(f: ThreadFailure): Error {
  const err = f.errorClass === "usage" ? new UsageError(f.message) : new RunnelError(f.message, false, { errorClass: f.errorClass });
  if (f.stack) err.stack = f.stack;
  return err;
}

/** Starts the admin API for a run and says where it is. */
async function serveAdmin(running: Running, job: string, manifest: boolean, at: { host: string; port: number }): Promise<AdminServer> {
  // A run on threads has no counts before its threads' first round: zero until then.
  const counts = (): PipelineCounts => running.pipeline() ?? { deadLetters: {}, dropped: {} };
  const registry = createJobMetrics({
    job,
    progress: () => running.progress(),
    ...(manifest ? { deadLetters: () => counts().deadLetters, dropped: () => counts().dropped } : {}),
  });
  const server = await startAdminServer(
    {
      registry,
      ready: () => running.progress().rounds > 0,
      status: () => ({ job, ...running.progress(), ...(manifest ? { deadLetters: counts().deadLetters, dropped: counts().dropped } : {}) }),
    },
    at,
  );
  console.error(`runnel run: admin API on ${server.url} (/healthz /readyz /metrics /status)`);
  return server;
}
