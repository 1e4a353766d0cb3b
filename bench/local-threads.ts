/**
 * A local run on threads (ADR 36): Nexmark q5 as `runnel run --threads T` runs it, as a child
 * process, over the same two source partitions for every T, its results written to files and
 * checked against the plain-JS reference after each run. Events/s are the run's own (its summary
 * line: from start, threads' start-up included, to the last record).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Digest, NORMALISE, referenceDigest } from "./nexmark/reference.ts";
import { spreadOf, type Spread } from "./spread.ts";

/** One thread count's runs. */
export interface LocalThreadsRow {
  threads: number;
  rate: Spread;
  /** Every run's results equal the reference. */
  checked: boolean;
}

const MAIN = new URL("../runtime/cli/main.ts", import.meta.url).pathname;
const JOB = new URL("./nexmark/q5-file-job.ts", import.meta.url).pathname;

/** Runs `runnel run` once; returns its events/s. */
async function runOnce(threads: number, events: number, out: string): Promise<number> {
  const child = spawn(process.execPath, [MAIN, "run", JOB, "--no-progress", "--threads", String(threads), "--", String(events), "2", out], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const m = /records in \(([\d,]+)\/s\)/.exec(stderr);
  if (code !== 0 || !m) throw new Error(`runnel run --threads ${threads} failed (exit ${code}): ${stderr}`);
  return Number((m[1] as string).replaceAll(",", ""));
}

/** The digest of the q5 results in `dir`'s ndjson files. */
async function digestOf(dir: string): Promise<Digest> {
  const d = new Digest();
  for (const f of await readdir(dir)) {
    if (!f.endsWith(".ndjson")) continue;
    for (const line of (await readFile(join(dir, f), "utf8")).split("\n")) if (line) d.add((NORMALISE.q5 as (r: unknown) => unknown)(JSON.parse(line)));
  }
  return d;
}

/** `runs` runs of q5 over `events` events on each thread count, alternating. */
export async function localThreadsBench(options: { events: number; runs: number; threads: number[] }): Promise<LocalThreadsRow[]> {
  const reference = referenceDigest("q5", options.events);
  const rates = new Map(options.threads.map((t) => [t, [] as number[]]));
  const checked = new Map(options.threads.map((t) => [t, true]));
  for (let r = 0; r < options.runs; r++) {
    for (const t of options.threads) {
      const out = await mkdtemp(join(tmpdir(), "runnel-bench-threads-"));
      try {
        rates.get(t)?.push(await runOnce(t, options.events, out));
        if (!(await digestOf(out)).equals(reference)) checked.set(t, false);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    }
  }
  return options.threads.map((t) => ({ threads: t, rate: spreadOf(rates.get(t) ?? []), checked: checked.get(t) === true }));
}
