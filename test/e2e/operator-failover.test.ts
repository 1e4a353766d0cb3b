// Failover under the operator (real control plane, node agent, Kafka): a worker's process killed
// with kill -9 and a worker pod deleted while input flows — the job recovers and every output
// window appears exactly once (Java read_committed); the restart is counted with the exit class.
// A crash-looping job (its module throws) ends Failed per its restart policy, with the exit class
// and the worker's last log line; an upgrade to such a spec is rolled back to the last stable one
// and the savepoint the upgrade took.
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../env/lib/layout.ts";
import { createCountJob, produce, produceFlush, OutputReader } from "../helpers/distributed.ts";
import { judgeHealth } from "../helpers/argocd-health.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { kubeConfig, kubectl, waitFor, waitForReadyPod } from "../helpers/kube.ts";
import { applyManifest, countStreamJob, expectExactlyOnceWithJava, isReady, operatorHooks, waitForJob, workerProcessPid } from "../helpers/operator.ts";

const THROWING_MODULE = join(repoRoot, "test/fixtures/operator/throwing-job.ts");

describe("operator: failover, crash loops and rollback", () => {
  const k = kafkaAdminHooks();
  const env = operatorHooks("op-failover");
  const core = kubeConfig().makeApiClient(CoreV1Api);

  it("recovers from a worker's kill -9 and from a deleted worker pod, exactly once", async () => {
    const job = await createCountJob(k.admin, 4);
    await produce(k.kafka, job, 2000);
    applyManifest(countStreamJob(job, { namespace: env.namespace, workers: 2 }));
    await waitForJob(env.namespace, job.name, "Ready", isReady);
    const reader = new OutputReader();
    await reader.start(job);
    await reader.waitForCount(50, 120_000);

    // kill -9 the worker process of pod 0 mid-stream.
    const pod0 = await core.readNamespacedPod({ name: `${job.name}-0`, namespace: env.namespace });
    process.kill(workerProcessPid(pod0), "SIGKILL");
    await produce(k.kafka, job, 2000);
    const afterKill = await waitForJob(env.namespace, job.name, "the restart counted and Ready again", (s) => (s.restarts?.total ?? 0) >= 1 && isReady(s));
    expect(afterKill.status?.lastError).toMatchObject({ reason: "WorkerCrashed", worker: 0, exitCode: 137, exitClass: "killed" });
    expect(afterKill.status?.conditions?.find((c) => c.type === "Degraded")?.reason).toBe("WorkerRestarts");

    // Delete pod 1: the StatefulSet creates it again, it restores from its checkpoints.
    const pod1 = await core.readNamespacedPod({ name: `${job.name}-1`, namespace: env.namespace });
    kubectl(["delete", "pod", `${job.name}-1`, "-n", env.namespace, "--wait=false"]);
    await produce(k.kafka, job, 2000);
    await waitForReadyPod(env.namespace, `${job.name}-1`, { notUid: pod1.metadata?.uid ?? "" });
    await waitForJob(env.namespace, job.name, "Ready after the pod deletion", isReady);
    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await reader.waitFor(job, 180_000);
    await reader.stop();
    expect(reader.duplicates.slice(0, 10)).toEqual([]);
    await expectExactlyOnceWithJava(job);
  });

  it("stops a crash-looping job per its restart policy: Failed, with the exit class and the worker's last log line", async () => {
    const job = await createCountJob(k.admin, 2);
    const manifest = countStreamJob(job, { namespace: env.namespace, workers: 1, spec: { restartPolicy: { maxRestarts: 2, window: "10m" } } });
    delete manifest.spec.pipeline;
    manifest.spec.module = { path: THROWING_MODULE };
    applyManifest(manifest);
    const failed = await waitForJob(env.namespace, job.name, "Failed", (s) => s.phase === "Failed", 240_000);
    const s = failed.status ?? {};
    expect(s.lastError?.reason).toBe("WorkerCrashed");
    expect(s.lastError?.exitCode).toBeGreaterThan(0);
    expect(s.lastError?.message).toContain("its module throws while loading");
    const stalled = s.conditions?.find((c) => c.type === "Stalled");
    expect(stalled).toMatchObject({ status: "True", reason: "CrashLoop" });
    // Past maxRestarts 2: the third crash stops it (a loaded machine may count one more before the operator acts).
    const crashes = /crashed (\d+) times .*restartPolicy.maxRestarts 2/.exec(stalled?.message ?? "");
    expect(Number(crashes?.[1]), stalled?.message).toBeGreaterThanOrEqual(3);
    expect(s.conditions?.find((c) => c.type === "Ready")?.status).toBe("False");
    // Argo CD shows a Failed job Degraded (the sample is kept for the health script's tests).
    judgeHealth("StreamJob", failed, "Degraded", "streamjob-failed-crash-loop");
    await waitFor(
      "the workers stopped",
      async () => (await core.listNamespacedPod({ namespace: env.namespace, labelSelector: `runnel.dev/job=${job.name}` })).items.length === 0,
    );
    const row = kubectl(["get", "sj", job.name, "-n", env.namespace, "--no-headers"]);
    expect(row).toMatch(new RegExp(`^${job.name}\\s+Failed\\s+0/0`));
  });

  it("rolls an upgrade that crash-loops back to the last stable spec and its savepoint, exactly once", async () => {
    const job = await createCountJob(k.admin, 4);
    const manifest = countStreamJob(job, {
      namespace: env.namespace,
      workers: 2,
      upgradeMode: "savepoint",
      savepointClaim: "savepoints",
      spec: { restartPolicy: { maxRestarts: 2, window: "10m" }, rollback: { stableAfter: "5s", readinessTimeout: "3m" } },
    });
    await produce(k.kafka, job, 2000);
    applyManifest(manifest);
    const stable = await waitForJob(env.namespace, job.name, "stable", (s) => isReady(s) && s.lastStableSpec?.hash === s.currentSpecHash);
    const broken = structuredClone(manifest);
    delete broken.spec.pipeline;
    broken.spec.module = { path: THROWING_MODULE };
    applyManifest(broken);
    await produce(k.kafka, job, 2000);
    const rolledBack = await waitForJob(env.namespace, job.name, "rolled back and Ready", (s) => s.failedSpec?.reason === "RolledBack" && isReady(s), 300_000);
    expect(rolledBack.status?.currentSpecHash).toBe(stable.status?.currentSpecHash);
    // Back from the savepoint the upgrade took of the stable spec, in a third job generation.
    const upgradeSavepoint = rolledBack.status?.savepoints?.find((p) => p.trigger === "upgrade");
    expect(upgradeSavepoint?.jobGeneration).toBe(stable.status?.jobGeneration);
    expect(rolledBack.status?.restoredFrom).toBe(upgradeSavepoint?.location);
    expect(rolledBack.status?.lastStableSpec?.savepoint).toBe(upgradeSavepoint?.location);
    expect(rolledBack.status?.jobGenerationCount).toBe(3);
    const degraded = rolledBack.status?.conditions?.find((c) => c.type === "Degraded");
    expect(degraded?.reason).toBe("RolledBack");
    expect(degraded?.message).toMatch(/rolled back to the last stable spec/);
    const events = kubectl(["get", "events", "-n", env.namespace, "--field-selector", `involvedObject.name=${job.name}`, "-o", "jsonpath={.items[*].reason}"]);
    expect(events).toContain("RollingBack");
    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });
});
