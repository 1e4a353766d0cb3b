/**
 * What every `runnel worker` run shares, on the main thread or on one of its threads: how a
 * failure is logged and turned into an exit code, and the progress line every 10 s.
 */
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
