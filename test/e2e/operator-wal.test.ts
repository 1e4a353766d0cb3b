// The status as a write-ahead log, end to end: a savepoint upgrade is started by an operator that
// is killed (SIGKILL, injected right after a status write) at each step in turn — before any
// worker was asked to stop, after the stop requests were recorded, after scaling down, after the
// new generation was applied, while waiting for it — and a new operator process, knowing only the
// status, completes it. Each upgrade starts exactly one job generation and takes exactly one
// savepoint, and every output window of the whole run appears exactly once (Java read_committed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StreamJob } from "../../runtime/spec/generated/types.ts";
import { createCountJob, produce, produceFlush } from "../helpers/distributed.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { createNamespace, type TestNamespace } from "../helpers/kube.ts";
import {
  applyManifest,
  countStreamJob,
  createSavepointClaim,
  expectExactlyOnceWithJava,
  installCrds,
  isReady,
  operatorLogTail,
  startOperator,
  waitForJob,
  type OperatorProcess,
} from "../helpers/operator.ts";

/** Where the operator is stopped: after the n-th status write recording this step of the upgrade. */
const FAULTS = ["upgrade/stopping#1", "upgrade/stopping#2", "upgrade/scalingDown#1", "upgrade/starting#1", "upgrade/awaitReady#1"];

describe("operator: killed at every step of a savepoint upgrade, it completes each upgrade once", () => {
  const k = kafkaAdminHooks();
  let ns: TestNamespace;
  const ops: OperatorProcess[] = [];

  beforeAll(async () => {
    installCrds();
    ns = await createNamespace("op-wal");
    createSavepointClaim(ns.name);
  });
  afterAll(async () => {
    for (const op of ops) await op.kill9();
    ns?.cleanup();
  });

  it("resumes from the recorded step and finishes exactly once", async () => {
    const job = await createCountJob(k.admin, 4);
    let manifest: StreamJob = countStreamJob(job, { namespace: ns.name, workers: 2, upgradeMode: "savepoint", savepointClaim: "savepoints" });
    await produce(k.kafka, job, 1500);
    let op = startOperator({ namespace: ns.name });
    ops.push(op);
    applyManifest(manifest);
    let status = (await waitForJob(ns.name, job.name, "Ready", isReady)).status ?? {};
    await op.stop();

    for (const [i, fault] of FAULTS.entries()) {
      const before = status;
      const faulty = startOperator({ namespace: ns.name, fault: `exit-after:${fault}` });
      ops.push(faulty);
      // Each round changes the job (the checkpoint interval), which the workers run: an upgrade.
      manifest = structuredClone(manifest);
      manifest.spec.checkpoint = { interval: `${400 + i}ms` };
      applyManifest(manifest);
      await produce(k.kafka, job, 800);
      const code = await Promise.race([faulty.exited, new Promise((r) => setTimeout(() => r("still running"), 240_000))]);
      expect(code, `the operator was to stop after ${fault}:\n${operatorLogTail(faulty)}`).toBe(137);
      op = startOperator({ namespace: ns.name });
      ops.push(op);
      status =
        (
          await waitForJob(
            ns.name,
            job.name,
            `upgrade ${i + 1} completed after a stop at ${fault}`,
            (s) => isReady(s) && s.jobGeneration !== before.jobGeneration,
            300_000,
          )
        ).status ?? {};
      expect(status.jobGenerationCount, `generations after ${fault}`).toBe((before.jobGenerationCount ?? 0) + 1);
      expect(status.savepoints?.length, `savepoints after ${fault}`).toBe(Math.min(5, (before.savepoints?.length ?? 0) + 1));
      expect(status.lastSavepoint?.jobGeneration).toBe(before.jobGeneration);
      expect(status.restoredFrom).toBe(status.lastSavepoint?.location);
      await op.stop();
    }
    op = startOperator({ namespace: ns.name });
    ops.push(op);
    await produce(k.kafka, job, 500);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });
});
