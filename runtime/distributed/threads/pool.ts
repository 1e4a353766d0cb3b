/**
 * A worker process that runs its tasks on several threads (ADR 33). Thread t of worker o runs
 * virtual worker o × threads + t of workers × threads (merge.ts): its own generation check,
 * engine, state stores, producers and consumers, exactly as a worker process of its own would,
 * so exactly once, savepoints and rescaling need nothing new. The main thread starts the threads,
 * forwards a stop to each, serves one admin API whose metrics, status and savepoints are the
 * threads' merged, and ends with the first failing thread's exit code (ending the others at once,
 * as a crash of the process would) or 0 once every thread stopped cleanly.
 */
import { Worker as Thread } from "node:worker_threads";
import { AggregatorRegistry, Registry } from "prom-client";
import { InternalError } from "../../errors.ts";
import type { Progress } from "../../exec/engine.ts";
import type { LogOptions, Logger } from "../../log.ts";
import type { AdminSource } from "../../observe/admin-server.ts";
import type { AdminToken } from "../../observe/admin-auth.ts";
import { createProcessMetrics } from "../../observe/metrics.ts";
import { SavepointRequestError, type SavepointControl, type SavepointStatus } from "../../observe/savepoint-control.ts";
import { defaultSavepointName } from "../savepoints.ts";
import type { WorkerOptions } from "../worker.ts";
import { mergeSavepointStatuses, mergeStatuses, virtualWorker, type ThreadStatus } from "./merge.ts";
import type { FromThread, ThreadData, ThreadOp, ToThread } from "./protocol.ts";

/** Options of startWorkerThreads. */
export interface WorkerThreadsOptions {
  /** The module each thread starts with (cli/thread-entry.ts) and the arguments it gets (the thread's own module: cli/worker-thread.ts). */
  entry: URL;
  argv?: string[];
  /** The pod's worker options (its own ordinal and the number of worker pods). */
  options: Omit<WorkerOptions, "signal" | "log" | "siblingOrdinals">;
  threads: number;
  /** Brokers the threads read consumer lag from. */
  brokers: string[];
  logOptions: Pick<LogOptions, "format" | "level">;
  log: Logger;
}

/** What a thread reported once its worker started. */
type Started = Omit<Extract<FromThread, { type: "started" }>, "type">;

/** One started thread. */
interface Handle {
  readonly thread: Thread;
  /** Its worker's start, undefined when the thread ended first. */
  readonly started: Promise<Started | undefined>;
  /** Its exit code. */
  readonly exit: Promise<number>;
  request(op: ThreadOp, arg?: string): Promise<unknown>;
  send(message: ToThread): void;
}

/** A worker running on threads, all of them started. */
export interface ThreadedWorker {
  readonly threads: number;
  readonly job: string;
  readonly generation: string;
  readonly parallelism: number;
  /** Tasks of all threads. */
  readonly tasks: number[];
  /** The merged admin API source (metrics, readiness, status, savepoints). */
  adminSource(token: AdminToken): AdminSource & { close(): Promise<void> };
  /** The threads' engine counters summed and their lowest watermark (cheaper than the status: no consumer lag). */
  progress(): Promise<{ recordsIn: number; recordsOut: number; checkpoints: number; watermark: number }>;
  /** Asks every thread to stop after its current round with a final checkpoint. */
  stop(): void;
  /** The process's exit code once every thread ended. */
  readonly exited: Promise<number>;
}

function spawn(index: number, o: WorkerThreadsOptions): Handle {
  const { ordinal, workers } = o.options;
  const siblingOrdinals = Array.from({ length: o.threads }, (_, t) => t)
    .filter((t) => t !== index)
    .map((t) => virtualWorker(ordinal, workers, t, o.threads).ordinal);
  const data: ThreadData = {
    options: { ...o.options, ...virtualWorker(ordinal, workers, index, o.threads), siblingOrdinals },
    thread: index,
    threads: o.threads,
    podOrdinal: ordinal,
    brokers: o.brokers,
    log: o.logOptions,
  };
  const thread = new Thread(o.entry, { workerData: data, argv: o.argv ?? [] });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let onStarted: (s: Started | undefined) => void = () => undefined;
  const started = new Promise<Started | undefined>((resolve) => (onStarted = resolve));
  thread.on("message", (m: FromThread) => {
    if (m.type === "started") onStarted(m);
    else {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) return;
      if (m.ok) p.resolve(m.value);
      else p.reject(m.httpStatus === undefined ? new InternalError(`thread ${index}: ${m.message}`) : new SavepointRequestError(m.message, m.httpStatus));
    }
  });
  // An exception nothing in the thread caught (a bug): logged here, the thread then exits 1.
  thread.on("error", (err: Error) => o.log.error(`thread ${index} failed: ${err.message}`, { thread: index, errorClass: "internal" }));
  let ended = false;
  const exit = new Promise<number>((resolve) =>
    thread.on("exit", (code) => {
      ended = true;
      onStarted(undefined);
      for (const p of pending.values()) p.reject(new InternalError(`thread ${index} has ended (exit ${code})`));
      pending.clear();
      resolve(code);
    }),
  );
  return {
    thread,
    started,
    exit,
    send: (message) => {
      if (!ended) thread.postMessage(message);
    },
    request: (op, arg) =>
      new Promise((resolve, reject) => {
        if (ended) return reject(new InternalError(`thread ${index} has ended`));
        const id = nextId++;
        pending.set(id, { resolve, reject });
        thread.postMessage({ type: "request", id, op, ...(arg === undefined ? {} : { arg }) } satisfies ToThread);
      }),
  };
}

/** The exit code of the whole process: the first failure's (ending the other threads then), else 0. */
function exitCode(handles: readonly Handle[]): Promise<number> {
  return new Promise((resolve) => {
    let remaining = handles.length;
    let code = 0;
    for (const h of handles) {
      void h.exit.then((c) => {
        if (c !== 0 && code === 0) {
          code = c;
          for (const other of handles) if (other !== h) void other.thread.terminate();
        }
        if (--remaining === 0) resolve(code);
      });
    }
  });
}

/** Asks every thread and merges nothing: the answers in thread order. */
const ask = (handles: readonly Handle[], op: ThreadOp, arg?: string): Promise<unknown[]> => Promise.all(handles.map((h) => h.request(op, arg)));

/** Starts a savepoint (or stop-with-savepoint) on every thread under one name; all answer with the same id. */
async function fanOut(handles: readonly Handle[], op: "trigger" | "stopWithSavepoint", name: string): Promise<string> {
  const results = await Promise.allSettled(handles.map((h) => h.request(op, name)));
  const refused = results.find((r) => r.status === "rejected");
  if (refused) throw refused.reason as Error;
  const ids = new Set(results.map((r) => (r as PromiseFulfilledResult<unknown>).value as string));
  if (ids.size !== 1) throw new InternalError(`the threads accepted savepoint '${name}' under different ids: ${[...ids].join(", ")}`);
  return [...ids][0] as string;
}

/** Threads being started: stop() works from the first moment (during startup it ends it). */
export interface StartingThreads {
  stop(): void;
  /** The running worker once every thread started; the exit code when one ended first (a failure, a sealed generation, a stop during startup). */
  readonly started: Promise<ThreadedWorker | number>;
}

/** Starts `threads` threads, each running its virtual worker. */
export function startWorkerThreads(o: WorkerThreadsOptions): StartingThreads {
  const handles = Array.from({ length: o.threads }, (_, t) => spawn(t, o));
  const stop = (): void => {
    for (const h of handles) h.send({ type: "stop" });
  };
  return { stop, started: running(handles, o, stop) };
}

async function running(handles: readonly Handle[], o: WorkerThreadsOptions, stop: () => void): Promise<ThreadedWorker | number> {
  const exited = exitCode(handles);
  const started = await Promise.all(handles.map((h) => h.started));
  if (started.some((s) => s === undefined)) {
    stop();
    return exited;
  }
  const infos = started as Started[];
  const first = infos[0] as Started;
  const savepoints: SavepointControl = {
    trigger: (name) => fanOut(handles, "trigger", name ?? defaultSavepointName(first.job)),
    stopWithSavepoint: (name) => fanOut(handles, "stopWithSavepoint", name ?? defaultSavepointName(first.job)),
    status: async (id) => mergeSavepointStatuses(id, (await ask(handles, "savepointStatus", id)) as (SavepointStatus | undefined)[]),
  };
  return {
    threads: o.threads,
    job: first.job,
    generation: first.generation,
    parallelism: first.parallelism,
    tasks: infos.flatMap((s) => s.tasks).sort((a, b) => a - b),
    adminSource: (token) => {
      const processMetrics = createProcessMetrics();
      return {
        registry: {
          contentType: Registry.PROMETHEUS_CONTENT_TYPE,
          metrics: async () => {
            const parts = (await ask(handles, "metrics")) as object[];
            return AggregatorRegistry.aggregate([await processMetrics.getMetricsAsJSON(), ...parts]).metrics();
          },
        },
        ready: async () => (await ask(handles, "ready")).every((r) => r === true),
        status: async () => mergeStatuses(o.options.ordinal, (await ask(handles, "status")) as ThreadStatus[]),
        token,
        savepoints,
        close: async () => undefined,
      };
    },
    progress: async () => {
      const all = (await ask(handles, "progress")) as Progress[];
      const total = (f: (p: Progress) => number): number => all.reduce((sum, p) => sum + f(p), 0);
      return {
        recordsIn: total((p) => p.recordsIn),
        recordsOut: total((p) => p.recordsOut),
        checkpoints: total((p) => p.checkpoints),
        watermark: Math.min(...all.map((p) => p.watermark)),
      };
    },
    stop,
    exited,
  };
}
