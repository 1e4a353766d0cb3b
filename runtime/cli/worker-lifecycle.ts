/**
 * What every `runnel worker` run shares, on the main thread or on one of its threads: how a
 * failure is logged and turned into an exit code, the progress line every 10 s, and running a
 * started worker to its end.
 */
import { createWorker, type Worker, type WorkerOptions } from "../distributed/worker.ts";
import { GenerationSealedError } from "../errors.ts";
import type { Engine } from "../exec/engine.ts";
import type { Logger } from "../log.ts";
import { EXIT_CODES } from "../worker-contract.ts";
import { formatWatermark } from "./args.ts";
import { describeFailure } from "./failure.ts";

/** Logs a failure as one line with its class and returns its exit code (a sealed generation is a clean stop: 0). */
export function ended(log: Logger, err: unknown): number {
  if (err instanceof GenerationSealedError) {
    log.info(err.message, { generation: err.generation, savepoint: err.savepoint.id });
    return EXIT_CODES.ok;
  }
  const f = describeFailure(err);
  const help = f.errorClass === "usage" ? "; see `runnel worker --help`" : "";
  log.error(`${f.message}${help}`, { errorClass: f.errorClass, exitCode: f.exitCode });
  if (err instanceof Error && err.stack) log.debug(err.stack);
  return f.exitCode;
}

/** Logs the engine's progress (records, rate, watermark, checkpoints, state) every `everyMs`; returns what stops it. */
export function logProgress(engine: Engine, log: Logger, everyMs = 10_000): () => void {
  let lastIn = 0;
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const p = engine.progress();
    const now = performance.now();
    const rate = Math.round(((p.recordsIn - lastIn) * 1000) / Math.max(1, now - lastAt));
    log.info("progress", {
      recordsIn: p.recordsIn,
      perSecond: rate,
      recordsOut: p.recordsOut,
      watermark: formatWatermark(p.watermark),
      checkpoints: p.checkpoints,
      state: p.stateSize,
    });
    lastIn = p.recordsIn;
    lastAt = now;
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * Runs a started worker to its end with the progress line on (stopping it at once if a stop came
 * while it started); logs how it ended and returns the exit code.
 */
export async function runToEnd(running: Worker, log: Logger, stopRequested: boolean): Promise<number> {
  const stopProgress = logProgress(running.engine, log);
  // A stop that arrived while startup finished: stop right after restoring (a final checkpoint, nothing read).
  if (stopRequested) running.stop();
  try {
    const p = await running.run();
    log.info(`stopped: ${p.recordsIn} records in, ${p.recordsOut} out, ${p.checkpoints} checkpoints (last ${p.lastCheckpoint})`);
    return EXIT_CODES.ok;
  } catch (err) {
    return ended(log, err);
  } finally {
    stopProgress();
  }
}

/** Creates the worker; the exit code instead when startup failed, or 0 when a stop aborted it. */
export async function startWorker(options: WorkerOptions, log: Logger, startup: AbortSignal): Promise<Worker | number> {
  try {
    return await createWorker({ ...options, signal: startup, log });
  } catch (err) {
    if (startup.aborted) {
      log.info("stopped during startup; nothing ran");
      return EXIT_CODES.ok;
    }
    return ended(log, err);
  }
}
