/**
 * One thread of `runnel run --threads n` (ADR 36; exec/threads/coordinator.ts starts it at
 * thread-entry.ts): loads the job as the main thread did, runs an engine for tasks t with
 * t mod n = its index, round by round with the other threads' engines over its peer ports, and
 * reports its end (or its failure, as the command would print it) to the main thread.
 */
import type { MessagePort } from "node:worker_threads";
import { replicatedNodes } from "../distributed/plan.ts";
import { taskCount } from "../graph/graph.ts";
import { createEngine, type EngineOptions } from "../exec/engine.ts";
import type { FromRunThread, PipelineCounts } from "../exec/threads/protocol.ts";
import { portPeers, type ControlPort } from "../exec/threads/port-peers.ts";
import type { PipelineMetrics } from "../pipeline/context.ts";
import { plain } from "../pipeline/values.ts";
import { describeFailure } from "./failure.ts";
import { loadJob, type ManifestRunOptions } from "./load-job.ts";

/** What the main thread starts a thread with. */
export interface RunThreadData extends RunThreadStart {
  thread: number;
  threads: number;
  ports: (MessagePort | undefined)[];
}

/** What every thread of a run starts with alike (the job and the engine options). */
export interface RunThreadStart {
  path: string;
  jobArgs: string[];
  manifest: ManifestRunOptions;
  engine: Omit<EngineOptions, "graph" | "tasks" | "replicatedNodes" | "peers" | "clock">;
}

/** The pipeline's counters as the main thread merges them. */
function counts(m: PipelineMetrics | undefined, samples: boolean): { pipeline?: PipelineCounts } {
  if (!m) return {};
  // Posting the report clones the maps: no copy of them here.
  const pipeline: PipelineCounts = { deadLetters: m.deadLetters, dropped: m.dropped };
  if (samples) pipeline.deadLetterSamples = Object.fromEntries(Object.entries(m.deadLetterSamples).map(([k, v]) => [k, plain(v)]));
  return { pipeline };
}

/** Runs this thread's engine to its end, reporting it (or its failure) to the main thread. */
export async function runThread(data: RunThreadData, control: ControlPort): Promise<void> {
  const post = (m: FromRunThread): void => control.postMessage(m);
  try {
    const loaded = await loadJob(data.path, data.jobArgs, data.manifest);
    const { graph } = loaded;
    const replicated = replicatedNodes(graph);
    const parallelism = taskCount(graph);
    const all = Array.from({ length: parallelism }, (_, t) => t);
    const tasks = all.filter((t) => t % data.threads === data.thread);
    const st = data.engine.state;
    const engine = createEngine({
      ...data.engine,
      graph,
      tasks,
      replicatedNodes: replicated,
      // The other threads' stores are theirs.
      ...(st?.kind === "level" ? { state: { ...st, keepTasks: all } } : {}),
      peers: portPeers({
        thread: data.thread,
        ports: data.ports,
        ownerOf: (task) => task % data.threads,
        replicated,
        control,
        roundExtras: () => ({ progress: engine.progress(), ...counts(loaded.metrics, false) }),
      }),
    });
    const progress = await engine.run();
    post({ type: "done", progress, ...counts(loaded.metrics, true) });
    // Nothing more comes over the ports: let the thread end.
    for (const p of data.ports) p?.close();
    (control as unknown as { unref(): void }).unref();
  } catch (err) {
    const f = describeFailure(err);
    post({ type: "failed", failure: { errorClass: f.errorClass, message: f.message, ...(err instanceof Error && err.stack ? { stack: err.stack } : {}) } });
  }
}
