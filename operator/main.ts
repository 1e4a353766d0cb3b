/**
 * `runnel operator`: wires the operator together. Caches (informers) start on every replica, so
 * a standby takes over with warm caches; the controllers run only while this replica holds the
 * leader Lease. Losing the Lease exits the process (the Deployment restarts it as a standby), so
 * a replica that may have lost leadership never keeps acting. SIGTERM stops taking new keys,
 * lets in-flight reconciles finish, and releases the Lease for a fast handover.
 */
import { readFileSync } from "node:fs";
import { createLogger, type Logger } from "../runtime/log.ts";
import type { StreamJobStatus } from "../runtime/spec/generated/types.ts";
import { RunnelError } from "../runtime/errors.ts";
import { OperatorUsageError } from "./errors.ts";
import { createCaches, type Caches } from "./kube/caches.ts";
import { loadKubeConfig, makeClients } from "./kube/client.ts";
import { createEventRecorder } from "./kube/events.ts";
import type { ObjectLike } from "./kube/informer.ts";
import { startLeaderElection, type LeaderElection } from "./kube/leader.ts";
import { createController, type Controller } from "./machinery/controller.ts";
import { createOperatorMetrics } from "./machinery/metrics.ts";
import { startOperatorServer } from "./machinery/server.ts";
import { OPERATOR_USAGE, parseOperatorArgs, type OperatorOptions } from "./options.ts";
import { volumeDisposer } from "./savepoints/disposer.ts";
import { LABELS } from "./streamjob/names.ts";
import { kubeJobCluster } from "./streamjob/kube-cluster.ts";
import { createJobReconciler } from "./streamjob/reconciler.ts";
import { httpWorkerAdmin } from "./streamjob/worker-admin.ts";
import { createSavepointReconciler } from "./streamsavepoint/reconciler.ts";

const EXIT_USAGE = 2;
const EXIT_LOST_LEASE = 1;

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "latest";
  }
}

/**
 * A test hook for the write-ahead-log tests: RUNNEL_OPERATOR_FAULT=exit-after:<action>/<step>[#n]
 * kills the operator (SIGKILL, no cleanup) right after the n-th (default first) status write
 * recording that step of that action.
 */
export function faultHook(spec: string | undefined, log: Logger): ((status: StreamJobStatus) => void) | undefined {
  const m = /^exit-after:([a-z]+)\/([A-Za-z]+)(?:#(\d+))?$/.exec(spec ?? "");
  if (!m) return undefined;
  const nth = Number(m[3] ?? 1);
  let seen = 0;
  return (status) => {
    const a = status.pendingAction;
    if (!a || a.type !== m[1] || a.step !== m[2] || ++seen < nth) return;
    log.warn("fault injection: stopping the operator after this status write", { action: a.type, step: a.step, write: seen });
    process.kill(process.pid, "SIGKILL");
  };
}

/** Enqueues the owning job of any object labelled with it. */
function jobKeyOf(obj: ObjectLike & { metadata?: { labels?: Record<string, string> } }): string | undefined {
  const job = obj.metadata?.labels?.[LABELS.job];
  return job ? `${obj.metadata?.namespace ?? ""}/${job}` : undefined;
}

/** Connects cache events to the controllers' queues. */
function route(caches: Caches, jobs: Controller, savepoints: Controller): void {
  caches.streamjobs.on((_e, obj) => jobs.queue.add(`${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`));
  for (const kind of [
    caches.statefulsets,
    caches.pods,
    caches.configmaps,
    caches.secrets,
    caches.services,
    caches.poddisruptionbudgets,
    caches.jobs,
  ] as const) {
    (kind as Caches["pods"]).on((_e, obj) => {
      const key = jobKeyOf(obj);
      if (key) jobs.queue.add(key);
      const sp = obj.metadata?.labels?.[LABELS.savepoint];
      if (sp) savepoints.queue.add(`${obj.metadata?.namespace ?? ""}/${sp}`);
    });
  }
  caches.streamsavepoints.on((_e, obj) => {
    savepoints.queue.add(`${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`);
    jobs.queue.add(`${obj.metadata?.namespace ?? ""}/${obj.spec.jobName}`);
  });
}

/** Runs the operator until SIGTERM/SIGINT (0) or a lost Lease (1). */
export async function operate(options: OperatorOptions, log: Logger): Promise<number> {
  const kc = loadKubeConfig(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig });
  const clients = makeClients(kc);
  const metrics = createOperatorMetrics();
  const caches = createCaches({ clients, namespaces: options.namespaces, log, metrics });
  const events = createEventRecorder({ clients, identity: options.identity, log });
  const defaults = { image: options.workerImage, stateSize: options.stateSize };
  const disposer = volumeDisposer({ clients, jobs: caches.jobs, image: options.workerImage });
  const afterStatusWrite = faultHook(process.env.RUNNEL_OPERATOR_FAULT, log);
  const cluster = kubeJobCluster({ clients, caches, defaults, admin: httpWorkerAdmin(), disposer, events, log });
  const jobs = createController({
    name: "streamjob",
    log,
    metrics,
    concurrency: options.concurrency,
    reconcile: createJobReconciler({
      cluster,
      config: { defaults, resyncMs: options.resyncMs, pollMs: 1_000, ...(afterStatusWrite ? { afterStatusWrite } : {}) },
    }),
  });
  const savepoints = createController({
    name: "streamsavepoint",
    log,
    metrics,
    concurrency: 2,
    reconcile: createSavepointReconciler({
      clients,
      savepoints: caches.streamsavepoints,
      jobs: caches.streamjobs,
      disposer,
      events,
      enqueueJob: (k) => jobs.queue.add(k),
    }),
  });
  metrics.jobsByPhase(() => {
    const counts = new Map<string, number>();
    for (const j of caches.streamjobs.list()) counts.set(j.status?.phase ?? "Pending", (counts.get(j.status?.phase ?? "Pending") ?? 0) + 1);
    return counts;
  });
  let leading = !options.leaderElect;
  const server = await startOperatorServer({
    ...options.listen,
    registry: metrics.registry,
    healthy: () => (caches.maxSilenceMs() > 300_000 ? `a watch has been silent for ${Math.round(caches.maxSilenceMs() / 1000)} s` : undefined),
    ready: () => caches.notSynced(),
  });
  log.info("serving /healthz, /readyz and /metrics", { url: server.url });

  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const runs: Promise<void>[] = [];
  const startControllers = (): void => {
    leading = true;
    metrics.setLeader(true);
    route(caches, jobs, savepoints);
    runs.push(jobs.run(), savepoints.run());
    for (const j of caches.streamjobs.list()) jobs.queue.add(`${j.metadata?.namespace ?? ""}/${j.metadata?.name ?? ""}`);
    for (const s of caches.streamsavepoints.list()) savepoints.queue.add(`${s.metadata?.namespace ?? ""}/${s.metadata?.name ?? ""}`);
    log.info("controllers started", { namespaces: options.namespaces?.join(",") ?? "all" });
  };

  log.info("starting caches", { namespaces: options.namespaces?.join(",") ?? "all" });
  await caches.start();
  log.info("caches synced");
  let election: LeaderElection | undefined;
  if (options.leaderElect) {
    election = startLeaderElection({
      clients,
      namespace: options.leaseNamespace,
      name: options.leaseName,
      identity: options.identity,
      log,
      onStartedLeading: startControllers,
      onStoppedLeading: () => {
        jobs.stop();
        savepoints.stop();
        metrics.setLeader(false);
        finish(EXIT_LOST_LEASE);
      },
    });
  } else startControllers();

  const onSignal = (signal: string): void => {
    log.info("stopping", { signal, leading });
    finish(0);
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  const code = await finished;
  jobs.stop();
  savepoints.stop();
  await Promise.race([Promise.all(runs), new Promise((r) => setTimeout(r, 10_000).unref())]);
  await election?.stop();
  caches.stop();
  await server.close();
  log.info("stopped", { code });
  return code;
}

/** `runnel operator <args>`: returns the exit code. */
export async function runOperator(argv: string[]): Promise<number> {
  const log = createLogger("operator");
  let options: OperatorOptions;
  try {
    if (argv.includes("--help") || argv.includes("-h")) {
      console.log(`Usage: ${OPERATOR_USAGE}`);
      return 0;
    }
    options = parseOperatorArgs(argv, process.env, packageVersion());
  } catch (err) {
    if (err instanceof OperatorUsageError) {
      console.error(`runnel operator: ${err.message}\n\nUsage: ${OPERATOR_USAGE}`);
      return EXIT_USAGE;
    }
    throw err;
  }
  try {
    return await operate(options, log.child({ identity: options.identity }));
  } catch (err) {
    if (err instanceof OperatorUsageError) {
      console.error(`runnel operator: ${err.message}`);
      return EXIT_USAGE;
    }
    log.error("the operator failed", { error: err instanceof RunnelError ? `${err.name}: ${err.message}` : String(err) });
    return 1;
  }
}
