// The three case systems on the real broker and Redis with `runnel worker` processes (three
// workers, four tasks; no operator): each example's generator writes its input to fresh topics,
// a worker is killed with SIGKILL mid-stream and restarted, and the example's verifier recomputes
// every output from the input and finds what the job wrote — read committed from Kafka, and from
// Redis — equal, none missing, none duplicated; the main output is read again with Kafka's own Java
// consumer in read_committed. Risk control also changes its rules on the rules topic while running:
// orders decided after the change follow the new rules, before it the old ones, across a restart.
import { afterAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { readOutput } from "../../examples/common/records.ts";
import { ensureTopics, kafkaClient } from "../../examples/common/kafka.ts";
import { sinkTarget } from "../../examples/common/manifest.ts";
import { INITIAL_RULES } from "../../examples/risk-control/generator.ts";
import type { Rule } from "../../examples/risk-control/expected.ts";
import { verifyRisk } from "../../examples/risk-control/verify.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { kill9, logTail, startWorker, stopGracefully, testJobName, waitForLog, type WorkerProcess } from "../helpers/distributed.ts";
import { workerMetric } from "../helpers/worker-process.ts";
import { waitFor } from "../helpers/wait.ts";
import { testEnv } from "../helpers/env.ts";
import {
  CASES,
  expectJavaAgrees,
  expectPassed,
  generate,
  KAFKA_INPUT,
  kafkaCopy,
  runScript,
  verifyUntil,
  type CaseSystem,
  type KafkaCopy,
} from "../helpers/cases.ts";
import { join } from "node:path";

const WORKERS = 3;
/** Each worker serves its admin API (metrics) on a free port. */
const ADMIN = ["--admin", "127.0.0.1:0"];
const T0 = Date.UTC(2026, 0, 1);

/** Watermarks of a test run do not declare idle partitions: a gap in the input (between batches) must not let one partition's backlog become late. */
function withoutIdleness(job: Record<string, unknown>): void {
  for (const s of ((job.spec as Record<string, unknown>).pipeline as { sources: Record<string, unknown>[] }).sources) {
    const w = s.watermark as Record<string, unknown> | undefined;
    if (w) delete w.idleness;
  }
}

describe("case systems on Kafka with runnel worker processes (real broker, real Redis)", () => {
  const k = kafkaAdminHooks();
  const running: WorkerProcess[] = [];
  const redisKeys: string[] = [];

  afterAll(async () => {
    for (const w of running) if (w.child.exitCode === null) w.child.kill("SIGKILL");
    if (redisKeys.length > 0) {
      const redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: 1 });
      for (const prefix of redisKeys) {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      }
      await redis.quit();
    }
  });

  /** Starts worker `w` of the job on its own state folder (kept across a restart), serving its admin API. */
  function startOne(copy: KafkaCopy, w: number): WorkerProcess {
    return startWorker({ dir: copy.dir, manifest: copy.manifestPath }, w, WORKERS, { stateDir: join(copy.dir, `state-w${w}`), extraArgs: ADMIN });
  }

  /** Creates the job's output topics and starts its workers. */
  async function start(system: CaseSystem, copy: KafkaCopy): Promise<WorkerProcess[]> {
    await k.admin.createTopics({
      waitForLeaders: true,
      topics: system.outputs.map((t) => ({ topic: copy.topicPrefix + t, numPartitions: 4, configEntries: [{ name: "retention.ms", value: "-1" }] })),
    });
    const workers = Array.from({ length: WORKERS }, (_, w) => startOne(copy, w));
    running.push(...workers);
    return workers;
  }

  /** Kills worker `w` with SIGKILL once the job has written output, and starts it again on its state. */
  async function killAndRestart(copy: KafkaCopy, workers: WorkerProcess[], w: number, written: () => Promise<number>): Promise<void> {
    const deadline = Date.now() + 180_000;
    while ((await written()) === 0) {
      if (Date.now() > deadline) throw new Error(`no output after 180 s:\n${workers.map((x) => logTail(x)).join("\n---\n")}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await kill9(workers[w] as WorkerProcess);
    const again = startOne(copy, w);
    running.push(again);
    workers[w] = again;
  }

  /**
   * Waits until every worker completed two more checkpoints: the second began after this call,
   * so what the workers hold now (the rules they logged) is in the state a kill -9 restores.
   * Without it, a worker killed before such a checkpoint restores state from before the rule,
   * reads the rule again, and may decide orders it reads first without it.
   */
  async function checkpointedNow(workers: WorkerProcess[]): Promise<void> {
    const before = await Promise.all(workers.map((w) => workerMetric(w, "runnel_checkpoints_total")));
    await waitFor("two more checkpoints on every worker", async () => {
      const now = await Promise.all(workers.map((w) => workerMetric(w, "runnel_checkpoints_total")));
      return now.every((n, i) => n >= (before[i] as number) + 2);
    });
  }

  async function stopAll(workers: WorkerProcess[]): Promise<void> {
    for (const w of workers) expect(await stopGracefully(w)).toBe(0);
  }

  it.each([CASES.analytics, CASES.recommendation])("$name: verified exactly once through a kill -9 of a worker", async (system) => {
    const name = testJobName(system.name.slice(0, 5));
    const copy = kafkaCopy(system, name, { edit: withoutIdleness });
    redisKeys.push(copy.redisPrefix);
    const redisArgs = system.name === "analytics" ? ["--redis", copy.redisAddress, "--redis-prefix", copy.redisPrefix] : [];
    await generate(system, [
      "--kafka",
      copy.brokers.join(","),
      "--topic-prefix",
      copy.topicPrefix,
      "--partitions",
      "4",
      "--late",
      "0",
      ...redisArgs,
      ...KAFKA_INPUT[system.name],
    ]);
    const workers = await start(system, copy);
    const first = system.outputs[0] as string;
    await killAndRestart(copy, workers, 1, async () => (await readOutput(copy.ctx.loc, { id: first, topic: copy.topicPrefix + first })).length);
    const report = await verifyUntil(() => system.verify(copy.ctx), 300_000);
    expectPassed(report, `${system.name} on Kafka`);
    await expectJavaAgrees(system, copy.ctx);
    await stopAll(workers);
    await copy.close();
  });

  it("risk-control: verified exactly once through a kill -9, with a rule changed on the rules topic while it runs", async () => {
    const system = CASES["risk-control"];
    const name = testJobName("risk");
    const copy = kafkaCopy(system, name, { edit: withoutIdleness });
    const kafka = ["--kafka", copy.brokers.join(","), "--topic-prefix", copy.topicPrefix, "--partitions", "4", "--late", "0"];
    // The rules come first, as in production: the workers apply them before any order arrives.
    const cluster = kafkaClient(copy.brokers, `setup-${name}`);
    await ensureTopics(cluster, [
      ...["orders", "behaviour", "device-fingerprints"].map((t) => ({ topic: copy.topicPrefix + t, partitions: 4 })),
      { topic: `${copy.topicPrefix}risk-rules`, partitions: 1, compacted: true },
    ]);
    const setRule = (r: Rule) =>
      runScript(join(system.dir, "rules.ts"), ["--kafka", copy.brokers.join(","), "--topic", `${copy.topicPrefix}risk-rules`, "--set", JSON.stringify(r)]);
    for (const r of INITIAL_RULES) await setRule(r);
    const workers = await start(system, copy);
    for (const w of workers) await waitForLog(w, /rule review-many-fails set; 2 rules in force/, 120_000);
    await checkpointedNow(workers);
    await generate(system, [...kafka, "--no-rules", ...KAFKA_INPUT["risk-control"]]);
    await killAndRestart(copy, workers, 1, async () => (await readOutput(copy.ctx.loc, sinkTarget(copy.ctx.job, "decisions-out"))).length);
    expectPassed(await verifyUntil(() => verifyRisk(copy.ctx), 300_000), "risk control, first batch");

    // A new rule, sent while the job runs: every worker applies it without a restart.
    const rule: Rule = { id: "a-review-large", condition: "record.amount >= 400.0 && record.decision == 'ALLOW'", action: "REVIEW" };
    await setRule(rule);
    for (const w of workers) await waitForLog(w, /rule a-review-large set/, 120_000);
    await checkpointedNow(workers);
    // A second batch a day later in event time; a worker killed while it runs restores the rule.
    const batch2 = T0 + 86_400_000;
    await generate(system, [
      ...kafka,
      "--count",
      "3000",
      "--events-per-second",
      "1.2",
      "--seed",
      "2",
      "--id-prefix",
      "b2-",
      "--no-rules",
      "--start",
      String(batch2),
    ]);
    await killAndRestart(copy, workers, 2, async () => 1);
    const rulesFor = (order: { ts: number }): Rule[] => (order.ts < batch2 ? INITIAL_RULES : [...INITIAL_RULES, rule]);
    const report = await verifyUntil(() => verifyRisk(copy.ctx, rulesFor), 300_000);
    expectPassed(report, "risk control with a rule changed at run time");
    // The new rule decided orders of the second batch (and only those).
    const decisions = await readOutput(copy.ctx.loc, sinkTarget(copy.ctx.job, "decisions-out"));
    expect(decisions.filter((d) => d.value.rule === "a-review-large").length).toBeGreaterThan(0);
    expect(decisions.filter((d) => d.value.rule === "a-review-large" && (d.value.ts as number) < batch2)).toEqual([]);
    await expectJavaAgrees(system, copy.ctx);
    await stopAll(workers);
    await copy.close();
  });
});
