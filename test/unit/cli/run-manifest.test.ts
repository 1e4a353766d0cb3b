// `runnel run <streamjob.yaml>`: the manifest runs locally from its `local` sources, sinks write
// ndjson per sink id with --out, the summary counts dead letters, and bad input is refused with
// the field path — never a stack trace.
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../../runtime/cli/main.ts";
import { EXIT_CODES } from "../../../runtime/worker-contract.ts";
import { QUICKSTART } from "../../../runtime/cli/start.ts";
import { repoRoot } from "../../env/lib/layout.ts";
import { captureOutput } from "../../helpers/capture.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-run-manifest-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const capture = captureOutput;

async function ndjson(file: string): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8"))
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("runnel run <manifest>", () => {
  it("runs the quickstart manifest: windows per region, rule flags, dead letters with their reason", async () => {
    const io = capture();
    const code = await main(["run", QUICKSTART, "--max-records", "20000", "--no-throttle", "--no-progress", "--out", dir]);
    expect(code, io.err()).toBe(0);
    const files = await readdir(join(dir, "dead-letters"));
    const dead = (await Promise.all(files.map((f) => ndjson(join(dir, "dead-letters", f))))).flat();
    expect(dead.length).toBeGreaterThan(0);
    expect(dead.every((d) => d.reason === "non_positive_amount" && (d.record as { amount: number }).amount <= 0)).toBe(true);
    // Results go to stdout (the stdout sink), one per region and 5-second window.
    const results = io
      .out()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { key: string; windowEnd: number; orders: number; rule?: string });
    expect(new Set(results.map((r) => r.key))).toEqual(new Set(["eu", "us", "apac"]));
    expect(results.every((r) => r.windowEnd % 5000 === 0)).toBe(true);
    expect(results.some((r) => r.rule === "hot-region")).toBe(true);
    // Every valid order is counted in exactly one window.
    expect(results.reduce((n, r) => n + r.orders, 0) + dead.length).toBe(20_000);
    expect(io.err()).toMatch(new RegExp(`dead letters ${dead.length} \\(valid/non_positive_amount ${dead.length}\\)`));
  });

  it("npm start shows what it is about: results on stdout, dead letters counted and summarised with a sample of each reason", async () => {
    const io = capture();
    const code = await main(["start", "--max-records", "20000", "--no-throttle", "--no-progress"]);
    expect(code, io.err()).toBe(0);
    const lines = io
      .out()
      .split("\n")
      .filter((l) => l.length > 0);
    // Only results: every printed line is a window, none a dead letter.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !l.includes('"windowStart"'))).toEqual([]);
    const counted = /dead letters (\d+) \(valid\/non_positive_amount (\d+)\)/.exec(io.err());
    expect(Number(counted?.[1])).toBeGreaterThan(0);
    const sample = /^ {2}valid\/non_positive_amount: (\{.*\})$/m.exec(io.err());
    expect(sample, io.err()).not.toBeNull();
    expect(JSON.parse(sample?.[1] ?? "{}")).toMatchObject({ step: "valid", reason: "non_positive_amount", record: { amount: expect.any(Number) as unknown } });
    expect((JSON.parse(sample?.[1] ?? "{}") as { record: { amount: number } }).record.amount).toBeLessThanOrEqual(0);
  });

  it("counts a broadcast stream's records once on threads, where every thread reads it", () => {
    // The quickstart's rules are a broadcast stream: each thread reads all of them, one counts them.
    const recordsIn = (threads: number): number => {
      const args = [
        "run",
        QUICKSTART,
        "--max-records",
        "2000",
        "--no-throttle",
        "--no-progress",
        "--out",
        join(dir, `t${threads}`),
        "--threads",
        String(threads),
      ];
      const r = spawnSync(process.execPath, [join(repoRoot, "runtime/cli/main.ts"), ...args], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const n = /([\d,]+) records in/.exec(r.stderr)?.[1];
      expect(n, r.stderr).toBeDefined();
      return Number(n?.replaceAll(",", ""));
    };
    const one = recordsIn(1);
    expect(one).toBeGreaterThan(2000); // the orders and the rules
    expect(recordsIn(2)).toBe(one);
  });

  it("refuses an invalid manifest in one line with the field path and a hint, exit 78 (configuration)", async () => {
    const io = capture();
    const code = await main(["run", join(repoRoot, "test/fixtures/streamjobs/invalid-graph/cel-declared-field-typo.yaml"), "--no-progress"]);
    expect(code).toBe(EXIT_CODES.configuration);
    expect(io.err().trim().split("\n")).toHaveLength(1);
    expect(io.err()).toContain(".spec.pipeline.steps[0].filter.condition: no field amont");
    expect(io.err()).toContain("did you mean amount?");
    expect(io.err()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });

  it("names a bad --max-records in one line pointing at --help, exit 2", async () => {
    const io = capture();
    expect(await main(["run", QUICKSTART, "--max-records", "lots"])).toBe(2);
    expect(io.err()).toBe("runnel run: --max-records must be a positive integer, got 'lots'; see `runnel run --help`");
  });

  it("runs a module job (spec.module) with its config: the escape hatch to the typed API", async () => {
    const io = capture();
    const code = await main(["run", join(repoRoot, "test/fixtures/streamjobs/module/top-pages.yaml"), "--no-progress"]);
    expect(code, io.err()).toBe(0);
    // config.minViews = 2 keeps pages a (3 views) and b (2), drops c (1).
    expect(
      io
        .out()
        .split("\n")
        .filter((l) => /^[abc] \d$/.test(l))
        .sort(),
    ).toEqual(["a 3", "b 2"]);
  });

  it("serves live metrics with --admin, and ends cleanly with a summary on Ctrl-C (SIGINT)", async () => {
    const child = spawn(process.execPath, [join(repoRoot, "runtime/cli/main.ts"), "start", "--admin", "127.0.0.1:0", "--no-progress"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 90_000;
      let url: string | undefined;
      while (!(url = /admin API on (http:\/\/\S+)/.exec(stderr)?.[1])) {
        if (Date.now() > deadline) throw new Error(`no admin URL; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      let records = 0;
      while (records < 1000) {
        if (Date.now() > deadline) throw new Error(`no records counted; stderr: ${stderr}`);
        const body = await (await fetch(`${url}/metrics`)).text();
        records = Number(/runnel_records_in_total\{job="quickstart-orders"\} (\d+)/.exec(body)?.[1] ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/quickstart-orders stopped after [\d.]+ s: [\d,]+ records in .*dead letters \d+/);
  });

  it("refuses a restore whose window changed, and drops that step's state with --drop-incompatible-state or spec.dropIncompatibleState", async () => {
    await writeFile(join(dir, "in.ndjson"), [1, 2, 3].map((i) => JSON.stringify({ user: "a", ts: i * 1000, n: i })).join("\n") + "\n");
    const manifest = async (file: string, size: string, drop = ""): Promise<string> => {
      const path = join(dir, file);
      await writeFile(
        path,
        `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: sizes }
spec:
${drop}  pipeline:
    sources:
      - { id: clicks, local: { file: { path: in.ndjson } }, timestamp: { field: ts } }
    steps:
      - { id: by-user, input: clicks, keyBy: { key: record.user } }
      - { id: w, input: by-user, window: { type: tumbling, size: ${size}, aggregations: [{ name: total, fn: sum, of: record.n }] } }
    sinks:
      - { id: out, input: w, blackhole: {} }
`,
      );
      return path;
    };
    const ckpt = join(dir, "ckpt");
    const first = capture();
    expect(await main(["run", await manifest("v1.yaml", "1m"), "--checkpoint-dir", ckpt, "--no-progress"]), first.err()).toBe(0);
    const wider = await manifest("v2.yaml", "2m");
    const refused = capture();
    expect(await main(["run", wider, "--checkpoint-dir", ckpt, "--restore", "latest", "--no-progress"])).toBe(EXIT_CODES.configuration);
    expect(refused.err()).toContain("cannot restore the state of step 'w': its window changed from tumbling 1m to tumbling 2m");
    const dropped = capture();
    expect(await main(["run", wider, "--checkpoint-dir", ckpt, "--restore", "latest", "--no-progress", "--drop-incompatible-state", "w"]), dropped.err()).toBe(
      0,
    );
    const bySpec = capture();
    const v3 = await manifest("v3.yaml", "3m", "  dropIncompatibleState: [w]\n");
    expect(await main(["run", v3, "--checkpoint-dir", ckpt, "--restore", "latest", "--no-progress"]), bySpec.err()).toBe(0);
    const usage = capture();
    expect(await main(["run", wider, "--drop-incompatible-state", "w,", "--no-progress"])).toBe(2);
    expect(usage.err()).toContain("--drop-incompatible-state takes step ids separated by commas");
  });
});
