/**
 * The case systems on the test cluster, as users deploy them: the operator chart, then each
 * system's chart with three worker pods (exactly once, 1 s checkpoints, LevelDB state). The
 * generator writes `events` input events as fast as it can while the job runs; events/s = events /
 * seconds from the first event sent until the job has committed its position at the end of every
 * input (the offsets of its consumer group, which each checkpoint's transaction writes), and the
 * outputs are then checked by the example's verifier. Part of
 * `npm run bench:cases` when the test environment is up.
 */
import { Redis } from "ioredis";
import { join } from "node:path";
import { passed } from "../examples/common/compare.ts";
import { kafkaClient } from "../examples/common/kafka.ts";
import { jobPrefix } from "../runtime/distributed/topics.ts";
import type { VerifyContext } from "../examples/common/verify-cli.ts";
import { INITIAL_RULES } from "../examples/risk-control/generator.ts";
import { repoRoot } from "../test/env/lib/layout.ts";
import { CASES, caseChartValues, feedRelease, setRiskRule, verifyUntil, type CaseSystem } from "../test/helpers/cases.ts";
import { installOperatorChart, valueArgs } from "../test/helpers/chart.ts";
import { testEnv } from "../test/helpers/env.ts";
import { createNamespace, waitFor } from "../test/helpers/kube.ts";
import { createSavepointClaim, installCrds, isReady, waitForJob } from "../test/helpers/operator.ts";
import { mustRun, runTool } from "../test/helpers/tools.ts";

/** Worker pods per job. */
export const CLUSTER_WORKERS = 3;

/** One system's run on the cluster. */
export interface ClusterCaseRow {
  system: string;
  events: number;
  seconds: number;
  rate: number;
  verified: boolean;
}

/** Runs one system: install, feed, wait until read, verify, uninstall. */
async function runSystem(system: CaseSystem, namespace: string, events: number): Promise<ClusterCaseRow> {
  const release = `bench-${system.name.slice(0, 4)}-${Date.now().toString(36)}`;
  const env = testEnv();
  const kafka = kafkaClient(env.kafkaBrokers, release);
  const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 2 });
  try {
    const values = caseChartValues(system, release, CLUSTER_WORKERS);
    mustRun("helm", ["install", release, join(repoRoot, "charts", system.name), "-n", namespace, ...valueArgs(values)], { timeoutMs: 300_000 });
    if (system.name === "risk-control") for (const r of INITIAL_RULES) await setRiskRule(release, r);
    const job = await waitForJob(namespace, release, "Ready", isReady, 300_000);
    const t0 = performance.now();
    await feedRelease(system, release, [
      "--count",
      String(events),
      "--events-per-second",
      "10",
      ...(system.name === "analytics" ? ["--history", "0"] : []),
      ...(system.name === "risk-control" ? ["--no-rules"] : []),
    ]);
    // Read it all: the job's committed input positions (Kafka's own record, written in each
    // checkpoint's transaction) at the end of every stream input.
    const group = jobPrefix(namespace, release);
    // Stream inputs only: tables and broadcast rules are read whole, by every worker, under other groups.
    const inputs = (job.spec.pipeline?.sources ?? []).filter((s) => s.kafka && (s.mode ?? "stream") === "stream").map((s) => s.kafka?.topic ?? "");
    const admin = kafka.client.admin();
    await admin.connect();
    try {
      await waitFor(
        "the job to commit every input event",
        async () => {
          for (const topic of inputs) {
            const done = await admin.groupOffsets(group, topic);
            for (const e of await admin.offsets(topic)) if ((done.get(e.partition) ?? -1) < e.high) return undefined;
          }
          return true;
        },
        { timeoutMs: 1_800_000, intervalMs: 250 },
      );
    } finally {
      await admin.disconnect();
    }
    const seconds = (performance.now() - t0) / 1000;
    const ctx: VerifyContext = { job: job as unknown as Record<string, unknown>, loc: { kind: "kafka", kafka, topicPrefix: "" }, redis };
    const report = await verifyUntil(() => system.verify(ctx), 300_000);
    const row = { system: system.name, events, seconds, rate: events / seconds, verified: passed(report) };
    console.log(`${system.name}: ${Math.round(row.rate)} events/s on the cluster (${CLUSTER_WORKERS} workers, ${row.verified ? "verified" : "NOT verified"})`);
    return row;
  } finally {
    runTool("helm", ["uninstall", release, "-n", namespace, "--wait", "--timeout", "3m"], { timeoutMs: 240_000 });
    const keys = await redis.keys(`${release}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit().catch(() => undefined);
  }
}

/** Events/s of each case system on the test cluster through the operator (the test environment must be up). */
export async function clusterCases(options: { events: number }): Promise<ClusterCaseRow[]> {
  installCrds();
  const own = await createNamespace("bench-op");
  const jobs = await createNamespace("bench-cases");
  const release = `bench-op-${Date.now().toString(36)}`;
  try {
    createSavepointClaim(jobs.name);
    installOperatorChart(release, own.name, [jobs.name], { replicaCount: 1 });
    const rows: ClusterCaseRow[] = [];
    for (const system of Object.values(CASES)) rows.push(await runSystem(system, jobs.name, options.events));
    return rows;
  } finally {
    runTool("helm", ["uninstall", release, "-n", own.name, "--wait"], { timeoutMs: 180_000 });
    own.cleanup();
    jobs.cleanup();
  }
}

/** The cluster part of the section in docs/benchmarks.md. */
export function renderClusterPart(rows: ClusterCaseRow[], events: number): string {
  if (rows.length === 0) return "On the test cluster: not measured in this run (no test environment; start `test/env/up`).";
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  return `On the test cluster (the test environment's kube-apiserver and node agent on this same machine):
the operator chart, then each example's chart with ${CLUSTER_WORKERS} worker pods (exactly once, 1 s
checkpoints, LevelDB state); its generator writes ${fmt(events)} events as fast as it can while the job
runs. events/s = events / seconds from the first event sent until the job's committed input
positions (its consumer group's offsets, written by each checkpoint's transaction; polled every
0.25 s) reach the end of every input; then the example's verifier checks every output. All pods, the broker, Redis and the control plane share the machine's cores.

| system | events/s | events | seconds | verified |
|---|---:|---:|---:|---|
${rows.map((r) => `| ${r.system} | ${fmt(r.rate)} | ${fmt(r.events)} | ${r.seconds.toFixed(1)} | ${r.verified ? "yes" : "**no**"} |`).join("\n")}`;
}
