/**
 * A `runnel worker` process for the latency benchmarks: the job runs in its own process, as on a
 * cluster, so the benchmark's generator and reader do not share its thread.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

/** A running worker and its log. */
export interface WorkerProcess {
  /** Waits until the worker has logged a line matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<void>;
  /** Stops it (SIGTERM) and waits for its exit. */
  stop(): Promise<void>;
}

/** Starts ordinal 0 of one worker running `manifest`, its state under `dir`, its JSON log in `dir`/worker.log. */
export function startWorker(manifest: string, dir: string): WorkerProcess {
  const log = join(dir, "worker.log");
  const args = [join(ROOT, "runtime", "cli", "main.ts"), "worker", "--job", manifest, "--ordinal", "0", "--workers", "1", "--namespace", "bench"];
  const child = spawn(process.execPath, [...args, "--state-dir", join(dir, "state")], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, RUNNEL_LOG_FORMAT: "json" },
  });
  let text = "";
  child.stderr.on("data", (d: Buffer) => {
    text += d.toString();
    writeFileSync(log, text);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    async waitForLog(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the worker did not log ${String(pattern)}:\n${text.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The p-th percentile of ascending `sorted` (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
