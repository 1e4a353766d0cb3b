/**
 * Operator test helpers: the CRDs installed, `runnel operator` processes (namespace-scoped, with
 * their own Lease, killable with SIGKILL, with fault injection), StreamJobs of the windowed count
 * job (test/helpers/distributed.ts) applied with kubectl, their status polled, and the output
 * checked against the reference with Kafka's own Java consumer in read_committed isolation.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import { parse } from "yaml";
import type { StreamJob, StreamJobStatus } from "../../runtime/spec/generated/types.ts";
import { repoRoot } from "../env/lib/layout.ts";
import { countManifest, javaCheck, type CountJob } from "./distributed.ts";
import { afterAll, beforeAll } from "vitest";
import { containerPid, createNamespace, kubeConfig, kubeconfigPath, processCommand, waitFor, type TestNamespace } from "./kube.ts";
import { mustRun, runTool } from "./tools.ts";

const MAIN = resolve(import.meta.dirname, "../../runtime/cli/main.ts");

/** Installs (server-side applies) the CRDs and waits until they are served. */
export function installCrds(): void {
  const files = ["crds/streamjob.yaml", "crds/streamsavepoint.yaml"].map((f) => join(repoRoot, f));
  mustRun("kubectl", ["apply", "--server-side", "--force-conflicts", "--field-manager=runnel-crds", ...files.flatMap((f) => ["-f", f])]);
  mustRun("kubectl", ["wait", "--for=condition=Established", "--timeout=60s", "crd/streamjobs.runnel.dev", "crd/streamsavepoints.runnel.dev"]);
}

/** A running `runnel operator`. */
export interface OperatorProcess {
  identity: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Its log file (JSON lines). */
  log: string;
  /** Its /healthz, /readyz, /metrics base URL. */
  url(): Promise<string>;
  kill9(): Promise<void>;
  /** SIGTERM; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Options of an operator process. */
export interface OperatorStart {
  /** The namespace it watches (and keeps its Lease in). */
  namespace: string;
  identity?: string;
  leaderElect?: boolean;
  /** RUNNEL_OPERATOR_FAULT, e.g. exit-after:upgrade/scalingDown. */
  fault?: string;
  resync?: string;
  extraArgs?: string[];
}

/** Starts `runnel operator --kubeconfig … --namespace <ns>` as a process. */
export function startOperator(options: OperatorStart): OperatorProcess {
  const dir = mkdtempSync(join(tmpdir(), "runnel-operator-"));
  const identity = options.identity ?? `op-${Math.random().toString(36).slice(2, 7)}`;
  const log = join(dir, `${identity}.log`);
  const out = createWriteStream(log);
  const args = [
    MAIN,
    "operator",
    "--kubeconfig",
    kubeconfigPath(),
    "--namespace",
    options.namespace,
    "--lease-namespace",
    options.namespace,
    "--identity",
    identity,
    "--listen",
    "127.0.0.1:0",
    "--worker-image",
    "runnel/runnel:test",
    "--resync",
    options.resync ?? "3s",
    ...(options.leaderElect === false ? ["--no-leader-elect"] : []),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUNNEL_LOG_FORMAT: "json", RUNNEL_LOG_LEVEL: "debug", ...(options.fault ? { RUNNEL_OPERATOR_FAULT: options.fault } : {}) },
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const exited = new Promise<number | null>((res) => child.once("exit", (code, signal) => res(code ?? (signal ? 128 + 9 : null))));
  return {
    identity,
    child,
    exited,
    log,
    url: () =>
      waitFor(`operator ${identity} to serve`, () => {
        const m = /"msg":"serving \/healthz, \/readyz and \/metrics".*?"url":"([^"]+)"/.exec(readFileSync(log, "utf8"));
        return m?.[1];
      }),
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** The last lines of an operator's log, shortened for failure messages. */
export function operatorLogTail(op: OperatorProcess, lines = 30): string {
  try {
    return readFileSync(op.log, "utf8")
      .split("\n")
      .slice(-lines)
      .map((l) => l.slice(0, 400))
      .join("\n");
  } catch {
    return "(no log)";
  }
}

/** A StreamJob running the count job on `workers` workers in `namespace`. */
export function countStreamJob(
  job: CountJob,
  options: { namespace: string; workers: number; upgradeMode?: string; savepointClaim?: string; spec?: Record<string, unknown> },
): StreamJob {
  const doc = parse(countManifest(job)) as StreamJob;
  return {
    ...doc,
    metadata: { name: job.name, namespace: options.namespace },
    spec: {
      ...doc.spec,
      parallelism: options.workers,
      upgradeMode: (options.upgradeMode ?? "last-state") as "last-state",
      ...(options.savepointClaim ? { savepoint: { storage: { path: "/savepoints", claimName: options.savepointClaim } } } : {}),
      ...options.spec,
    },
  };
}

/** kubectl apply (server-side) of an object. */
export function applyManifest(obj: unknown): void {
  mustRun("kubectl", ["apply", "--server-side", "--force-conflicts", "--field-manager=test", "-f", "-"], { input: JSON.stringify(obj) });
}

/** A shared volume for savepoints (the test environment's volumes are host folders every pod reaches). */
export function createSavepointClaim(namespace: string, name = "savepoints"): void {
  applyManifest({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace },
    spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "1Gi" } } },
  });
}

/** Reads a StreamJob. */
export async function readJob(namespace: string, name: string): Promise<StreamJob> {
  const api = kubeConfig().makeApiClient(CustomObjectsApi);
  return (await api.getNamespacedCustomObject({ group: "runnel.dev", version: "v1alpha1", plural: "streamjobs", namespace, name })) as StreamJob;
}

/** Waits until the job's status satisfies `done` (its metadata.generation observed), returning it. */
export async function waitForJob(
  namespace: string,
  name: string,
  what: string,
  done: (s: StreamJobStatus, job: StreamJob) => boolean,
  timeoutMs = 180_000,
): Promise<StreamJob> {
  let last: StreamJob | undefined;
  try {
    return await waitFor(
      `StreamJob ${namespace}/${name}: ${what}`,
      async () => {
        last = await readJob(namespace, name);
        const s = last.status ?? {};
        return s.observedGeneration === last.metadata?.generation && done(s, last) ? last : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  } catch (err) {
    const s = last?.status;
    throw new Error(
      `${(err as Error).message}\nphase ${s?.phase}, action ${JSON.stringify(s?.pendingAction && { ...s.pendingAction, targetSpec: undefined })}, ready ${s?.readyWorkers}, lastError ${JSON.stringify(s?.lastError)}`,
    );
  }
}

/** True when the job is Running and Ready with no action in progress. */
export function isReady(s: StreamJobStatus): boolean {
  return s.phase === "Running" && !s.pendingAction && s.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}

/**
 * Checks the count job's output against its reference with Kafka's Java consumer (read_committed,
 * `javaCheck`): every expected window exactly once and nothing else; on failure the message adds
 * the job's pods (with their restarts) and status.
 */
export async function expectExactlyOnceWithJava(job: CountJob, timeoutMs = 180_000): Promise<void> {
  const { windows, duplicates, mismatches } = await javaCheck(job, timeoutMs);
  if (duplicates.length === 0 && mismatches.length === 0) return;
  const pods = runTool("kubectl", ["get", "pods", "-A", "-l", `runnel.dev/job=${job.name}`, "-o", "wide"]).stdout;
  const sj = runTool("kubectl", ["get", "sj", "-A", "--field-selector", `metadata.name=${job.name}`, "-o", "wide"]).stdout;
  throw new Error(
    `${job.output} (Java read_committed, ${windows} windows of ${job.reference.size}): duplicated ${duplicates.slice(0, 10).join(", ") || "none"}; ` +
      `wrong ${mismatches.slice(0, 10).join("; ") || "none"}\n${pods}\n${sj}`,
  );
}

/** Host pids of a process tree, children first found through /proc/<pid>/task/<tid>/children. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop() as number;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      let children = "";
      try {
        children = readFileSync(`/proc/${p}/task/${t}/children`, "utf8");
      } catch {
        continue;
      }
      for (const c of children.split(" ").filter(Boolean).map(Number)) {
        out.push(c);
        stack.push(c);
      }
    }
  }
  return out;
}

/** The host pid of the `runnel worker` process inside a worker pod (the node agent runs it as a local process). */
export function workerProcessPid(pod: V1Pod): number {
  const pid = descendants(containerPid(pod)).find((p) => {
    try {
      return /^\S*node \S*main\.ts worker /.test(processCommand(p));
    } catch {
      return false;
    }
  });
  if (pid === undefined) throw new Error(`no runnel worker process under pod ${pod.metadata?.name}`);
  return pid;
}

/** For a describe block: the CRDs, a namespace with a savepoint claim, and an operator watching it (killed and removed after). */
export function operatorHooks(prefix: string): { readonly namespace: string; readonly operator: OperatorProcess } {
  const ctx = {} as { ns: TestNamespace; op: OperatorProcess };
  beforeAll(async () => {
    installCrds();
    ctx.ns = await createNamespace(prefix);
    createSavepointClaim(ctx.ns.name);
    ctx.op = startOperator({ namespace: ctx.ns.name });
    await ctx.op.url();
  });
  afterAll(async () => {
    await ctx.op?.kill9();
    ctx.ns?.cleanup();
  });
  return {
    get namespace() {
      return ctx.ns.name;
    },
    get operator() {
      return ctx.op;
    },
  };
}
