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
import { createWorker, type Worker, type WorkerOptions } from "../distributed/worker.ts";
import { GenerationSealedError, RunnelError } from "../errors.ts";
import { createLogger, type Logger } from "../log.ts";
import { ADMIN_TOKEN_ENV, adminToken, type AdminToken } from "../observe/admin-auth.ts";
import { parseDuration } from "../spec/duration.ts";
import { EXIT_CODES, isGeneration, WORKER_ENV, WORKER_FLAGS } from "../worker-contract.ts";
import { formatWatermark, hostPort, positiveInt, stepList, UsageError } from "./args.ts";
import { describeFailure } from "./failure.ts";
import { serveWorkerAdmin, type WorkerAdmin } from "./worker-admin.ts";

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

/** The parseArgs name of a contract flag (`--generation` → `generation`). */
const flag = (f: string): string => f.slice(2);

/** Parses the arguments into worker options; throws UsageError on anything wrong. */
function parseWorkerArgs(argv: string[]): { admin: { host: string; port: number } | undefined; token: AdminToken; options: WorkerOptions } {
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
  return {
    admin: adminText === undefined ? undefined : hostPort(adminText),
    token,
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

/** Logs a failure as one line with its class and returns its exit code (a sealed generation is a clean stop: 0). */
function ended(log: Logger, err: unknown): number {
  if (err instanceof GenerationSealedError) {
    log.info(err.message, { generation: err.generation, savepoint: err.savepoint.id });
    return EXIT_CODES.ok;
  }
  const f = describeFailure(err);
  const help = f.errorClass === "usage" ? "; see `runnel worker --help`" : "";
  log.error(`${f.message}${help}`, { errorClass: f.errorClass, exitCode: f.exitCode });
  if (err instanceof Error && err.stack) log.debug(err.stack);
  return f.exitCode;
}

/** Runs `runnel worker`; returns the exit code. */
export async function worker(argv: string[]): Promise<number> {
  let log = createLogger("worker");
  let w: Worker | undefined;
  // Signals are ours from the first moment: during startup they abort it, later they stop the engine.
  const startup = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.warn(`${signal} again: exiting at once`);
      process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    }
    log.info(w ? `${signal}: stopping after the current round with a final checkpoint` : `${signal}: stopping during startup`);
    if (w) w.stop();
    else startup.abort(new RunnelError(`stopped by ${signal} during startup`, false, { errorClass: "transient" }));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let server: WorkerAdmin | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    let parsed: ReturnType<typeof parseWorkerArgs>;
    try {
      parsed = parseWorkerArgs(argv);
      log = log.child({ namespace: parsed.options.namespace, ordinal: parsed.options.ordinal });
      w = await createWorker({ ...parsed.options, signal: startup.signal, log });
    } catch (err) {
      if (startup.signal.aborted) {
        log.info("stopped during startup; nothing ran");
        return EXIT_CODES.ok;
      }
      return ended(log, err);
    }
    const running = w;
    log = log.child({ job: running.job.metadata?.name ?? "job", generation: running.generation });
    if (parsed.admin) {
      const brokers = parsed.options.brokers ?? running.job.spec.kafka?.bootstrapServers ?? [];
      try {
        server = await serveWorkerAdmin(running, { at: parsed.admin, brokers, token: parsed.token });
      } catch (err) {
        return ended(log, err);
      }
      const mutating = !server.savepoints
        ? "savepoints not offered by this worker"
        : parsed.token() === undefined
          ? `savepoint endpoints disabled (no admin token: set $${ADMIN_TOKEN_ENV} or --admin-token-file)`
          : "savepoint endpoints need the bearer token";
      log.info(`admin API on ${server.url} (${mutating})`, { url: server.url });
    }
    log.info(`running tasks ${running.tasks.join(",")} of ${running.plan.parallelism}`, { tasks: running.tasks.join(",") });
    let lastIn = 0;
    let lastAt = performance.now();
    timer = setInterval(() => {
      const p = running.engine.progress();
      const now = performance.now();
      const rate = Math.round(((p.recordsIn - lastIn) * 1000) / Math.max(1, now - lastAt));
      log.info("progress", {
        recordsIn: p.recordsIn,
        perSecond: rate,
        recordsOut: p.recordsOut,
        watermark: formatWatermark(p.watermark),
        checkpoints: p.checkpoints,
        state: p.stateSize,
      });
      lastIn = p.recordsIn;
      lastAt = now;
    }, 10_000);
    // A signal that arrived while startup finished: stop right after restoring (a final checkpoint, nothing read).
    if (startup.signal.aborted) running.stop();
    try {
      const p = await running.run();
      log.info(`stopped: ${p.recordsIn} records in, ${p.recordsOut} out, ${p.checkpoints} checkpoints (last ${p.lastCheckpoint})`);
      return EXIT_CODES.ok;
    } catch (err) {
      return ended(log, err);
    }
  } finally {
    if (timer) clearInterval(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await server?.close().catch(() => undefined);
  }
}
