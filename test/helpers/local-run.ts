/** Helpers for crash tests of local mode: run `runnel run` as a real process, kill -9 it, read output. */
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { completedCheckpoints } from "../../runtime/checkpoint/format.ts";
import { repoRoot } from "../env/lib/layout.ts";

/** Every line of every committed (published) ndjson file in `dir`, sorted. */
export async function committedLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const f of (await readdir(dir)).sort()) {
    if (!f.endsWith(".ndjson")) continue;
    lines.push(...(await readFile(join(dir, f), "utf8")).split("\n").filter((l) => l.length > 0));
  }
  return lines.sort();
}

/**
 * Starts `runnel run <module> <runArgs…> -- <jobArgs…>` with checkpoints in `checkpointDir`,
 * waits until `checkpoints` of them completed, then kills the process with SIGKILL (no chance to
 * flush, close or checkpoint). Fails if the job ended on its own or took too long.
 */
export async function runThenKill(options: {
  module: string;
  checkpointDir: string;
  runArgs?: string[];
  jobArgs?: string[];
  checkpoints?: number;
  timeoutMs?: number;
}): Promise<void> {
  const main = join(repoRoot, "runtime", "cli", "main.ts");
  const args = [
    main,
    "run",
    options.module,
    "--checkpoint-dir",
    options.checkpointDir,
    "--no-progress",
    ...(options.runArgs ?? []),
    "--",
    ...(options.jobArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  try {
    while ((await completedCheckpoints(options.checkpointDir)).length < (options.checkpoints ?? 2)) {
      if (child.exitCode !== null) throw new Error(`runnel run ended (exit ${child.exitCode}) before it was killed; stderr: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`no checkpoints in time; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.kill("SIGKILL");
  }
  if ((await exited) !== null) throw new Error(`runnel run finished before the kill; stderr: ${stderr}`);
}
