/**
 * One thread of a `runnel worker` that runs on several threads (distributed/threads/pool.ts):
 * runs its virtual worker as the worker command runs a whole one, answers the main thread's
 * admin questions from its own metrics, status and savepoints, and ends the thread with the exit
 * code of how its worker ended. Log lines are written synchronously, so none is lost when the
 * thread ends.
 */
import { writeSync } from "node:fs";
import type { MessagePort } from "node:worker_threads";
import type { Worker } from "../distributed/worker.ts";
import type { ThreadData, ThreadOp, ToThread, FromThread } from "../distributed/threads/protocol.ts";
import { RunnelError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { SavepointRequestError } from "../observe/savepoint-control.ts";
import { runToEnd, startWorker } from "./worker-lifecycle.ts";
import { workerAdminSource, type WorkerAdminSource } from "./worker-admin.ts";

/** Answers one admin question with the thread's own part. */
async function answer(admin: WorkerAdminSource, w: Worker, op: ThreadOp, arg: string | undefined): Promise<unknown> {
  switch (op) {
    case "metrics":
      return admin.registry.getMetricsAsJSON();
    case "status":
      return admin.status();
    case "progress":
      return w.engine.progress();
    case "ready":
      return admin.ready();
    case "trigger":
      return w.savepoints.trigger(arg);
    case "stopWithSavepoint":
      return w.savepoints.stopWithSavepoint(arg);
    case "savepointStatus":
      return w.savepoints.status(arg ?? "");
  }
}

/** Runs the thread's worker; resolves to its exit code (thread-entry.ts starts it). */
export async function runThread(data: ThreadData, port: MessagePort): Promise<number> {
  const log = createLogger("worker", {}, { ...data.log, write: (line) => writeSync(2, `${line}\n`) }).child({
    namespace: data.options.namespace,
    thread: data.thread,
  });
  const post = (m: FromThread): void => port.postMessage(m);
  const startup = new AbortController();
  // Set once the worker started: what the main thread's questions are answered from.
  const live: { w?: Worker; admin?: WorkerAdminSource } = {};
  port.on("message", (m: ToThread) => {
    if (m.type === "stop") {
      if (live.w) live.w.stop();
      else startup.abort(new RunnelError("stopped during startup", false, { errorClass: "transient" }));
      return;
    }
    const { w, admin } = live;
    if (!w || !admin) return post({ type: "reply", id: m.id, ok: false, message: "the thread's worker is still starting" });
    answer(admin, w, m.op, m.arg).then(
      (value) => post({ type: "reply", id: m.id, ok: true, value }),
      (err: unknown) =>
        post({
          type: "reply",
          id: m.id,
          ok: false,
          message: err instanceof Error ? err.message : String(err),
          ...(err instanceof SavepointRequestError ? { httpStatus: err.status } : {}),
        }),
    );
  });
  const running = await startWorker(data.options, log, startup.signal);
  if (typeof running === "number") return running;
  const admin = workerAdminSource(running, { brokers: data.brokers, processMetrics: false });
  live.w = running;
  live.admin = admin;
  const runLog = log.child({ job: running.job.metadata?.name ?? "job", generation: running.generation });
  runLog.info(`thread ${data.thread} of ${data.threads}: tasks ${running.tasks.join(",")} of ${running.plan.parallelism}`, { tasks: running.tasks.join(",") });
  post({
    type: "started",
    tasks: running.tasks,
    generation: running.generation,
    parallelism: running.plan.parallelism,
    job: running.job.metadata?.name ?? "job",
  });
  try {
    return await runToEnd(running, runLog, startup.signal.aborted);
  } finally {
    await admin.close();
  }
}
