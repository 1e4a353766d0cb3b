/**
 * `runnel worker`: runs this pod's share of a distributed job. The ordinal comes from the pod
 * name (StatefulSet pods end in -<ordinal>) unless given. SIGTERM or SIGINT are handled from the
 * first moment: during startup the worker stops before running anything, later it stops after
 * the current round with a final checkpoint; either way it exits 0 (a second signal exits at
 * once). Logs are structured (runtime/log.ts) with the job, namespace, generation and ordinal;
 * every failure is one line and the exit code of its class (ADR 17). The admin API (probes,
 * metrics, savepoints) is served on the pod IP.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import type { WorkerOptions } from "../distributed/worker.ts";
import { threadsFor } from "../distributed/threads/merge.ts";
import { startWorkerThreads } from "../distributed/threads/pool.ts";
import { RunnelError } from "../errors.ts";
import { createLogger, logOptionsFromEnv, type Logger } from "../log.ts";
import { readStreamJob } from "../pipeline/load.ts";
import { ADMIN_TOKEN_ENV, adminToken, type AdminToken } from "../observe/admin-auth.ts";
import { parseDuration } from "../spec/duration.ts";
import { EXIT_CODES, isGeneration, WORKER_ENV, WORKER_FLAGS } from "../worker-contract.ts";
import { hostPort, positiveInt, stepList, UsageError } from "./args.ts";
import { serveAdmin, serveWorkerAdmin, type WorkerAdmin } from "./worker-admin.ts";
import { ended, runToEnd, startWorker } from "./worker-lifecycle.ts";
import { threadEntry } from "./thread-entry.ts";

/** Usage text of `runnel worker`. */
export const WORKER_USAGE = `runnel worker --job <streamjob.yaml> [options]

Runs tasks p with p mod <workers> == <ordinal> of the job, reading and writing Kafka.

Options:
  --job <file>                 the StreamJob manifest (mounted from the job's ConfigMap)
  --name <job>                 which StreamJob when the file holds several
  --ordinal <n>                this worker's index (default: the -<n> suffix of the pod name, $POD_NAME or the hostname)
  --workers <n>                number of workers (default $RUNNEL_WORKERS, else 1)
  --namespace <ns>             the job's namespace (default $POD_NAMESPACE, else default)
  --brokers <host:port,...>    Kafka brokers (default spec.kafka.bootstrapServers)
  --state-dir <dir>            folder of the tasks' LevelDB stores (default .runnel/worker)
  --heap-state                 keep keyed state on the heap (rebuilt from the changelog at each start)
  --generation <token>         the job generation to run (default $RUNNEL_GENERATION, else the job's current one;
                               an unknown token starts a new generation, an older one is refused)
  --allow-old-generation       run a generation that is not the job's current one (it becomes current)
  --restore-from <dir>         a new generation starts from this savepoint (a folder every worker sees); later
                               restarts resume from checkpoints and read it only for tasks without one
  --allow-non-restored-state   restore even when the savepoint holds state of operators the job no longer has (that state is dropped)
  --drop-incompatible-state <step,...>
                               start these steps empty when their restored state no longer fits the job (e.g. a
                               changed window size) instead of refusing to start (also spec.dropIncompatibleState)
  --delivery <mode>            exactly-once or at-least-once (default spec.checkpoint.mode)
  --checkpoint-interval <ms>   time between checkpoints (default spec.checkpoint.interval)
  --savepoint-timeout <dur>    a savepoint not done within this fails, naming the workers it waited for, and the job
                               resumes (e.g. 2m; default spec.savepoint.timeout, else 10m)
  --admin <host:port>          serve the admin API (default $POD_IP:9249 in a pod; none elsewhere):
                               GET /healthz /readyz /metrics /status /savepoints/<id>, POST /savepoints /stop
  --admin-token-file <file>    the bearer token POST /savepoints and /stop require (a mounted Secret;
                               default $${ADMIN_TOKEN_ENV}; without either those endpoints answer 403)
  --threads <n>                run the tasks on n threads, each a worker of its own to the job (default
                               spec.threadsPerWorker, else the whole cores of spec.resources.limits.cpu, else 1)

Exit codes: 0 stopped (SIGTERM, stop-with-savepoint, or a generation already stopped with a savepoint),
1 internal error (a bug), 2 bad arguments, 65 data error, 75 transient (a restart may help),
78 configuration (fix the job or its environment), 79 fenced (another worker took the tasks over).`;

/** The ordinal in a StatefulSet pod name (`job-worker-3` → 3). */
export function ordinalFromName(name: string): number | undefined {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function nonNegativeInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${text}'`);
  return n;
}

/** --threads: 1..64. */
function threadCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UsageError(`--threads must be an integer from 1 to 64, got '${text}'; omit it to use spec.threadsPerWorker or the CPU limit`);
  return n;
}

/** The parseArgs name of a contract flag (`--generation` → `generation`). */
const flag = (f: string): string => f.slice(2);

/** Parses the arguments into worker options; throws UsageError on anything wrong. */
function parseWorkerArgs(argv: string[]): {
  admin: { host: string; port: number } | undefined;
  token: AdminToken;
  threads: number | undefined;
  options: WorkerOptions;
} {
  const { values } = parseArgs({
    args: argv,
    options: {
      job: { type: "string" },
      name: { type: "string" },
      ordinal: { type: "string" },
      workers: { type: "string" },
      namespace: { type: "string" },
      brokers: { type: "string" },
      "state-dir": { type: "string" },
      "heap-state": { type: "boolean" },
      [flag(WORKER_FLAGS.generation)]: { type: "string" },
      [flag(WORKER_FLAGS.allowOldGeneration)]: { type: "boolean" },
      "restore-from": { type: "string" },
      "allow-non-restored-state": { type: "boolean" },
      "drop-incompatible-state": { type: "string" },
      delivery: { type: "string" },
      "checkpoint-interval": { type: "string" },
      "savepoint-timeout": { type: "string" },
      admin: { type: "string" },
      "admin-token-file": { type: "string" },
      threads: { type: "string" },
    },
  });
  const text = (name: string): string | undefined => values[name] as string | undefined;
  const job = text("job");
  if (job === undefined) throw new UsageError("--job <streamjob.yaml> is required");
  const podName = process.env[WORKER_ENV.podName] ?? hostname();
  const ordinalText = text("ordinal");
  const ordinal = ordinalText !== undefined ? nonNegativeInt("ordinal", ordinalText) : ordinalFromName(podName);
  if (ordinal === undefined) throw new UsageError(`cannot tell this worker's ordinal from the pod name '${podName}'; pass --ordinal <n>`);
  const workers = positiveInt("workers", text("workers") ?? process.env[WORKER_ENV.workers], 1);
  if (ordinal >= workers) throw new UsageError(`--ordinal ${ordinal} is not below --workers ${workers}; ordinals run 0..${workers - 1}`);
  const deliveryText = text("delivery");
  const delivery = deliveryText === "exactly-once" || deliveryText === "at-least-once" ? deliveryText : undefined;
  if (deliveryText !== undefined && delivery === undefined) throw new UsageError(`--delivery must be exactly-once or at-least-once, got '${deliveryText}'`);
  const generation = text(flag(WORKER_FLAGS.generation)) ?? process.env[WORKER_ENV.generation];
  if (generation !== undefined && !isGeneration(generation))
    throw new UsageError(`--generation (or $${WORKER_ENV.generation}) must be lowercase letters, digits and dashes (at most 40), got '${String(generation)}'`);
  const timeoutText = text("savepoint-timeout");
  let savepointTimeoutMs: number | undefined;
  try {
    savepointTimeoutMs = timeoutText === undefined ? undefined : parseDuration(timeoutText);
  } catch {
    throw new UsageError(`--savepoint-timeout must be a duration such as 90s, 5m or 1h, got '${timeoutText}'`);
  }
  if (savepointTimeoutMs === 0) throw new UsageError("--savepoint-timeout must be longer than 0s");
  const adminText = text("admin") ?? (process.env[WORKER_ENV.podIp] ? `${process.env[WORKER_ENV.podIp]}:9249` : undefined);
  const tokenFile = text("admin-token-file");
  let token: AdminToken;
  try {
    token = adminToken({ ...(tokenFile === undefined ? {} : { file: tokenFile }), env: process.env });
  } catch (err) {
    throw new UsageError(`--admin-token-file: ${(err as Error).message}`);
  }
  const restoreFrom = text("restore-from");
  const name = text("name");
  const interval = text("checkpoint-interval");
  const threadsText = text("threads");
  return {
    admin: adminText === undefined ? undefined : hostPort(adminText),
    token,
    threads: threadsText === undefined ? undefined : threadCount(threadsText),
    options: {
      manifest: job,
      ...(name === undefined ? {} : { name }),
      ordinal,
      workers,
      namespace: text("namespace") ?? process.env[WORKER_ENV.podNamespace] ?? "default",
      ...(text("brokers") === undefined ? {} : { brokers: (text("brokers") as string).split(",").map((b) => b.trim()) }),
      stateDir: text("state-dir") ?? ".runnel/worker",
      heapState: values["heap-state"] === true,
      ...(generation === undefined ? {} : { generation }),
      allowOldGeneration: values[flag(WORKER_FLAGS.allowOldGeneration)] === true,
      ...(restoreFrom === undefined ? {} : { restoreFrom }),
      allowNonRestoredState: values["allow-non-restored-state"] === true,
      dropIncompatibleState: stepList(text("drop-incompatible-state")),
      ...(delivery === undefined ? {} : { delivery }),
      ...(interval === undefined ? {} : { checkpointIntervalMs: positiveInt("checkpoint-interval", interval, 5000) }),
      ...(savepointTimeoutMs === undefined ? {} : { savepointTimeoutMs }),
    },
  };
}

/** Logs where the admin API listens and whether it takes savepoints. */
function announceAdmin(log: Logger, server: WorkerAdmin, token: AdminToken): void {
  const mutating = !server.savepoints
    ? "savepoints not offered by this worker"
    : token() === undefined
      ? `savepoint endpoints disabled (no admin token: set $${ADMIN_TOKEN_ENV} or --admin-token-file)`
      : "savepoint endpoints need the bearer token";
  log.info(`admin API on ${server.url} (${mutating})`, { url: server.url });
}

/** How a run reaches the signal handler: stop() once there is something to stop, the startup signal before. */
interface Stopping {
  readonly startup: AbortController;
  /** Set once a stop stops the run itself rather than aborting startup. */
  stop?: () => void;
}

type Parsed = ReturnType<typeof parseWorkerArgs>;

/** Runs the worker on this thread; returns the exit code. */
async function runInProcess(parsed: Parsed, brokers: string[], log: Logger, stopping: Stopping): Promise<number> {
  const running = await startWorker(parsed.options, log, stopping.startup.signal);
  if (typeof running === "number") return running;
  stopping.stop = () => running.stop();
  log = log.child({ job: running.job.metadata?.name ?? "job", generation: running.generation });
  let server: WorkerAdmin | undefined;
  try {
    if (parsed.admin) {
      try {
        server = await serveWorkerAdmin(running, { at: parsed.admin, brokers, token: parsed.token });
      } catch (err) {
        return ended(log, err);
      }
      announceAdmin(log, server, parsed.token);
    }
    log.info(`running tasks ${running.tasks.join(",")} of ${running.plan.parallelism}`, { tasks: running.tasks.join(",") });
    return await runToEnd(running, log, stopping.startup.signal.aborted);
  } finally {
    await server?.close().catch(() => undefined);
  }
}

/** Runs the worker on `threads` threads, each a virtual worker (ADR 33); returns the exit code. */
async function runOnThreads(parsed: Parsed, threads: number, brokers: string[], log: Logger, stopping: Stopping): Promise<number> {
  const starting = startWorkerThreads({
    ...threadEntry(new URL("./worker-thread.ts", import.meta.url)),
    options: parsed.options,
    threads,
    brokers,
    logOptions: logOptionsFromEnv(),
    log,
  });
  stopping.stop = () => starting.stop();
  const started = await starting.started;
  if (typeof started === "number") return started;
  log = log.child({ job: started.job, generation: started.generation });
  let server: WorkerAdmin | undefined;
  try {
    if (parsed.admin) {
      try {
        server = await serveAdmin(started.adminSource(parsed.token), parsed.admin);
      } catch (err) {
        started.stop();
        await started.exited;
        return ended(log, err);
      }
      announceAdmin(log, server, parsed.token);
    }
    log.info(`running tasks ${started.tasks.join(",")} of ${started.parallelism} on ${threads} threads`, { tasks: started.tasks.join(","), threads });
    const code = await started.exited;
    if (code === EXIT_CODES.ok) log.info(`stopped: all ${threads} threads ended`);
    return code;
  } finally {
    await server?.close().catch(() => undefined);
  }
}

/** Threads to run (--threads, else spec.threadsPerWorker or the CPU limit's whole cores: merge.ts) and the brokers the admin API reads consumer lag from. */
async function threadsToRun(parsed: Parsed): Promise<{ threads: number; brokers: string[] }> {
  const { job } = await readStreamJob(parsed.options.manifest, parsed.options.name);
  return { threads: parsed.threads ?? threadsFor(job.spec), brokers: parsed.options.brokers ?? job.spec.kafka?.bootstrapServers ?? [] };
}

/** Runs `runnel worker`; returns the exit code. */
export async function worker(argv: string[]): Promise<number> {
  let log = createLogger("worker");
  // Signals are ours from the first moment: during startup they abort it, later they stop the run.
  const stopping: Stopping = { startup: new AbortController() };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn(`${signal} again: exiting at once`);
      process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    }
    log.info(stopping.stop ? `${signal}: stopping after the current round with a final checkpoint` : `${signal}: stopping during startup`);
    if (stopping.stop) stopping.stop();
    else stopping.startup.abort(new RunnelError(`stopped by ${signal} during startup`, false, { errorClass: "transient" }));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    let parsed: Parsed;
    let plan: { threads: number; brokers: string[] };
    try {
      parsed = parseWorkerArgs(argv);
      log = log.child({ namespace: parsed.options.namespace, ordinal: parsed.options.ordinal });
      plan = await threadsToRun(parsed);
    } catch (err) {
      return ended(log, err);
    }
    if (stopping.startup.signal.aborted) {
      log.info("stopped during startup; nothing ran");
      return EXIT_CODES.ok;
    }
    return plan.threads > 1 ? await runOnThreads(parsed, plan.threads, plan.brokers, log, stopping) : await runInProcess(parsed, plan.brokers, log, stopping);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
