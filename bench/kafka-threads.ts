/**
 * A Runnel job of the Kafka benchmark on a worker that runs its tasks on several threads (ADR 33),
 * in this process as `runnel worker --threads N` runs it: thread t is worker t of N to the job.
 * Timed like the one-thread rows, from the first record read to the end — here the moment every
 * thread has ended, so its shutdown (closing each thread's clients) counts against it.
 */
import { startWorkerThreads } from "../runtime/distributed/threads/pool.ts";
import type { Delivery } from "../runtime/distributed/transactions.ts";
import { createLogger } from "../runtime/log.ts";
import { threadEntry } from "../runtime/cli/thread-entry.ts";
import type { JobProgress, KafkaBenchRow } from "./kafka.ts";

/** Each thread starts as `runnel worker --threads` starts it (ADR 37). */
const ENTRY = threadEntry(new URL("../runtime/cli/worker-thread.ts", import.meta.url));

/** Runs the job in `manifest` on `threads` threads until `done` says so, then stops it (final checkpoints) and times it. */
export async function threadedJob(o: {
  label: string;
  manifest: string;
  stateDir: string;
  threads: number;
  delivery: Delivery;
  checkpointIntervalMs: number;
  /** Whether the job is through its input, from the threads' counters and lowest watermark. */
  done: (p: JobProgress) => boolean;
  /** Input records (the rate's numerator). */
  events: number;
  /** The job also writes a repartition topic: its output is counted when read back (checkOutput), not here. */
  repartitioned: boolean;
}): Promise<KafkaBenchRow> {
  const t0 = performance.now();
  const starting = startWorkerThreads({
    ...ENTRY,
    options: {
      manifest: o.manifest,
      ordinal: 0,
      workers: 1,
      namespace: "bench",
      stateDir: o.stateDir,
      delivery: o.delivery,
      checkpointIntervalMs: o.checkpointIntervalMs,
    },
    threads: o.threads,
    brokers: [],
    logOptions: { level: "warn" },
    log: createLogger("bench", {}, { level: "warn" }),
  });
  const started = await starting.started;
  if (typeof started === "number") throw new Error(`the threaded worker ended with exit code ${started} before it started`);
  let first = 0;
  let last = { recordsIn: 0, recordsOut: 0, checkpoints: 0, watermark: Number.NEGATIVE_INFINITY };
  let stopping = false;
  // Asks the threads for their counters every 5 ms (a message round trip; the threads run on their own).
  const poll = (async () => {
    while (!stopping) {
      last = await started.progress().catch(() => last);
      if (first === 0 && last.recordsIn > 0) first = performance.now();
      if (o.done(last)) {
        stopping = true;
        started.stop();
      } else await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const code = await started.exited;
  const end = performance.now();
  stopping = true;
  await poll;
  if (code !== 0) throw new Error(`the threaded worker ended with exit code ${code}`);
  const seconds = (end - first) / 1000;
  return {
    name: o.label,
    rate: o.events / seconds,
    seconds,
    startupSeconds: (first - t0) / 1000,
    shutdownSeconds: 0,
    out: o.repartitioned ? 0 : last.recordsOut,
    commits: last.checkpoints,
  };
}
