/**
 * `runnel worker`: runs this pod's share of a distributed job. The ordinal comes from the pod
 * name (StatefulSet pods end in -<ordinal>) unless given; SIGTERM or SIGINT stop after the
 * current round with a final checkpoint and exit 0. A status line goes to stderr every 10 s.
 * The admin API (probes, metrics, savepoints) is served on the pod IP.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { createWorker, type Worker } from "../distributed/worker.ts";
import { RunnelError } from "../errors.ts";
import { ADMIN_TOKEN_ENV, adminToken, type AdminToken } from "../observe/admin-auth.ts";
import { hostPort, positiveInt, progressLine, stepList, UsageError } from "./args.ts";
import { serveWorkerAdmin, type WorkerAdmin } from "./worker-admin.ts";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

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
  --restore-from <dir>         start from this savepoint (a folder every worker sees); later restarts resume from checkpoints
  --allow-non-restored-state   restore even when the savepoint holds state of operators the job no longer has (that state is dropped)
  --drop-incompatible-state <step,...>
                               start these steps empty when their restored state no longer fits the job (e.g. a
                               changed window size) instead of refusing to start (also spec.dropIncompatibleState)
  --delivery <mode>            exactly-once or at-least-once (default spec.checkpoint.mode)
  --checkpoint-interval <ms>   time between checkpoints (default spec.checkpoint.interval)
  --admin <host:port>          serve the admin API (default $POD_IP:9249 in a pod; none elsewhere):
                               GET /healthz /readyz /metrics /status /savepoints/<id>, POST /savepoints /stop
  --admin-token-file <file>    the bearer token POST /savepoints and /stop require (a mounted Secret;
                               default $${ADMIN_TOKEN_ENV}; without either those endpoints answer 403)`;

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

/** Runs `runnel worker`; returns the exit code. */
export async function worker(argv: string[]): Promise<number> {
  let w: Worker;
  let admin: { host: string; port: number } | undefined;
  let token: AdminToken;
  let brokers: string[] | undefined;
  try {
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
        "restore-from": { type: "string" },
        "allow-non-restored-state": { type: "boolean" },
        "drop-incompatible-state": { type: "string" },
        delivery: { type: "string" },
        "checkpoint-interval": { type: "string" },
        admin: { type: "string" },
        "admin-token-file": { type: "string" },
      },
    });
    if (values.job === undefined) throw new UsageError("--job <streamjob.yaml> is required");
    const podName = process.env.POD_NAME ?? hostname();
    const ordinal = values.ordinal !== undefined ? nonNegativeInt("ordinal", values.ordinal) : ordinalFromName(podName);
    if (ordinal === undefined) throw new UsageError(`cannot tell this worker's ordinal from the pod name '${podName}'; pass --ordinal <n>`);
    const workers = positiveInt("workers", values.workers ?? process.env.RUNNEL_WORKERS, 1);
    if (ordinal >= workers) throw new UsageError(`--ordinal ${ordinal} is not below --workers ${workers}; ordinals run 0..${workers - 1}`);
    const delivery = values.delivery;
    if (delivery !== undefined && delivery !== "exactly-once" && delivery !== "at-least-once")
      throw new UsageError(`--delivery must be exactly-once or at-least-once, got '${delivery}'`);
    const adminText = values.admin ?? (process.env.POD_IP ? `${process.env.POD_IP}:9249` : undefined);
    admin = adminText === undefined ? undefined : hostPort(adminText);
    const tokenFile = values["admin-token-file"];
    try {
      token = adminToken({ ...(tokenFile === undefined ? {} : { file: tokenFile }), env: process.env });
    } catch (err) {
      throw new UsageError(`--admin-token-file: ${(err as Error).message}`);
    }
    brokers = values.brokers?.split(",").map((b) => b.trim());
    w = await createWorker({
      manifest: values.job,
      ...(values.name === undefined ? {} : { name: values.name }),
      ordinal,
      workers,
      namespace: values.namespace ?? process.env.POD_NAMESPACE ?? "default",
      ...(brokers === undefined ? {} : { brokers }),
      stateDir: values["state-dir"] ?? ".runnel/worker",
      heapState: values["heap-state"] === true,
      ...(values["restore-from"] === undefined ? {} : { restoreFrom: values["restore-from"] }),
      allowNonRestoredState: values["allow-non-restored-state"] === true,
      dropIncompatibleState: stepList(values["drop-incompatible-state"]),
      ...(delivery === undefined ? {} : { delivery }),
      ...(values["checkpoint-interval"] === undefined ? {} : { checkpointIntervalMs: positiveInt("checkpoint-interval", values["checkpoint-interval"], 5000) }),
    });
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`runnel worker: ${(err as Error).message}\n\nUsage: ${WORKER_USAGE}`);
      return EXIT_USAGE;
    }
    if (err instanceof RunnelError) {
      console.error(`runnel worker: ${err.name}: ${err.message}`);
      return EXIT_FAILED;
    }
    throw err;
  }
  const name = w.job.metadata?.name ?? "job";
  let server: WorkerAdmin | undefined;
  if (admin) {
    server = await serveWorkerAdmin(w, { at: admin, brokers: brokers ?? w.job.spec.kafka?.bootstrapServers ?? [], token });
    const mutating = !server.savepoints
      ? "savepoints not offered by this worker"
      : token() === undefined
        ? `savepoint endpoints disabled (no admin token: set $${ADMIN_TOKEN_ENV} or --admin-token-file)`
        : "savepoint endpoints need the bearer token";
    console.error(`runnel worker: admin API on ${server.url} (${mutating})`);
  }
  console.error(`runnel worker: ${name} tasks ${w.tasks.join(",")} of ${w.plan.parallelism}`);
  const stop = (): void => w.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let lastIn = 0;
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const p = w.engine.progress();
    const now = performance.now();
    console.error(`runnel worker: ${progressLine(p, ((p.recordsIn - lastIn) * 1000) / Math.max(1, now - lastAt))}`);
    lastIn = p.recordsIn;
    lastAt = now;
  }, 10_000);
  try {
    const p = await w.run();
    console.error(`runnel worker: ${name} stopped: ${p.recordsIn} records in, ${p.recordsOut} out, ${p.checkpoints} checkpoints (last ${p.lastCheckpoint})`);
    return 0;
  } catch (err) {
    const retriable = err instanceof RunnelError ? ` (retriable: ${err.retriable})` : "";
    console.error(`runnel worker: ${name} failed: ${(err as Error).name}: ${(err as Error).message}${retriable}`);
    return EXIT_FAILED;
  } finally {
    clearInterval(timer);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await server?.close();
  }
}
