// Savepoints under the operator (real control plane, node agent, Kafka, a shared savepoint
// volume): a StreamSavepoint taken while the job runs is written to the volume and disposed of
// when the object is deleted; savepointTriggerNonce and periodic savepoints with a history limit
// (older ones disposed, whether or not the job runs); suspend with a savepoint and resume from it;
// and a stop-type StreamSavepoint followed by a new job started from it by name — together the two
// jobs' output is exactly once (Java read_committed).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { StreamSavepoint } from "../../runtime/spec/generated/types.ts";
import { createCountJob, produce, produceFlush, type CountJob } from "../helpers/distributed.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { claimFolder, kubectl, waitFor } from "../helpers/kube.ts";
import { applyManifest, countStreamJob, expectExactlyOnceWithJava, isReady, operatorHooks, waitForJob } from "../helpers/operator.ts";

/** A StreamSavepoint's status, read with kubectl. */
function savepointStatus(namespace: string, name: string): StreamSavepoint["status"] | undefined {
  const out = kubectl(["get", "streamsavepoint", name, "-n", namespace, "-o", "json", "--ignore-not-found"]);
  return out.trim() ? (JSON.parse(out) as StreamSavepoint).status : undefined;
}

describe("operator: savepoints", () => {
  const k = kafkaAdminHooks();
  const env = operatorHooks("op-savepoints");
  let volume: string;

  /** The host folder of a savepoint location under the job's /savepoints mount. */
  async function onDisk(location: string): Promise<string> {
    volume ??= await waitFor("the savepoint claim bound", () => claimFolder(env.namespace, "savepoints"));
    return join(volume, location.replace(/^\/savepoints\/?/, ""));
  }

  async function runningJob(job: CountJob, spec: Record<string, unknown> = {}, workers = 2) {
    const manifest = countStreamJob(job, { namespace: env.namespace, workers, upgradeMode: "savepoint", savepointClaim: "savepoints", spec });
    await produce(k.kafka, job, 1500);
    applyManifest(manifest);
    await waitForJob(env.namespace, job.name, "Ready", isReady);
    return manifest;
  }

  it("takes a StreamSavepoint while the job runs, and disposes of it when the object is deleted", async () => {
    const job = await createCountJob(k.admin, 4);
    await runningJob(job);
    applyManifest({
      apiVersion: "runnel.dev/v1alpha1",
      kind: "StreamSavepoint",
      metadata: { name: "before-migration", namespace: env.namespace },
      spec: { jobName: job.name, disposeOnDelete: true },
    });
    const done = await waitFor(
      "the savepoint completed",
      () => (savepointStatus(env.namespace, "before-migration")?.state === "Completed" ? savepointStatus(env.namespace, "before-migration") : undefined),
      { timeoutMs: 180_000 },
    );
    const folder = await onDisk(done?.location ?? "");
    expect(existsSync(folder)).toBe(true);
    expect(readdirSync(folder).length).toBeGreaterThan(0);
    expect(kubectl(["get", "ssp", "before-migration", "-n", env.namespace, "--no-headers"])).toMatch(/before-migration\s+\S+\s+Completed/);
    const status = await waitForJob(
      env.namespace,
      job.name,
      "the savepoint in the history",
      (s) => s.savepoints?.[0]?.name === "before-migration" && isReady(s),
    );
    expect(status.status?.lastSavepoint?.trigger).toBe("manual");
    kubectl(["delete", "ssp", "before-migration", "-n", env.namespace, "--timeout=120s"]);
    expect(existsSync(folder)).toBe(false);
  });

  it("takes a savepoint on savepointTriggerNonce and periodically, keeping historyMax and disposing of the rest", async () => {
    const job = await createCountJob(k.admin, 2);
    const manifest = await runningJob(job, {}, 1);
    manifest.spec.savepointTriggerNonce = 1;
    manifest.spec.savepoint = { storage: { path: "/savepoints", claimName: "savepoints" }, historyMax: 2, interval: "5s" };
    applyManifest(manifest);
    const first = await waitForJob(
      env.namespace,
      job.name,
      "the nonce savepoint",
      (s) => s.observedSavepointTriggerNonce === 1 && (s.savepoints ?? []).some((p) => p.trigger === "nonce"),
    );
    const nonceLocation = first.status?.savepoints?.find((p) => p.trigger === "nonce")?.location ?? "";
    expect(existsSync(await onDisk(nonceLocation))).toBe(true);
    // Periodic savepoints every 5 s push the nonce savepoint out of a history of two; its files go.
    await waitForJob(
      env.namespace,
      job.name,
      "periodic savepoints replacing it",
      (s) => (s.savepoints ?? []).every((p) => p.trigger === "periodic") && (s.savepoints?.length ?? 0) === 2,
      240_000,
    );
    await waitFor("the nonce savepoint disposed", async () => !existsSync(await onDisk(nonceLocation)), { timeoutMs: 120_000 });
  });

  it("suspends with a savepoint and resumes from it, exactly once", async () => {
    const job = await createCountJob(k.admin, 4);
    const manifest = await runningJob(job);
    manifest.spec.state = "suspended";
    applyManifest(manifest);
    const suspended = await waitForJob(env.namespace, job.name, "Suspended", (s) => s.phase === "Suspended");
    expect(suspended.status?.lastSavepoint?.trigger).toBe("suspend");
    expect(kubectl(["get", "pods", "-n", env.namespace, "-l", `runnel.dev/job=${job.name}`, "-o", "name"]).trim()).toBe("");
    await produce(k.kafka, job, 1500);
    manifest.spec.state = "running";
    applyManifest(manifest);
    const resumed = await waitForJob(env.namespace, job.name, "resumed", isReady);
    expect(resumed.status?.restoredFrom).toBe(suspended.status?.lastSavepoint?.location);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });

  it("stops a job with a stop StreamSavepoint and starts another job from it by name, exactly once across both", async () => {
    const job = await createCountJob(k.admin, 4);
    const first = await runningJob(job);
    applyManifest({
      apiVersion: "runnel.dev/v1alpha1",
      kind: "StreamSavepoint",
      metadata: { name: "handover", namespace: env.namespace },
      spec: { jobName: job.name, type: "stop" },
    });
    await waitFor("the stop savepoint completed", () => savepointStatus(env.namespace, "handover")?.state === "Completed", { timeoutMs: 180_000 });
    const stopped = await waitForJob(env.namespace, job.name, "Suspended", (s) => s.phase === "Suspended");
    expect(stopped.spec.state).toBe("suspended");
    await produce(k.kafka, job, 1500);
    // The successor: another name, the same pipeline and output, started from the savepoint.
    const next = structuredClone(first);
    next.metadata = { name: `${job.name}-v2`, namespace: env.namespace };
    next.spec.restoreFrom = { savepointName: "handover" };
    applyManifest(next);
    const started = await waitForJob(env.namespace, `${job.name}-v2`, "Ready", isReady);
    expect(started.status?.restoredFrom).toBe(savepointStatus(env.namespace, "handover")?.location);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
    // Disposal does not need the job running: the stopped job's savepoint, registered under another
    // name with disposeOnDelete, is deleted with that object (its successor restored long ago).
    const location = savepointStatus(env.namespace, "handover")?.location ?? "";
    applyManifest({
      apiVersion: "runnel.dev/v1alpha1",
      kind: "StreamSavepoint",
      metadata: { name: "handover-files", namespace: env.namespace },
      spec: { jobName: job.name, path: location, disposeOnDelete: true },
    });
    await waitFor("the registration", () => savepointStatus(env.namespace, "handover-files")?.state === "Completed");
    expect(existsSync(await onDisk(location))).toBe(true);
    kubectl(["delete", "ssp", "handover-files", "-n", env.namespace, "--timeout=120s"]);
    expect(existsSync(await onDisk(location))).toBe(false);
  });
});
