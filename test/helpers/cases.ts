/**
 * The three case systems as tests run them: their generators and `runnel run` as real processes,
 * each example copied with its data into a fresh folder, or pointed at fresh topics and Redis keys
 * of the test environment, and their independent verifiers.
 */
import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compareBag, formatReport, passed, type Report } from "../../examples/common/compare.ts";
import { kafkaClient } from "../../examples/common/kafka.ts";
import { readManifest, sinkTarget, withValues, type ManifestValues } from "../../examples/common/manifest.ts";
import { readOutput } from "../../examples/common/records.ts";
import { expect } from "vitest";
import { readCommittedWithJava } from "./java-consumer.ts";
import type { VerifyContext } from "../../examples/common/verify-cli.ts";
import { verifyAnalytics, verifyLtv } from "../../examples/analytics/verify.ts";
import { verifyRecommendation } from "../../examples/recommendation/verify.ts";
import { verifyRisk } from "../../examples/risk-control/verify.ts";
import { testEnv } from "./env.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const MAIN = join(ROOT, "runtime", "cli", "main.ts");

/** One case system: its folder, manifest, verifier and the outputs worth a Java read_committed check. */
export interface CaseSystem {
  name: "analytics" | "recommendation" | "risk-control";
  dir: string;
  verify: (ctx: VerifyContext) => Promise<Report>;
  /** Kafka output topics (before prefixing) the job writes. */
  outputs: string[];
}

/** The three systems. */
export const CASES: Record<CaseSystem["name"], CaseSystem> = {
  analytics: {
    name: "analytics",
    dir: join(ROOT, "examples", "analytics"),
    verify: verifyAnalytics,
    outputs: ["metrics-per-minute", "late-events", "user-profiles", "sessions", "ml-features", "metrics-5s", "analytics-dead-letter"],
  },
  recommendation: {
    name: "recommendation",
    dir: join(ROOT, "examples", "recommendation"),
    verify: verifyRecommendation,
    outputs: ["recommendations", "user-profiles", "recommendation-dead-letter"],
  },
  "risk-control": {
    name: "risk-control",
    dir: join(ROOT, "examples", "risk-control"),
    verify: (ctx) => verifyRisk(ctx),
    outputs: ["risk-decisions", "risk-alerts", "risk-dead-letter"],
  },
};

/** The LTV query of the analytics example. */
export const verifyAnalyticsLtv = verifyLtv;

/** Runs a Node script to its end; rejects with its output when it fails. */
export function runScript(script: string, args: string[], timeoutMs = 300_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res({ stdout, stderr });
      else rej(new Error(`${script} ${args.join(" ")} exited ${code ?? signal}:\n${stderr.slice(-3000)}`));
    });
  });
}

/** Runs a system's generator with `args`. */
export function generate(system: CaseSystem, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return runScript(join(system.dir, "generator.ts"), args);
}

/** Runs the runnel CLI to its end (exit 0 or a rejection with its stderr). */
export function runnel(args: string[], timeoutMs = 600_000): Promise<{ stdout: string; stderr: string }> {
  return runScript(MAIN, args, timeoutMs);
}

/** A local copy of an example: its manifests in a fresh folder, the generator writing to `data/`, outputs to `out/`. */
export interface LocalCopy {
  dir: string;
  data: string;
  out: string;
  checkpoints: string;
  manifest(file?: string): string;
}

/** Copies the example's manifests into a fresh folder (their `local` sections read `data/`). */
export function localCopy(system: CaseSystem): LocalCopy {
  const dir = mkdtempSync(join(tmpdir(), `runnel-${system.name}-`));
  for (const f of ["job.yaml", "ltv.yaml"]) {
    try {
      cpSync(join(system.dir, f), join(dir, f));
    } catch {
      // not every example has an ltv.yaml
    }
  }
  return { dir, data: join(dir, "data"), out: join(dir, "out"), checkpoints: join(dir, "checkpoints"), manifest: (file = "job.yaml") => join(dir, file) };
}

/** The verification context of a local run. */
export function filesContext(copy: LocalCopy, file = "job.yaml", out = copy.out): VerifyContext {
  return { job: readManifest(copy.manifest(file)), loc: { kind: "files", inputDir: copy.data, outputDir: out } };
}

/** Fails with the verifier's report unless everything matched. */
export function expectPassed(report: Report, what: string): void {
  if (!passed(report)) throw new Error(`${what}: the job's output differs from the independently computed result\n${formatReport(report, 8)}`);
}

/** Verifies until it passes (the job catching up) or the deadline; returns the last report. */
export async function verifyUntil(verify: () => Promise<Report>, timeoutMs: number): Promise<Report> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await verify();
    // Results may still be missing or counts still growing; an unexpected or duplicated result is final.
    const final = report.problems.length > 0 || report.checks.some((c) => c.unexpected.length + c.duplicates.length > 0);
    if (passed(report) || final || Date.now() > deadline) return report;
    await new Promise((r) => setTimeout(r, 3000));
  }
}

/** An example pointed at fresh topics (`<name>.` prefix) and Redis keys (`<name>:`) of the test environment. */
export interface KafkaCopy {
  name: string;
  dir: string;
  manifestPath: string;
  topicPrefix: string;
  redisPrefix: string;
  redisAddress: string;
  brokers: string[];
  ctx: VerifyContext;
  /** Closes the verifier's Redis connection. */
  close(): Promise<void>;
}

/** Writes the example's manifest with the test environment's values into a fresh folder. */
export function kafkaCopy(system: CaseSystem, name: string, values: ManifestValues = {}, file = "job.yaml"): KafkaCopy {
  const env = testEnv();
  const dir = mkdtempSync(join(tmpdir(), `runnel-${system.name}-k-`));
  const redisAddress = new URL(env.redisUrl).host;
  const topicPrefix = `${name}.`;
  const redisPrefix = `${name}:`;
  const text = withValues(readManifest(join(system.dir, file)), {
    name,
    brokers: env.kafkaBrokers,
    topicPrefix,
    redisAddress,
    redisPrefix,
    parallelism: 4,
    partitions: 4,
    checkpointInterval: "500ms",
    savepointPath: join(dir, "savepoints"),
    ...values,
  });
  const manifestPath = join(dir, file);
  writeFileSync(manifestPath, text);
  const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 2 });
  return {
    name,
    dir,
    manifestPath,
    topicPrefix,
    redisPrefix,
    redisAddress,
    brokers: env.kafkaBrokers,
    ctx: { job: readManifest(manifestPath), loc: { kind: "kafka", kafka: kafkaClient(env.kafkaBrokers, `verify-${name}`), topicPrefix: "" }, redis },
    close: async () => {
      await redis.quit().catch(() => undefined);
    },
  };
}

/** Input sizes on Kafka for the generators: more than an hour of event time, in a few thousand records. */
export const KAFKA_INPUT: Record<CaseSystem["name"], string[]> = {
  analytics: ["--count", "6000", "--events-per-second", "1.2", "--history", "0"],
  recommendation: ["--count", "8000", "--events-per-second", "1.5"],
  "risk-control": ["--count", "5000", "--events-per-second", "1.2", "--takeovers-per-hour", "20"],
};

/** Each system's main output (a sink id), checked a second time with Kafka's Java consumer. */
export const JAVA_CHECKED_OUTPUT: Record<CaseSystem["name"], string> = {
  analytics: "ml-features",
  recommendation: "kafka-recs",
  "risk-control": "decisions-out",
};

/** The system's main output read by Kafka's Java consumer in read_committed equals Runnel's own committed read of it. */
export async function expectJavaAgrees(system: CaseSystem, ctx: VerifyContext): Promise<void> {
  const sink = sinkTarget(ctx.job, JAVA_CHECKED_OUTPUT[system.name]);
  const ours = (await readOutput(ctx.loc, sink)).map((r) => r.value);
  const java = (await readCommittedWithJava(sink.topic as string)).map((r) => JSON.parse(r.value) as unknown);
  const check = compareBag(`${sink.id} (Java read_committed)`, ours, java);
  expect(ours.length).toBeGreaterThan(0);
  expect({ missing: check.missing.slice(0, 3), unexpected: check.unexpected.slice(0, 3), duplicates: check.duplicates.slice(0, 3) }).toEqual({
    missing: [],
    unexpected: [],
    duplicates: [],
  });
}

/**
 * A case-system chart's values for an install on the test environment: the test image, its broker
 * and Redis, topics prefixed `<release>.` and keys `<release>:`, exactly once with 1 s checkpoints,
 * savepoints on the claim `savepoints`, no live generator, and no watermark idleness (input comes
 * in batches with gaps: the first partition of a batch must not make the others' records late).
 */
export function caseChartValues(system: CaseSystem, release: string, workers: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const env = testEnv();
  return {
    image: "runnel/runnel:test",
    kafka: { bootstrapServers: env.kafkaBrokers, partitions: 4, replicationFactor: 1, topicPrefix: `${release}.` },
    ...(system.name === "risk-control" ? {} : { redis: { address: new URL(env.redisUrl).host, keyPrefix: `${release}:` } }),
    parallelism: workers,
    checkpoint: { interval: "1s", mode: "exactly-once" },
    savepoint: { claimName: "savepoints", interval: "1h" },
    watermark: { idleness: "" },
    generator: { enabled: false },
    ...extra,
  };
}

/** Runs the system's generator into the topics (and, for analytics, the Redis keys) of release `release`. */
export async function feedRelease(system: CaseSystem, release: string, args: string[]): Promise<void> {
  const env = testEnv();
  const redisArgs = system.name === "analytics" ? ["--redis", new URL(env.redisUrl).host, "--redis-prefix", `${release}:`] : [];
  await generate(system, ["--kafka", env.kafkaBrokers.join(","), "--topic-prefix", `${release}.`, "--partitions", "4", "--late", "0", ...redisArgs, ...args]);
}

/** Sets a risk-control rule on the rules topic of release `release` (examples/risk-control/rules.ts). */
export async function setRiskRule(release: string, rule: unknown): Promise<void> {
  const env = testEnv();
  await runScript(join(CASES["risk-control"].dir, "rules.ts"), [
    "--kafka",
    env.kafkaBrokers.join(","),
    "--topic",
    `${release}.risk-rules`,
    "--set",
    JSON.stringify(rule),
  ]);
}
