// `runnel worker` as a process: with no reachable broker it ends with one error line naming the
// brokers and where they came from (spec.kafka.bootstrapServers), exit 75 (transient), and no
// Kafka client noise or stack trace; a SIGTERM during startup ends it gracefully with exit 0
// instead of killing it.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../runtime/worker-contract.ts";

const MAIN = resolve(import.meta.dirname, "../../runtime/cli/main.ts");

/** A job whose only broker address refuses connections. */
function unreachableJob(): string {
  const dir = mkdtempSync(join(tmpdir(), "runnel-worker-cli-"));
  const manifest = join(dir, "job.yaml");
  writeFileSync(
    manifest,
    `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: nobroker }
spec:
  parallelism: 1
  kafka: { bootstrapServers: ["127.0.0.1:1"] }
  pipeline:
    sources:
      - id: clicks
        kafka: { topic: clicks, partitions: 1 }
    sinks:
      - id: out
        input: clicks
        kafka: { topic: out }
`,
  );
  return manifest;
}

interface Run {
  code: Promise<number | null>;
  stderr: () => string;
  lines: () => Record<string, unknown>[];
  signal(name: NodeJS.Signals): void;
}

function startWorker(manifest: string): Run {
  const child = spawn(process.execPath, [MAIN, "worker", "--job", manifest, "--ordinal", "0", "--state-dir", join(manifest, "..", "state")], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUNNEL_LOG_FORMAT: "json", RUNNEL_LOG_LEVEL: "info" },
  });
  let err = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
  child.stdout.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const code = new Promise<number | null>((res) => child.once("exit", (c) => res(c)));
  const lines = (): Record<string, unknown>[] =>
    err
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stderr: () => err, lines, signal: (s) => void child.kill(s) };
}

async function until(what: string, check: () => boolean, run: Run): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`no ${what}:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("runnel worker process failures", () => {
  it("no reachable broker: one line naming the brokers and spec.kafka.bootstrapServers, exit 75, no stack trace", async () => {
    const run = startWorker(unreachableJob());
    expect(await run.code, run.stderr()).toBe(EXIT_CODES.transient);
    const lines = run.lines(); // every line is a JSON log line: nothing unstructured, no stack trace
    const errors = lines.filter((l) => l.level === "error" || l.level === "warn");
    expect(errors, run.stderr()).toHaveLength(1);
    expect(errors[0]).toMatchObject({ logger: "worker", errorClass: "transient", exitCode: 75 });
    expect(errors[0]?.msg).toMatch(
      /^cannot reach the Kafka brokers 127\.0\.0\.1:1 \(from spec\.kafka\.bootstrapServers\): .*ECONNREFUSED.*; check the addresses/,
    );
    expect(run.stderr()).not.toMatch(/\bat .+:\d+:\d+\)?/);
  });

  it("SIGTERM during startup ends the worker gracefully: exit 0, a line saying nothing ran", async () => {
    const run = startWorker(unreachableJob());
    await until("connecting line", () => run.stderr().includes("connecting to Kafka"), run);
    run.signal("SIGTERM");
    expect(await run.code, run.stderr()).toBe(EXIT_CODES.ok);
    const msgs = run.lines().map((l) => l.msg);
    expect(msgs).toContain("SIGTERM: stopping during startup");
    expect(msgs).toContain("stopped during startup; nothing ran");
    expect(run.lines().filter((l) => l.level === "error")).toEqual([]);
  });
});
