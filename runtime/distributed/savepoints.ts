/**
 * Savepoints of one worker, taken between rounds. A consistent cut across workers without a
 * shuffle of our own: the worker stops reading the job's inputs, and each task, once it has read
 * every upstream task's "drained" marker on its repartition inputs (so everything sent before
 * the savepoint was processed), sends its own drained markers downstream. When all its tasks are
 * drained the worker commits a checkpoint and writes their snapshots — nothing is in flight in
 * the internal topics, so the savepoint restores into a new generation. Then it resumes, or with
 * stop-with-savepoint waits until every worker's share is written and seals its tasks (ADR 16)
 * before it ends. Workers take part independently: the operator (or a user) asks each. Targets
 * are names under the job's savepoint root (savepoint-target.ts).
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { TaskSnapshot } from "../checkpoint/format.ts";
import { CheckpointError } from "../errors.ts";
import { replicatedUids, taskSnapshot } from "../exec/checkpointing.ts";
import type { Engine } from "../exec/engine.ts";
import { createLogger, type Logger } from "../log.ts";
import { FORMAT_VERSION } from "../checkpoint/format.ts";
import { SavepointRequestError, type SavepointControl, type SavepointStatus } from "../observe/savepoint-control.ts";
import type { DistributedPlan } from "./plan.ts";
import { fileSavepointStorage, unwrittenTasks, writeWorkerSavepoint, type WorkerSavepointMeta } from "./savepoint-store.ts";
import { savepointTarget } from "./savepoint-target.ts";

/** Default of spec.savepoint.timeout. */
export const DEFAULT_SAVEPOINT_TIMEOUT_MS = 10 * 60_000;

/** The name of a savepoint asked for without one: `<job>/savepoint-<yyyymmddThhmm>` (UTC). */
export function defaultSavepointName(job: string, now = new Date()): string {
  return `${job}/savepoint-${now.toISOString().slice(0, 16).replace(/[-:]/g, "")}`;
}

interface Request {
  status: SavepointStatus;
  dir: string;
  stop: boolean;
  /** `<task>/<repartition source uid>` pairs whose writers sent their drained markers. */
  sent: Set<string>;
  /** Tasks done: all markers sent and all repartition inputs drained. */
  done: Set<number>;
  /** Rounds run since every task sent (markers are flushed at a round's end). */
  settle: number;
  startedAt: number;
  /** This worker's share is written; a stop waits for the other workers' shares before sealing. */
  written: boolean;
  /** When the other workers' shares were last looked for. */
  lookedAt: number;
  /** The seal is marked: from here on a failure must end the worker, never resume it. */
  sealing: boolean;
}

/** What a completed stop-with-savepoint seals. */
export interface SealInfo {
  savepoint: string;
  path: string;
}

/** Options of the savepoint coordinator. */
export interface SavepointOptions {
  job: string;
  ordinal: number;
  /** Number of workers (to name the workers a drain waits for). */
  workers: number;
  tasks: number[];
  plan: DistributedPlan;
  /** The job's savepoint root (spec.savepoint.storage.path): every savepoint is a name under it; none: savepoints are refused. */
  root?: string;
  /** A savepoint not completed within this fails, naming the workers it waited for, and the job resumes (default 10 min). */
  timeoutMs?: number;
  /** Marks the generation sealed in every later checkpoint (stop-with-savepoint, once the savepoint is complete). */
  markSealed?: (info: SealInfo) => void;
  /** Records the seal once committed (the generations topic). */
  recordSealed?: (info: SealInfo) => Promise<void>;
  log?: Logger;
}

/** A worker's SavepointControl plus the hook the engine calls between rounds. */
export interface SavepointCoordinator extends SavepointControl {
  /** The status of savepoint `id` on this worker, undefined when unknown. */
  status(id: string): SavepointStatus | undefined;
  /** Called between rounds. */
  onRound(engine: Engine): Promise<void>;
}

/** Creates the savepoint coordinator of a worker. */
export function savepointCoordinator(options: SavepointOptions): SavepointCoordinator {
  const requests = new Map<string, Request>();
  let active: Request | undefined;
  let stopping = false;
  const log = options.log ?? createLogger("worker.savepoint", { job: options.job, ordinal: options.ordinal });
  const internal = new Set(options.plan.repartitions.map((r) => r.sourceUid));
  const timeoutMs = options.timeoutMs ?? DEFAULT_SAVEPOINT_TIMEOUT_MS;

  async function accept(name: string | undefined, stop: boolean): Promise<string> {
    if (stopping) throw new SavepointRequestError("the job is stopping with a savepoint already");
    if (active) throw new SavepointRequestError(`savepoint ${active.status.id} is in progress; poll it, then ask again`);
    if (options.root === undefined)
      throw new SavepointRequestError("this job has no savepoint root: set spec.savepoint.storage.path in the StreamJob (a volume every worker mounts)", 400);
    // Every worker is asked with the same name: the id (in markers and metadata) derives from it.
    const target = await savepointTarget(options.root, name ?? defaultSavepointName(options.job));
    if (stopping || active) throw new SavepointRequestError("another savepoint request was accepted meanwhile; poll it, then ask again");
    const id = `sp-${createHash("sha256").update(resolve(target)).digest("hex").slice(0, 12)}`;
    if (requests.get(id)?.status.state === "completed")
      throw new SavepointRequestError(`savepoint ${id} was already written to ${target}; choose another name`);
    const request: Request = {
      status: { id, state: "pending" },
      dir: target,
      stop,
      sent: new Set(),
      done: new Set(),
      settle: 0,
      startedAt: Date.now(),
      written: false,
      lookedAt: 0,
      sealing: false,
    };
    requests.set(id, request);
    active = request;
    if (stop) stopping = true;
    log.info(`savepoint ${id}${stop ? " (stop)" : ""} into ${target}: draining`, { savepoint: id });
    return id;
  }

  /** The workers (and their tasks) among `tasks`, for messages: "worker 1 (tasks 1,4), worker 2 (tasks 2)". */
  function owners(tasks: Iterable<number>): string {
    const byWorker = new Map<number, number[]>();
    for (const t of [...new Set(tasks)].sort((a, b) => a - b)) byWorker.set(t % options.workers, [...(byWorker.get(t % options.workers) ?? []), t]);
    return [...byWorker]
      .sort(([a], [b]) => a - b)
      .map(([w, ts]) => `worker ${w} (task${ts.length > 1 ? "s" : ""} ${ts.join(",")})`)
      .join(", ");
  }

  /** Upstream tasks whose drained markers this worker's undrained tasks still wait for. */
  function undrained(id: string): number[] {
    const missing: number[] = [];
    for (const t of options.tasks) {
      if (active?.done.has(t)) continue;
      for (const r of options.plan.repartitions) missing.push(...(r.readers.get(t)?.undrainedUpstreams(id) ?? []));
    }
    return missing;
  }

  /** True when task t read the drained markers of all upstream tasks on the given repartition inputs. */
  function drained(t: number, id: string, sourceUids: string[]): boolean {
    return options.plan.repartitions.every((r) => {
      if (!sourceUids.includes(r.sourceUid)) return true;
      const reader = r.readers.get(t);
      return reader === undefined || reader.drainedUpstreams(id) >= reader.upstreamTasks;
    });
  }

  async function snapshotTasks(engine: Engine, request: Request): Promise<void> {
    const st = engine.state;
    const snapshots = new Map<number, TaskSnapshot>();
    const meta: WorkerSavepointMeta = {
      version: FORMAT_VERSION,
      kind: "savepoint",
      job: options.job,
      id: request.status.id,
      createdAt: new Date().toISOString(),
      parallelism: st.parallelism,
      tasks: options.tasks,
      operators: st.graph.nodes.filter((n) => !internal.has(n.uid) && !n.uid.endsWith(".repartition-out")).map((n) => ({ uid: n.uid, kind: n.spec.kind })),
      sources: {},
      sourceMaxTimestamps: {},
    };
    // One task carries the worker's broadcast state, with the broadcast inputs' positions it reflects.
    const first = options.tasks[0] as number;
    for (const t of options.tasks) snapshots.set(t, taskSnapshot(st, t, { operators: t === first }));
    const replicated = replicatedUids(st);
    const broadcast: NonNullable<WorkerSavepointMeta["broadcast"]> = { task: first, inputs: {} };
    for (const s of st.sources) {
      if (!s.reader || internal.has(s.uid)) continue;
      if (replicated.has(s.uid)) {
        const r = (broadcast.inputs[s.uid] ??= { positions: {}, maxTimestamps: {} });
        r.positions[s.partition] = s.reader.position();
        r.maxTimestamps[s.partition] = s.gen.maxTimestamp;
      } else if (options.tasks.includes(s.partition)) {
        (meta.sources[s.uid] ??= {})[s.partition] = s.reader.position();
        (meta.sourceMaxTimestamps[s.uid] ??= {})[s.partition] = s.gen.maxTimestamp;
      }
    }
    meta.broadcast = broadcast;
    await writeWorkerSavepoint(fileSavepointStorage(request.dir), options.ordinal, meta, snapshots);
  }

  function pauseInputs(engine: Engine, paused: boolean): void {
    for (const s of engine.state.sources) if (!internal.has(s.uid)) s.paused = paused;
  }

  /** Fails the request when it is older than the timeout, naming what it waits for. */
  function checkTimeout(request: Request, waitingFor: () => string): void {
    const secs = Math.round((Date.now() - request.startedAt) / 1000);
    if (Date.now() - request.startedAt > timeoutMs)
      throw new CheckpointError(`savepoint ${request.status.id} not completed after ${secs} s (timeout ${timeoutMs / 1000} s): ${waitingFor()}`, false);
  }

  async function step(engine: Engine, request: Request): Promise<void> {
    const id = request.status.id;
    if (request.written) return finishStop(engine, request);
    pauseInputs(engine, true);
    const all = options.plan.repartitions.map((r) => r.sourceUid);
    for (const t of options.tasks) {
      if (request.done.has(t)) continue;
      // A topic's writers are drained once what feeds them is: stage by stage, never waiting on themselves.
      for (const r of options.plan.repartitions) {
        const key = `${t}/${r.sourceUid}`;
        if (request.sent.has(key) || !drained(t, id, r.upstream)) continue;
        r.writers.get(t)?.drained(id);
        request.sent.add(key);
      }
      if (options.plan.repartitions.every((r) => request.sent.has(`${t}/${r.sourceUid}`)) && drained(t, id, all)) request.done.add(t);
    }
    if (request.done.size < options.tasks.length) {
      checkTimeout(request, () => `no drained markers yet from ${owners(undrained(id))}; did every worker get the savepoint request?`);
      return;
    }
    // The round after the last markers were queued flushed them; the checkpoint commits them.
    if (request.settle++ < 1) return;
    await engine.checkpoint();
    await snapshotTasks(engine, request);
    request.written = true;
    if (request.stop) return finishStop(engine, request);
    complete(request);
    pauseInputs(engine, false);
  }

  function complete(request: Request): void {
    request.status = { id: request.status.id, state: "completed", path: request.dir };
    active = undefined;
    log.info(`savepoint ${request.status.id} completed: ${request.dir}`, { savepoint: request.status.id, tasks: options.tasks.join(",") });
  }

  /**
   * Stop-with-savepoint, once this worker's share is written: wait until every worker's is (so a
   * savepoint that fails anywhere leaves every worker unsealed and able to resume), then seal the
   * tasks in one more checkpoint, record the seal, and end.
   */
  async function finishStop(engine: Engine, request: Request): Promise<void> {
    if (Date.now() - request.lookedAt < 200) return;
    request.lookedAt = Date.now();
    const unwritten = await unwrittenTasks(fileSavepointStorage(request.dir), request.status.id, engine.state.parallelism);
    if (unwritten.length > 0) {
      checkTimeout(request, () => `the shares of ${owners(unwritten)} were not written to ${request.dir}; did every worker get the stop request?`);
      return;
    }
    const info: SealInfo = { savepoint: request.status.id, path: request.dir };
    if (options.markSealed) {
      request.sealing = true;
      options.markSealed(info);
      await engine.checkpoint();
      await options.recordSealed?.(info);
    }
    complete(request);
    engine.stop();
  }

  return {
    trigger: (name) => accept(name, false),
    stopWithSavepoint: (name) => accept(name, true),
    status: (id) => requests.get(id)?.status,
    async onRound(engine) {
      const request = active;
      if (!request) return;
      try {
        await step(engine, request);
      } catch (err) {
        // Once sealing, every later checkpoint would seal: the worker ends and restarts from what was committed.
        if (request.sealing) throw err;
        request.status = { id: request.status.id, state: "failed", error: (err as Error).message };
        active = undefined;
        stopping = false;
        pauseInputs(engine, false);
        log.error(`savepoint ${request.status.id} failed: ${(err as Error).message}`, { savepoint: request.status.id });
      }
    },
  };
}
