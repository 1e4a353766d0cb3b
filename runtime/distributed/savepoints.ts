/**
 * Savepoints of one worker, taken between rounds. A consistent cut across workers without a
 * shuffle of our own: the worker stops reading the job's inputs, and each task, once it has read
 * every upstream task's "drained" marker on its repartition inputs (so everything sent before
 * the savepoint was processed), sends its own drained markers downstream. When all its tasks are
 * drained the worker commits a checkpoint and writes their snapshots — nothing is in flight in
 * the internal topics, so the savepoint restores into fresh ones. Then it resumes, or with
 * stop-with-savepoint ends. Workers take part independently: the operator (or a user) asks each.
 */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import type { TaskSnapshot } from "../checkpoint/format.ts";
import { replicatedUids, taskSnapshot } from "../exec/checkpointing.ts";
import type { Engine } from "../exec/engine.ts";
import { FORMAT_VERSION } from "../checkpoint/format.ts";
import { SavepointRequestError, type SavepointControl, type SavepointStatus } from "../observe/savepoint-control.ts";
import type { DistributedPlan } from "./plan.ts";
import { fileSavepointStorage, writeWorkerSavepoint, type WorkerSavepointMeta } from "./savepoint-store.ts";

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
}

/** Options of the savepoint coordinator. */
export interface SavepointOptions {
  job: string;
  ordinal: number;
  tasks: number[];
  plan: DistributedPlan;
  /** Where savepoints go when a request names no folder (spec.savepoint.storage.path). */
  defaultRoot?: string;
  /** A drain not finished within this fails (and the job resumes). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** A worker's SavepointControl plus the hook the engine calls between rounds. */
export interface SavepointCoordinator extends SavepointControl {
  /** Called between rounds. */
  onRound(engine: Engine): Promise<void>;
}

/** Creates the savepoint coordinator of a worker. */
export function savepointCoordinator(options: SavepointOptions): SavepointCoordinator {
  const requests = new Map<string, Request>();
  let active: Request | undefined;
  let stopping = false;
  const log = options.log ?? ((l: string) => console.error(l));
  const internal = new Set(options.plan.repartitions.map((r) => r.sourceUid));

  function accept(dir: string | undefined, stop: boolean): string {
    if (stopping) throw new SavepointRequestError("the job is stopping with a savepoint already");
    if (active) throw new SavepointRequestError(`savepoint ${active.status.id} is in progress; poll it, then ask again`);
    // Every worker is asked with the same folder: the id (in markers and metadata) derives from it.
    const target =
      dir ??
      (options.defaultRoot ? join(options.defaultRoot, options.job, `savepoint-${new Date().toISOString().slice(0, 16).replace(/[-:]/g, "")}`) : undefined);
    if (target === undefined)
      throw new SavepointRequestError(
        'no savepoint folder: send {"dir": "/savepoints/..."} (the same to every worker) or set spec.savepoint.storage.path',
        400,
      );
    const id = `sp-${createHash("sha256").update(resolve(target)).digest("hex").slice(0, 12)}`;
    if (requests.get(id)?.status.state === "completed")
      throw new SavepointRequestError(`savepoint ${id} was already written to ${target}; choose another folder`);
    const request: Request = { status: { id, state: "pending" }, dir: target, stop, sent: new Set(), done: new Set(), settle: 0, startedAt: Date.now() };
    requests.set(id, request);
    active = request;
    if (stop) stopping = true;
    log(`runnel worker: savepoint ${id} ${stop ? "(stop) " : ""}into ${target}: draining`);
    return id;
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

  async function step(engine: Engine, request: Request): Promise<void> {
    const id = request.status.id;
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
      if (Date.now() - request.startedAt > (options.timeoutMs ?? 300_000))
        throw new Error(`not drained after ${Math.round((Date.now() - request.startedAt) / 1000)} s: did every worker get the savepoint request?`);
      return;
    }
    // The round after the last markers were queued flushed them; the checkpoint commits them.
    if (request.settle++ < 1) return;
    await engine.checkpoint();
    await snapshotTasks(engine, request);
    request.status = { id, state: "completed", path: request.dir };
    active = undefined;
    log(`runnel worker: savepoint ${id} completed: ${request.dir} (tasks ${options.tasks.join(",")})`);
    if (request.stop) engine.stop();
    else pauseInputs(engine, false);
  }

  return {
    trigger: async (dir) => accept(dir, false),
    stopWithSavepoint: async (dir) => accept(dir, true),
    status: (id) => requests.get(id)?.status,
    async onRound(engine) {
      const request = active;
      if (!request) return;
      try {
        await step(engine, request);
      } catch (err) {
        request.status = { id: request.status.id, state: "failed", error: (err as Error).message };
        active = undefined;
        stopping = false;
        pauseInputs(engine, false);
        log(`runnel worker: savepoint ${request.status.id} failed: ${(err as Error).message}`);
      }
    },
  };
}
