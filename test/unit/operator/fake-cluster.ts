/**
 * An in-memory JobCluster (our own interface) for reconciler unit tests: a StreamJob whose status
 * writes check the resourceVersion, a StatefulSet whose pods follow its replicas and template on
 * each tick(), and workers whose admin API takes savepoints and stops (exiting 0, like the
 * contract says) one tick after being asked. Crashes are injected per job generation.
 */
import { setCondition } from "../../../operator/streamjob/conditions.ts";
import type { WorkerPlan } from "../../../operator/streamjob/children.ts";
import type { DisposalState, JobCluster, Observed, PodView } from "../../../operator/streamjob/cluster.ts";
import type { WorkerAdmin } from "../../../operator/streamjob/worker-admin.ts";
import { KubeApiError, WorkerAdminError } from "../../../operator/errors.ts";
import type { StreamJob, StreamJobSpec, StreamJobStatus, StreamSavepoint } from "../../../runtime/spec/generated/types.ts";
import { testJob } from "../../helpers/streamjob.ts";
import type { EventRecorder } from "../../../operator/kube/events.ts";

interface FakePod extends PodView {
  /** Savepoints this worker was asked for: id → { stop, done }. */
  savepoints: Map<string, { stop: boolean; state: "pending" | "completed" | "failed"; name: string }>;
  stopping: boolean;
  /** A stopped worker exits 0 and, restarted into its sealed generation, exits 0 again. */
  sealed: boolean;
}

/** A savepoint request a worker accepted. */
export interface AdminCall {
  ordinal: number;
  kind: "stop" | "trigger";
  name: string;
}

/** Options of the fake. */
export interface FakeOptions {
  /** Generations whose workers crash (exit code) instead of becoming ready. */
  crashing?: (plan: WorkerPlan) => number | undefined;
  /** Workers fail their savepoints with this error. */
  failSavepoints?: string;
}

/** The fake cluster. */
export class FakeCluster implements JobCluster {
  job: StreamJob;
  sts: { replicas: number; plan: WorkerPlan } | undefined;
  pods = new Map<number, FakePod>();
  calls: AdminCall[] = [];
  applied: WorkerPlan[] = [];
  events: EventRecorder & { list: { reason: string; message: string }[] };
  disposed: string[] = [];
  savepointObjects = new Map<string, StreamSavepoint>();
  clock = Date.UTC(2026, 0, 1);
  statusWrites = 0;
  private rv = 1;
  private uid = 0;
  private ip = 1;
  private nextId = 0;

  readonly options: FakeOptions;

  constructor(spec: Partial<StreamJobSpec> = {}, options: FakeOptions = {}) {
    this.options = options;
    this.job = testJob(spec);
    const list: { reason: string; message: string }[] = [];
    this.events = { list, record: (_o, _t, reason, message) => void list.push({ reason, message }) };
  }

  /** Changes the spec (a new metadata.generation), as kubectl apply would. */
  setSpec(change: (spec: StreamJobSpec) => void): void {
    const spec = structuredClone(this.job.spec);
    change(spec);
    this.job = {
      ...this.job,
      spec,
      metadata: { ...this.job.metadata, generation: (this.job.metadata?.generation ?? 1) + 1, resourceVersion: String(++this.rv) },
    };
  }

  now(): Date {
    return new Date(this.clock);
  }

  advance(ms: number): void {
    this.clock += ms;
  }

  observe(): Observed {
    const pods = [...this.pods.values()].sort((a, b) => a.ordinal - b.ordinal).map((p) => ({ ...p }));
    return {
      job: structuredClone(this.job),
      ...(this.sts ? { statefulSet: { replicas: this.sts.replicas, readyReplicas: pods.filter((p) => p.ready).length } } : {}),
      pods,
      adminToken: "token",
      savepointRequests: [...this.savepointObjects.values()].filter((s) => s.status?.state === "Pending"),
      savepointObject: (n) => this.savepointObjects.get(n),
    };
  }

  async applyWorkers(_job: StreamJob, plan: WorkerPlan): Promise<void> {
    const last = this.sts?.plan;
    if (!last || JSON.stringify(last) !== JSON.stringify(plan)) this.applied.push(plan);
    this.sts = { replicas: plan.replicas, plan };
  }

  async scaleWorkers(_job: StreamJob, replicas: number): Promise<void> {
    if (this.sts) this.sts.replicas = replicas;
  }

  async pruneManifests(): Promise<void> {}

  async writeStatus(job: StreamJob, status: StreamJobStatus): Promise<StreamJob> {
    if (job.metadata?.resourceVersion !== this.job.metadata?.resourceVersion) throw new KubeApiError("conflict: the object changed", 409);
    this.statusWrites++;
    this.job = { ...this.job, status: structuredClone(status), metadata: { ...this.job.metadata, resourceVersion: String(++this.rv) } };
    return structuredClone(this.job);
  }

  async lastLogLines(_job: StreamJob, pod: PodView): Promise<string[]> {
    return [`{"level":"error","msg":"worker ${pod.ordinal} failed","error":"topic missing"}`];
  }

  async writeSavepointStatus(sp: StreamSavepoint, status: StreamSavepoint["status"]): Promise<void> {
    const name = sp.metadata?.name ?? "";
    const current = this.savepointObjects.get(name);
    if (current) this.savepointObjects.set(name, { ...current, status: status ?? {} });
  }

  disposer = {
    dispose: async (_job: StreamJob, location: string): Promise<DisposalState> => {
      if (!this.disposed.includes(location)) this.disposed.push(location);
      return { state: "done" };
    },
  };

  private pod(ip: string): FakePod {
    const pod = [...this.pods.values()].find((p) => p.ip === ip && !p.terminated);
    if (!pod) throw new WorkerAdminError(`no answer from ${ip}`, 0);
    return pod;
  }

  admin: WorkerAdmin = {
    triggerSavepoint: async (ip, _token, req) => this.accept(ip, req.name ?? "", false),
    stopWithSavepoint: async (ip, _token, req) => this.accept(ip, req.name ?? "", true),
    savepointStatus: async (ip, id) => {
      const sp = this.pod(ip).savepoints.get(id);
      return sp ? { id, state: sp.state, ...(sp.state === "completed" ? { path: `/savepoints/${sp.name}` } : {}) } : undefined;
    },
    status: async (ip) => {
      const p = this.pod(ip);
      return {
        job: "clicks",
        generation: p.jobGeneration ?? "",
        tasks: [],
        parallelism: 4,
        rounds: 1,
        recordsIn: 0,
        recordsOut: 0,
        watermark: 0,
        checkpoints: 3,
        lastCheckpoint: 2,
        consumerLag: 7,
      };
    },
  };

  private accept(ip: string, name: string, stop: boolean): string {
    const pod = this.pod(ip);
    if (pod.stopping) throw new WorkerAdminError("the job is stopping with a savepoint already", 409);
    const id = `sp-${name.replace(/\W/g, "")}`;
    pod.savepoints.set(id, { stop, state: "pending", name });
    if (stop) pod.stopping = true;
    this.calls.push({ ordinal: pod.ordinal, kind: stop ? "stop" : "trigger", name });
    return id;
  }

  /** One step of the world: savepoints finish, stopped workers exit 0, pods follow the StatefulSet. */
  tick(): void {
    for (const pod of this.pods.values()) {
      for (const sp of pod.savepoints.values()) {
        if (sp.state !== "pending") continue;
        sp.state = this.options.failSavepoints ? "failed" : "completed";
        if (sp.state === "failed") pod.stopping = false;
        if (sp.stop && sp.state === "completed") {
          pod.sealed = true;
          pod.ready = false;
          pod.terminated = { exitCode: 0, finishedAt: this.now().toISOString() };
        }
      }
      if (pod.sealed && !pod.terminated) pod.terminated = { exitCode: 0, finishedAt: this.now().toISOString() };
    }
    if (!this.sts) return;
    for (const o of [...this.pods.keys()]) if (o >= this.sts.replicas) this.pods.delete(o);
    for (let o = 0; o < this.sts.replicas; o++) {
      let pod = this.pods.get(o);
      if (!pod) {
        pod = {
          name: `clicks-${o}`,
          uid: `uid-${++this.uid}`,
          ordinal: o,
          ip: `10.0.0.${this.ip++}`,
          ready: false,
          deleting: false,
          jobGeneration: this.sts.plan.jobGeneration,
          restarts: 0,
          savepoints: new Map(),
          stopping: false,
          sealed: false,
        };
        this.pods.set(o, pod);
        continue;
      }
      const crash = this.options.crashing?.(this.sts.plan);
      if (crash !== undefined && pod.jobGeneration === this.sts.plan.jobGeneration) {
        pod.restarts++;
        pod.ready = false;
        pod.lastTerminated = { exitCode: crash, finishedAt: this.now().toISOString() };
      } else if (!pod.sealed) pod.ready = true;
    }
  }

  /** Adds a StreamSavepoint request in state Pending. */
  requestSavepoint(name: string, type: "savepoint" | "stop" = "savepoint"): void {
    this.savepointObjects.set(name, {
      metadata: { name, namespace: "ns", generation: 1 },
      spec: { jobName: "clicks", type },
      status: { state: "Pending", conditions: setCondition([], { type: "Ready", status: "False", reason: "Pending", message: "" }, 1, this.now()) },
    });
  }

  get status(): StreamJobStatus {
    return this.job.status ?? {};
  }

  /** A new savepoint id per test run (unused names would collide). */
  id(): number {
    return ++this.nextId;
  }
}
