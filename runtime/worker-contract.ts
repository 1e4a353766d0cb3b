/**
 * The contract between the operator and `runnel worker`: everything one side relies on the
 * other for, in one place. The operator (operator/) builds worker pods from it; the worker
 * (runtime/cli/worker.ts) parses the same flags and environment, serves the same endpoints and
 * exits with the same codes. Nothing else in runtime/ may be read by the operator besides
 * runtime/spec. Changing anything here is a protocol change between two releases that may run
 * side by side during an operator upgrade: add, never repurpose.
 */
import type { ErrorClass } from "./errors.ts";

/** The command-line flags of `runnel worker` the operator sets. */
export const WORKER_FLAGS = {
  /** The StreamJob manifest (the job's ConfigMap, mounted). */
  job: "--job",
  /** This worker's ordinal; by default the `-<n>` suffix of $POD_NAME. */
  ordinal: "--ordinal",
  /** Number of workers (the StatefulSet's replicas). */
  workers: "--workers",
  /** The job's namespace (part of its identity on Kafka). */
  namespace: "--namespace",
  /** Folder of the tasks' LevelDB stores (the pod's state volume). */
  stateDir: "--state-dir",
  /** The job generation this worker belongs to (see `JobGeneration`). */
  generation: "--generation",
  /** Run a generation that is known but not the job's current one (without it the worker refuses with exit 78). */
  allowOldGeneration: "--allow-old-generation",
  /** Start a new generation from this savepoint location. */
  restoreFrom: "--restore-from",
  /** Drop savepoint state of operators the job no longer has instead of failing. */
  allowNonRestoredState: "--allow-non-restored-state",
  /** host:port of the admin API; in a pod, by default $POD_IP:ADMIN_PORT. */
  admin: "--admin",
  /** File holding the admin bearer token (the job's Secret, mounted). */
  adminTokenFile: "--admin-token-file",
} as const;

/** Environment variables the worker reads (the operator sets them from the downward API and the job's Secret). */
export const WORKER_ENV = {
  podName: "POD_NAME",
  podNamespace: "POD_NAMESPACE",
  podIp: "POD_IP",
  /** Number of workers, when --workers is absent. */
  workers: "RUNNEL_WORKERS",
  /** The admin bearer token, when --admin-token-file is absent. */
  adminToken: "RUNNEL_ADMIN_TOKEN",
  /** The job generation, when --generation is absent. */
  generation: "RUNNEL_GENERATION",
  /** `json` (default in a pod) or `text` log lines. */
  logFormat: "RUNNEL_LOG_FORMAT",
} as const;

/**
 * Where a worker finds the Secrets its job's spec names (e.g. a Redis sink's passwordSecretRef):
 * `<dir>/<secret name>/<key>`, the operator mounting each such Secret there read-only.
 * $RUNNEL_SECRETS_DIR moves it (local runs, tests).
 */
export const SECRETS_DIR = "/var/run/secrets/runnel";

/** The port of the worker admin API inside a pod. */
export const ADMIN_PORT = 9249;

/** Paths of the worker admin API. */
export const ADMIN_PATHS = {
  /** GET: 200 while the process serves (liveness). */
  healthz: "/healthz",
  /** GET: 200 once restored and running (readiness). */
  readyz: "/readyz",
  /** GET: Prometheus metrics. */
  metrics: "/metrics",
  /** GET: `WorkerStatus` as JSON. */
  status: "/status",
  /** POST `SavepointRequest` → 202 `SavepointAccepted`; GET `/savepoints/<id>` → `SavepointStatusBody`. */
  savepoints: "/savepoints",
  /** POST `SavepointRequest` → 202 `SavepointAccepted`: stop with a savepoint, then exit 0. */
  stop: "/stop",
} as const;

/**
 * A job generation (ADR 16): one lineage of a job's internal topics (changelog, repartition
 * topics: `runnel.<namespace>.<job>.<generation>.…`). Restarts and last-state restarts stay in a
 * generation; a restore from a savepoint or a stateless start begins a new one. Transactional ids
 * stay per job and task, so a new generation's producers fence any straggler of an old one. An
 * opaque token of lowercase letters, digits and dashes, at most 40 characters, chosen by whoever
 * starts the generation (the operator). The job's compacted topic `runnel.<namespace>.<job>.generations`
 * records every generation started and the current one; a worker given
 * - the current generation runs it (from its changelog; `--restore-from` only for tasks without a checkpoint yet),
 * - an unknown one starts it (from `--restore-from` if given, else fresh) and makes it current,
 * - a known older one exits 78 (configuration) naming the current one, unless `--allow-old-generation`,
 * - none resumes the current one (with `--restore-from` of another savepoint: starts one named after its id; nothing recorded: `g0`).
 * A generation stopped with a savepoint is sealed: its workers exit 0 without processing.
 */
export type JobGeneration = string;

/** True for a well-formed generation token. */
export function isGeneration(text: string): text is JobGeneration {
  return /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(text);
}

/** Body of POST /savepoints and POST /stop. */
export interface SavepointRequest {
  /** A name for the savepoint, relative to the job's savepoint root (spec.savepoint.storage.path); default: generated. */
  name?: string;
}

/** Answer 202 to POST /savepoints and POST /stop. */
export interface SavepointAccepted {
  /** The savepoint's id, the same on every worker asked with the same name. */
  id: string;
}

/** GET /savepoints/<id>. */
export interface SavepointStatusBody {
  id: string;
  state: "pending" | "completed" | "failed";
  /** Where it was written (once completed). */
  path?: string;
  /** Why it failed. */
  error?: string;
}

/** GET /status: what the operator reads for the job's status. */
export interface WorkerStatus {
  job: string;
  generation?: JobGeneration;
  ordinal?: number;
  /** Tasks this worker runs. */
  tasks: number[];
  /** Threads the worker runs its tasks on, when more than one (each a worker of its own to the job: thread t of worker o is o × threads + t). */
  threads?: number;
  /** Tasks of the job. */
  parallelism: number;
  rounds: number;
  recordsIn: number;
  recordsOut: number;
  /** Minimum watermark over sinks (epoch ms). */
  watermark: number;
  /** Completed checkpoints of this process, and the id of the last one (-1: none). */
  checkpoints: number;
  lastCheckpoint: number;
  checkpoint?: { count: number; lastDurationMs: number; lastBytes: number; failures: number };
  /** Records behind the end of the job's inputs, summed over the worker's partitions. */
  consumerLag?: number;
}

/**
 * Exit codes of `runnel worker`, one per error class, so the operator can act without parsing
 * logs: a configuration error will not heal by restarting, a transient one will, a fenced
 * worker lost its tasks to another process, a data error needs the input or the job fixed.
 * 1 is also what Node exits with on an uncaught exception (internal: a bug). 0 is a clean stop:
 * SIGTERM (after a final checkpoint), stop-with-savepoint, or a generation already sealed.
 * The other commands (`run`, `savepoint`, `validate`) exit with the same codes on failure.
 */
export const EXIT_CODES = {
  ok: 0,
  internal: 1,
  usage: 2,
  data: 65,
  transient: 75,
  configuration: 78,
  fenced: 79,
} as const satisfies Record<ErrorClass | "ok" | "usage", number>;

/** What a worker's exit code says. */
export type ExitClass = keyof typeof EXIT_CODES | "killed" | "unknown";

/** The exit code of a failure of the given class. */
export function exitCodeOf(errorClass: ErrorClass): number {
  return EXIT_CODES[errorClass];
}

/** Reads a container's exit code back into its class (128+n: killed by signal n, e.g. 137 for SIGKILL or the OOM killer). */
export function exitClassOf(code: number): ExitClass {
  for (const [name, value] of Object.entries(EXIT_CODES)) if (value === code) return name as ExitClass;
  return code > 128 && code < 160 ? "killed" : "unknown";
}

/** How the operator launches one worker generation. */
export interface WorkerLaunch {
  /** Path of the mounted manifest. */
  manifest: string;
  namespace: string;
  workers: number;
  stateDir: string;
  generation: JobGeneration;
  restoreFrom?: string;
  allowNonRestoredState?: boolean;
  allowOldGeneration?: boolean;
  adminTokenFile?: string;
}

/** The argv after `runnel` for a worker container (`worker --job … --generation …`). */
export function workerArgs(launch: WorkerLaunch): string[] {
  const f = WORKER_FLAGS;
  const args = ["worker", f.job, launch.manifest, f.namespace, launch.namespace, f.workers, String(launch.workers), f.stateDir, launch.stateDir];
  args.push(f.generation, launch.generation);
  if (launch.restoreFrom !== undefined) args.push(f.restoreFrom, launch.restoreFrom);
  if (launch.allowNonRestoredState === true) args.push(f.allowNonRestoredState);
  if (launch.allowOldGeneration === true) args.push(f.allowOldGeneration);
  if (launch.adminTokenFile !== undefined) args.push(f.adminTokenFile, launch.adminTokenFile);
  return args;
}
