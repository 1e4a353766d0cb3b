// The three case systems on the real control plane through the operator, as users run them: the
// operator chart, then each system's chart (charts/<system>) with `helm install` into a namespace
// that enforces the `restricted` Pod Security Standard — its topic Job (a pre-install hook running
// the image's examples/common/topics.ts) creates the topics, the operator runs three worker pods,
// the StreamJob becomes Ready, and the example's independent verifier finds every output equal to
// what it recomputes from the input (Kafka read_committed, Redis). Then `helm upgrade` with a
// changed value: one savepoint upgrade, and the next batch verified exactly once across it. Risk
// control goes further: a rule sent on the rules topic takes effect with no restart, `helm rollback`
// returns to the old threshold the same way, the decisions are read again by Kafka's Java
// consumer, the chart's generator Deployment feeds the job live, and `helm uninstall` removes
// the job but leaves its savepoints.
import { CoreV1Api } from "@kubernetes/client-node";
import { Redis } from "ioredis";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kafkaClient, partitionCount } from "../../examples/common/kafka.ts";
import { sinkTarget, sourceTopics } from "../../examples/common/manifest.ts";
import { readOutput } from "../../examples/common/records.ts";
import type { VerifyContext } from "../../examples/common/verify-cli.ts";
import type { Rule } from "../../examples/risk-control/expected.ts";
import { INITIAL_RULES } from "../../examples/risk-control/generator.ts";
import { verifyRisk } from "../../examples/risk-control/verify.ts";
import type { StreamJob } from "../../runtime/spec/generated/types.ts";
import { repoRoot } from "../env/lib/layout.ts";
import {
  CASES,
  caseChartValues,
  expectJavaAgrees,
  expectPassed,
  feedRelease,
  KAFKA_INPUT,
  setRiskRule,
  verifyUntil,
  type CaseSystem,
} from "../helpers/cases.ts";
import { installOperatorChart, valueArgs } from "../helpers/chart.ts";
import { testJobName } from "../helpers/distributed.ts";
import { testEnv } from "../helpers/env.ts";
import { claimFolder, createRestrictedNamespace, kubeConfig, waitFor, type TestNamespace } from "../helpers/kube.ts";
import { createSavepointClaim, installCrds, isReady, readJob, waitForJob } from "../helpers/operator.ts";
import { mustRun, runTool } from "../helpers/tools.ts";

const WORKERS = 3;
const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

/** One system installed with its chart. */
interface Installed {
  system: CaseSystem;
  release: string;
  topicPrefix: string;
  redisPrefix: string;
  ctx: VerifyContext;
}

/** The number of upgrade savepoints in the job's history. */
function upgradeSavepoints(job: StreamJob): number {
  return (job.status?.savepoints ?? []).filter((s) => s.trigger === "upgrade").length;
}

describe("case systems on the cluster through the operator (helm, restricted namespace)", () => {
  const env = testEnv();
  const operatorRelease = testJobName("runnel");
  const namespaces: TestNamespace[] = [];
  const installed: Installed[] = [];
  const redisPrefixes: string[] = [];
  let own = "";
  let ns = "";
  const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: 2 });
  const kafka = kafkaClient(env.kafkaBrokers, "cases-cluster");

  beforeAll(async () => {
    installCrds();
    for (const prefix of ["cases-op", "cases"]) namespaces.push(await createRestrictedNamespace(prefix));
    [own, ns] = namespaces.map((n) => n.name) as [string, string];
    createSavepointClaim(ns);
    // One operator replica: leader election is the helm test's; here the workers need the CPU.
    installOperatorChart(operatorRelease, own, [ns], { replicaCount: 1 });
  });

  afterAll(async () => {
    for (const i of installed) runTool("helm", ["uninstall", i.release, "-n", ns, "--wait", "--timeout", "2m"], { timeoutMs: 180_000 });
    for (const prefix of redisPrefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    runTool("helm", ["uninstall", operatorRelease, "-n", own], { timeoutMs: 120_000 });
    for (const n of namespaces) n.cleanup();
    await redis.quit().catch(() => undefined);
  });

  /** `helm install` of the system's chart; waits for the StreamJob to be Ready. */
  async function install(
    system: CaseSystem,
    prefix: string,
    extra: Record<string, unknown> = {},
    beforeReady?: (i: Installed) => Promise<void>,
  ): Promise<Installed> {
    const release = testJobName(prefix);
    const chart = join(repoRoot, "charts", system.name);
    mustRun("helm", ["install", release, chart, "-n", ns, ...valueArgs(caseChartValues(system, release, WORKERS, extra))], { timeoutMs: 300_000 });
    const job = await readJob(ns, release);
    const i: Installed = {
      system,
      release,
      topicPrefix: `${release}.`,
      redisPrefix: `${release}:`,
      ctx: { job: job as unknown as Record<string, unknown>, loc: { kind: "kafka", kafka, topicPrefix: "" }, redis },
    };
    installed.push(i);
    redisPrefixes.push(i.redisPrefix);
    // The pre-install hook made every topic the job reads and writes.
    for (const t of sourceTopics(i.ctx.job).values()) expect(await partitionCount(kafka, t), t).toBeGreaterThan(0);
    await beforeReady?.(i);
    const ready = await waitForJob(ns, release, "Ready", isReady, 300_000);
    expect(ready.status?.readyWorkers).toBe(`${WORKERS}/${WORKERS}`);
    return i;
  }

  /** `helm uninstall` of a system's release (its workers free the machine for the next). */
  function uninstall(i: Installed): void {
    mustRun("helm", ["uninstall", i.release, "-n", ns, "--wait", "--timeout", "3m"], { timeoutMs: 240_000 });
    installed.splice(installed.indexOf(i), 1);
  }

  /** Runs the system's generator into the installed job's topics. */
  const feed = (i: Installed, args: string[]): Promise<void> => feedRelease(i.system, i.release, args);

  /** `helm upgrade` with changed values; waits for the savepoint upgrade to finish. */
  async function upgrade(i: Installed, verb: "upgrade" | "rollback", args: string[]): Promise<StreamJob> {
    const before = await readJob(ns, i.release);
    const chart = join(repoRoot, "charts", i.system.name);
    mustRun("helm", verb === "upgrade" ? ["upgrade", i.release, chart, "-n", ns, "--reuse-values", ...args] : ["rollback", i.release, ...args, "-n", ns], {
      timeoutMs: 300_000,
    });
    const after = await waitForJob(ns, i.release, `${verb} done and Ready`, (s) => isReady(s) && s.jobGeneration !== before.status?.jobGeneration, 420_000);
    expect(after.status?.jobGenerationCount).toBe((before.status?.jobGenerationCount ?? 0) + 1);
    expect(upgradeSavepoints(after)).toBe(upgradeSavepoints(before) + 1);
    expect(after.status?.restoredFrom).toBe(after.status?.lastSavepoint?.location);
    i.ctx.job = after as unknown as Record<string, unknown>;
    return after;
  }

  /** The job's running worker pods: name → "uid/restart counts". */
  async function workerPods(release: string): Promise<Map<string, string>> {
    const selector = `runnel.dev/job=${release},app.kubernetes.io/component=worker`;
    const pods = (await kubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
    const workers = pods.filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
    return new Map(
      workers.map((p) => [p.metadata?.name ?? "", `${p.metadata?.uid}/${(p.status?.containerStatuses ?? []).map((c) => c.restartCount).join(",")}`]),
    );
  }

  /** Waits until every worker pod's log has a line matching `pattern`. */
  async function waitForWorkerLogs(release: string, pattern: RegExp): Promise<void> {
    await waitFor(
      `every worker logs ${pattern}`,
      async () => {
        const pods = [...(await workerPods(release)).keys()];
        if (pods.length !== WORKERS) return undefined;
        return pods.every((p) => pattern.test(runTool("kubectl", ["logs", p, "-n", ns, "--tail=-1"]).stdout)) || undefined;
      },
      { timeoutMs: 180_000, intervalMs: 2000 },
    );
  }

  it.each([
    { system: CASES.recommendation, prefix: "rec", change: { recommendations: { ttl: "2h" } }, batch2: T0 + DAY },
    { system: CASES.analytics, prefix: "ana", change: { dimension: { cacheTtl: "10m" } }, batch2: T0 + DAY / 4 },
  ])("$system.name: helm install → Ready → verified; helm upgrade → one savepoint upgrade, still exactly once", async ({ system, prefix, change, batch2 }) => {
    const i = await install(system, prefix);
    await feed(i, KAFKA_INPUT[system.name]);
    expectPassed(await verifyUntil(() => system.verify(i.ctx), 420_000), `${system.name} on the cluster`);

    await upgrade(i, "upgrade", valueArgs(change));
    // The same seed: the same item catalogue and user dimension (tables the verifier reads as they end), new ids, later.
    await feed(i, ["--count", "3000", "--events-per-second", "1.2", "--id-prefix", "b2-", "--start", String(batch2)]);
    expectPassed(await verifyUntil(() => system.verify(i.ctx), 420_000), `${system.name} on the cluster across a savepoint upgrade`);
    await expectJavaAgrees(system, i.ctx);
    uninstall(i);
  });

  it("risk-control: verified; a threshold upgrade, a rule change with no restart and a rollback, each exactly once; live generator; uninstall keeps savepoints", async () => {
    const system = CASES["risk-control"];
    const setRule = (i: Installed, r: Rule) => setRiskRule(i.release, r);
    // The rules come first, as in production: the workers apply them before any order arrives.
    const i = await install(system, "risk", { model: { threshold: 0.5 } }, async (x) => {
      for (const r of INITIAL_RULES) await setRule(x, r);
    });
    await waitForWorkerLogs(i.release, /rule review-many-fails set; 2 rules in force/);
    await feed(i, ["--no-rules", ...KAFKA_INPUT["risk-control"]]);
    expectPassed(await verifyUntil(() => verifyRisk(i.ctx, () => INITIAL_RULES), 420_000), "risk control on the cluster");

    // A lower threshold: a savepoint upgrade; orders of the next batch are judged by it.
    const batch2 = T0 + DAY;
    const upgraded = await upgrade(i, "upgrade", valueArgs({ model: { threshold: 0.3 } }));
    // A new rule on the rules topic: every worker applies it, none restarts.
    const podsBefore = await workerPods(i.release);
    const rule: Rule = { id: "a-review-large", condition: "record.amount >= 400.0 && record.decision == 'ALLOW'", action: "REVIEW" };
    await setRule(i, rule);
    await waitForWorkerLogs(i.release, /rule a-review-large set/);
    const batchArgs = (seed: number, start: number) => [
      "--no-rules",
      "--count",
      "3000",
      "--events-per-second",
      "1.2",
      "--takeovers-per-hour",
      "20",
      "--seed",
      String(seed),
      "--id-prefix",
      `b${seed}-`,
      "--start",
      String(start),
    ];
    await feed(i, batchArgs(2, batch2));
    const batch3 = T0 + 2 * DAY;
    const rulesFor = (o: { ts: number }) => (o.ts < batch2 ? INITIAL_RULES : [...INITIAL_RULES, rule]);
    const thresholdFor = (o: { ts: number }) => (o.ts >= batch2 && o.ts < batch3 ? 0.3 : 0.5);
    expectPassed(await verifyUntil(() => verifyRisk(i.ctx, rulesFor, thresholdFor), 420_000), "risk control after a threshold upgrade and a rule change");
    expect(await workerPods(i.release)).toEqual(podsBefore);
    expect((await readJob(ns, i.release)).status?.jobGeneration).toBe(upgraded.status?.jobGeneration);
    const decisions = await readOutput(i.ctx.loc, sinkTarget(i.ctx.job, "decisions-out"));
    expect(decisions.filter((d) => d.value.rule === "a-review-large").length).toBeGreaterThan(0);
    expect(decisions.filter((d) => d.value.rule === "a-review-large" && (d.value.ts as number) < batch2)).toEqual([]);
    // The upgrade mattered: orders of the second batch with a risk between the thresholds were blocked.
    const between = decisions.filter(
      (d) => (d.value.ts as number) >= batch2 && (d.value.ts as number) < batch3 && (d.value.risk as number) >= 0.3 && (d.value.risk as number) < 0.5,
    );
    expect(between.length).toBeGreaterThan(0);
    expect(between.filter((d) => d.value.rule === undefined && d.value.decision !== "BLOCK")).toEqual([]);

    // helm rollback: back to 0.5 the same way (the rule, broadcast state, stays in force).
    await upgrade(i, "rollback", ["1"]);
    await feed(i, batchArgs(3, batch3));
    expectPassed(await verifyUntil(() => verifyRisk(i.ctx, rulesFor, thresholdFor), 420_000), "risk control after helm rollback");
    await expectJavaAgrees(system, i.ctx);

    // The chart's generator Deployment feeds the job live (the job's spec is unchanged: no upgrade).
    const decided = decisions.length;
    const generations = (await readJob(ns, i.release)).status?.jobGenerationCount;
    mustRun(
      "helm",
      ["upgrade", i.release, join(repoRoot, "charts", system.name), "-n", ns, "--reuse-values", ...valueArgs({ generator: { enabled: true, rate: 50 } })],
      {
        timeoutMs: 300_000,
      },
    );
    await waitFor(
      "decisions of the live generator's orders",
      async () => (await readOutput(i.ctx.loc, sinkTarget(i.ctx.job, "decisions-out"))).length > decided + 20 || undefined,
      { timeoutMs: 300_000, intervalMs: 3000 },
    );
    expect((await readJob(ns, i.release)).status?.jobGenerationCount).toBe(generations);

    // helm uninstall: the job and its pods go, its savepoints (two upgrades) stay on the claim.
    const history = ((await readJob(ns, i.release)).status?.savepoints ?? []).filter((s) => s.trigger === "upgrade");
    expect(history).toHaveLength(2);
    uninstall(i);
    await waitFor(
      "the job's objects gone",
      () =>
        mustRun("kubectl", [
          "get",
          "statefulsets,pods,deployments,streamjobs",
          "-n",
          ns,
          "-l",
          `app.kubernetes.io/instance=${i.release}`,
          "-o",
          "name",
        ]).trim() === "" && mustRun("kubectl", ["get", "pods,streamjobs", "-n", ns, "-l", `runnel.dev/job=${i.release}`, "-o", "name"]).trim() === "",
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const volume = await claimFolder(ns, "savepoints");
    for (const sp of history) expect(existsSync(join(volume, (sp.location ?? "").replace(/^\/savepoints\/?/, ""))), sp.location).toBe(true);
  });
});
