/**
 * The main thread of a local run on threads (ADR 36). It starts one thread per task subset with
 * a MessageChannel between every pair, agrees each round's end with all of them (anything moved?
 * input ended everywhere? checkpoint or stop now?), completes each checkpoint once every thread
 * wrote its tasks' files (merged metadata last, then pruning), and merges their progress for the
 * progress line and admin API. The first thread to fail ends the others.
 */
import { MessageChannel, Worker as Thread, type MessagePort } from "node:worker_threads";
import { pruneCheckpoints, writeSnapshotMetadata, type CheckpointMetadata } from "../../checkpoint/format.ts";
import { RunnelError } from "../../errors.ts";
import { MAX_WATERMARK } from "../../time/watermarks.ts";
import type { Progress } from "../engine.ts";
import type { FromRunThread, PipelineCounts, ThreadFailure, ToRunThread } from "./protocol.ts";

/** Options of startLocalThreads. */
export interface LocalThreadsOptions {
  /** The module each thread starts with (cli/thread-entry.ts) and the arguments it gets (the thread's own module: cli/run-thread.ts). */
  entry: URL;
  argv?: string[];
  threads: number;
  /** Each thread's workerData beside its index, the thread count and its peer ports. */
  data: object;
  /** Local checkpoints: how often (start to start) and how many to keep. */
  checkpoint?: { dir: string; intervalMs: number; retain: number };
}

/** How the run ended. */
export type LocalThreadsResult = { ok: true; progress: Progress; pipeline?: PipelineCounts } | { ok: false; failure: ThreadFailure };

/** A run on threads. */
export interface LocalThreads {
  /** The threads' last reported progress, merged. */
  progress(): Progress;
  /** Dead letters and drops summed over threads (manifests). */
  pipeline(): PipelineCounts | undefined;
  /** Stops every thread after the current round (with a final checkpoint when checkpointing is on). */
  stop(): void;
  readonly ended: Promise<LocalThreadsResult>;
}

/** Progress of several engines as one: counters add, the watermark is the lowest, checkpoints are those all completed. */
export function mergeProgress(parts: readonly Progress[]): Progress {
  const sum = (f: (p: Progress) => number): number => parts.reduce((a, p) => a + f(p), 0);
  return {
    rounds: Math.max(0, ...parts.map((p) => p.rounds)),
    recordsIn: sum((p) => p.recordsIn),
    recordsOut: sum((p) => p.recordsOut),
    lateDropped: sum((p) => p.lateDropped),
    watermark: Math.min(MAX_WATERMARK, ...parts.map((p) => p.watermark)),
    stateSize: sum((p) => p.stateSize),
    finished: parts.length > 0 && parts.every((p) => p.finished),
    checkpoints: Math.min(...parts.map((p) => p.checkpoints)),
    lastCheckpoint: Math.min(...parts.map((p) => p.lastCheckpoint)),
  };
}

/** Counters of several pipelines as one. */
function mergePipeline(parts: readonly (PipelineCounts | undefined)[]): PipelineCounts | undefined {
  const present = parts.filter((p): p is PipelineCounts => p !== undefined);
  if (present.length === 0) return undefined;
  const add = (maps: Record<string, number>[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    deadLetters: add(present.map((p) => p.deadLetters)),
    dropped: add(present.map((p) => p.dropped)),
    deadLetterSamples: Object.assign({}, ...present.map((p) => p.deadLetterSamples ?? {})) as Record<string, unknown>,
  };
}

/** Each engine's part of a snapshot's metadata as one: positions and prepared output per partition and task, from whichever engine had them. */
export function mergeSnapshotParts(parts: readonly CheckpointMetadata[]): CheckpointMetadata {
  const merge = (pick: (m: CheckpointMetadata) => Record<string, unknown[]>): Record<string, unknown[]> => {
    const out: Record<string, unknown[]> = {};
    for (const part of parts) {
      for (const [uid, values] of Object.entries(pick(part))) {
        const row = (out[uid] ??= []);
        values.forEach((v, i) => {
          if (v !== undefined && v !== null && (row[i] === undefined || row[i] === null)) row[i] = v;
        });
        for (let i = row.length; i < values.length; i++) row[i] ??= null;
      }
    }
    return out;
  };
  const first = parts[0] as CheckpointMetadata;
  return {
    ...first,
    sources: merge((m) => m.sources),
    sourceMaxTimestamps: merge((m) => m.sourceMaxTimestamps) as Record<string, number[]>,
    sinks: merge((m) => m.sinks),
  };
}

/**
 * The threads' round reports, by round: a thread need not wait for the agreement on its round
 * before it reports the next one (port-peers.ts), so a round is complete when every thread's
 * report of it is in, whichever thread reported more rounds since.
 */
export function roundReports<R>(threads: number): {
  /** Adds thread `thread`'s next report; returns the reports of the earliest round once every thread's is in. */
  add(thread: number, report: R): R[] | undefined;
  /** The reports of the next complete round, if one is. */
  next(): R[] | undefined;
} {
  const queues: R[][] = Array.from({ length: threads }, () => []);
  const next = (): R[] | undefined => (queues.every((q) => q.length > 0) ? queues.map((q) => q.shift() as R) : undefined);
  return {
    add(thread, report) {
      (queues[thread] as R[]).push(report);
      return next();
    },
    next,
  };
}

/** Starts the threads of a local run. */
export function startLocalThreads(o: LocalThreadsOptions): LocalThreads {
  const n = o.threads;
  // ports[i][j]: thread i's end of the channel to thread j.
  const ports: (MessagePort | undefined)[][] = Array.from({ length: n }, () => Array<MessagePort | undefined>(n).fill(undefined));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const { port1, port2 } = new MessageChannel();
      (ports[i] as (MessagePort | undefined)[])[j] = port1;
      (ports[j] as (MessagePort | undefined)[])[i] = port2;
    }
  }
  const progress: Progress[] = [];
  const pipelines: (PipelineCounts | undefined)[] = [];
  const reports = roundReports<Extract<FromRunThread, { type: "round" }>>(n);
  const snapshotParts = new Map<string, CheckpointMetadata[]>();
  let stopRequested = false;
  // Whether the round the next agreement applies at runs in lockstep (the first rounds do), and whether the end was agreed.
  let nextInLockstep = true;
  let over = false;
  let lastCheckpoint = performance.now();
  let settled = false;
  let resolveEnded: (r: LocalThreadsResult) => void = () => {};
  const ended = new Promise<LocalThreadsResult>((resolve) => (resolveEnded = resolve));
  const done: (Extract<FromRunThread, { type: "done" }> | undefined)[] = [];

  const finish = (r: LocalThreadsResult): void => {
    if (settled) return;
    settled = true;
    if (!r.ok) for (const t of threads) void t.terminate();
    resolveEnded(r);
  };
  const send = (m: ToRunThread): void => {
    for (const t of threads) t.postMessage(m);
  };

  /**
   * Every thread reported round k: what they agreed, which each applies some rounds later, at the
   * end of the round the previous agreement set the mode of (port-peers.ts: no thread waits for
   * the others' round k). Ending, stopping or checkpointing is decided only when that round runs
   * in lockstep, so nothing is in flight where it applies; else the round after it is made a
   * lockstep round and the decision waits for the next agreement.
   */
  function agree(all: Extract<FromRunThread, { type: "round" }>[]): void {
    if (over) return;
    const sourcesDone = all.every((r) => r.sourcesDone);
    const due = o.checkpoint !== undefined && performance.now() - lastCheckpoint >= o.checkpoint.intervalMs;
    const wanted = sourcesDone || stopRequested || due;
    if (wanted && !nextInLockstep) {
      nextInLockstep = true;
      send({ type: "agreed", agreement: { moved: true, finished: false, checkpoint: false, stop: false, lockstep: true } });
      return;
    }
    const finished = sourcesDone;
    const stop = stopRequested && !finished;
    const checkpoint = o.checkpoint !== undefined && (finished || stop || due);
    if (checkpoint) lastCheckpoint = performance.now();
    over = finished || stop;
    nextInLockstep = false;
    send({ type: "agreed", agreement: { moved: all.some((r) => r.moved), finished, checkpoint, stop, lockstep: false } });
  }

  /** Every thread wrote its part of the snapshot in `dir`: write its metadata (and prune), then let them commit. */
  function complete(dir: string, parts: CheckpointMetadata[]): void {
    const meta = mergeSnapshotParts(parts);
    const writing = (async () => {
      await writeSnapshotMetadata(dir, meta);
      if (meta.kind === "checkpoint" && o.checkpoint) await pruneCheckpoints(o.checkpoint.dir, o.checkpoint.retain);
    })();
    writing.then(
      () => send({ type: "snapshotDone", dir }),
      (err: unknown) => send({ type: "snapshotFailed", dir, message: (err as Error).message, retriable: err instanceof RunnelError ? err.retriable : true }),
    );
  }

  const threads = ports.map((own, index) => {
    const peerPorts = own.filter((p): p is MessagePort => p !== undefined);
    const thread = new Thread(o.entry, {
      workerData: { ...o.data, thread: index, threads: n, ports: own },
      transferList: peerPorts,
      argv: o.argv ?? [],
    });
    thread.on("message", (m: FromRunThread) => {
      switch (m.type) {
        case "round":
          progress[index] = m.progress;
          pipelines[index] = m.pipeline;
          for (let all = reports.add(index, m); all; all = reports.next()) agree(all);
          return;
        case "snapshot": {
          const parts = snapshotParts.get(m.dir) ?? [];
          parts.push(m.part);
          snapshotParts.set(m.dir, parts);
          if (parts.length === n) {
            snapshotParts.delete(m.dir);
            complete(m.dir, parts);
          }
          return;
        }
        case "done":
          done[index] = m;
          progress[index] = m.progress;
          pipelines[index] = m.pipeline;
          if (done.filter(Boolean).length === n) finish({ ok: true, progress: mergeProgress(progress), ...optional(mergePipeline(pipelines)) });
          return;
        case "failed":
          finish({ ok: false, failure: m.failure });
      }
    });
    thread.on("error", (err: Error) =>
      finish({ ok: false, failure: { errorClass: "internal", message: `thread ${index} failed: ${err.message}`, ...(err.stack ? { stack: err.stack } : {}) } }),
    );
    thread.on("exit", (code) => {
      if (!done[index])
        finish({ ok: false, failure: { errorClass: "internal", message: `thread ${index} ended (exit code ${code}) before its engine finished` } });
    });
    return thread;
  });

  return {
    progress: () => mergeProgress(progress.filter(Boolean)),
    pipeline: () => mergePipeline(pipelines),
    stop() {
      stopRequested = true;
    },
    ended,
  };
}

function optional(p: PipelineCounts | undefined): { pipeline?: PipelineCounts } {
  return p ? { pipeline: p } : {};
}
