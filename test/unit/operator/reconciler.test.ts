// The StreamJob reconciler's decisions against an in-memory cluster: first deployment to Ready,
// upgrades per mode, rescale, suspend/resume, nonces, savepoint requests, crash loops, rollback,
// a bad spec over a running job — and the write-ahead log: an operator stopped after any status
// write resumes the action and completes it once.
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../runtime/log.ts";
import type { StreamJobStatus } from "../../../runtime/spec/generated/types.ts";
import type { ReconcileResult } from "../../../operator/machinery/controller.ts";
import { createJobReconciler } from "../../../operator/streamjob/reconciler.ts";
import { FakeCluster } from "./fake-cluster.ts";

const log = createLogger("test", {}, { write: () => undefined });

class Stop extends Error {}

function reconciler(fake: FakeCluster, afterStatusWrite?: (s: StreamJobStatus) => void) {
  const r = createJobReconciler({
    cluster: fake,
    config: { defaults: { image: "runnel/runnel:test", stateSize: "1Gi" }, resyncMs: 15_000, pollMs: 1_000, ...(afterStatusWrite ? { afterStatusWrite } : {}) },
  });
  return (): Promise<ReconcileResult> => r({ key: "ns/clicks", reconcileId: "r", log, attempt: 0 });
}

/** Runs reconcile/tick rounds (each a second apart) until `until` holds. */
async function drive(fake: FakeCluster, run: () => Promise<ReconcileResult>, until: (s: StreamJobStatus) => boolean, rounds = 60): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    fake.tick();
    await run();
    if (until(fake.status)) return;
    fake.advance(1_000);
  }
  throw new Error(
    `not reached after ${rounds} rounds: ${JSON.stringify({ phase: fake.status.phase, action: fake.status.pendingAction, lastError: fake.status.lastError })}`,
  );
}

const ready = (s: StreamJobStatus): boolean => s.phase === "Running" && !s.pendingAction && s.conditions?.find((c) => c.type === "Ready")?.status === "True";
const cond = (s: StreamJobStatus, type: string) => s.conditions?.find((c) => c.type === type);

async function running(
  spec: ConstructorParameters<typeof FakeCluster>[0] = {},
  options: ConstructorParameters<typeof FakeCluster>[1] = {},
): Promise<FakeCluster> {
  const fake = new FakeCluster({ upgradeMode: "savepoint", savepoint: { storage: { path: "/savepoints", claimName: "sp" } }, ...spec }, options);
  await drive(fake, reconciler(fake), ready);
  return fake;
}

describe("StreamJob reconciler", () => {
  it("deploys a new job to Ready: a generation token, the plan's workers, conditions and counts", async () => {
    const fake = await running();
    const s = fake.status;
    expect(s.jobGeneration).toBe("g1-0123abcd");
    expect(s.jobGenerationCount).toBe(1);
    expect(s.readyWorkers).toBe("2/2");
    expect(s.observedGeneration).toBe(1);
    expect(fake.applied).toHaveLength(1);
    expect(fake.applied[0]).toMatchObject({ jobGeneration: "g1-0123abcd", replicas: 2 });
    expect(fake.applied[0]?.restoreFrom).toBeUndefined();
    expect(cond(s, "Ready")).toMatchObject({ status: "True", reason: "Running" });
    expect(cond(s, "Progressing")?.status).toBe("False");
    expect(cond(s, "Stalled")?.status).toBe("False");
    expect(fake.events.list.map((e) => e.reason)).toEqual(["DeployStarted", "DeployCompleted"]);
  });

  it("upgrades in savepoint mode: stop-with-savepoint on every worker, scale to zero, new generation restored from it", async () => {
    const fake = await running();
    fake.setSpec((s) => void ((s.pipeline?.steps?.[0] as { filter: { condition: string } }).filter.condition = "record.n > 1"));
    await drive(fake, reconciler(fake), (s) => ready(s) && s.jobGeneration === "g2-0123abcd");
    const stops = fake.calls.filter((c) => c.kind === "stop");
    expect(stops.map((c) => c.ordinal).sort()).toEqual([0, 1]);
    expect(new Set(stops.map((c) => c.name)).size).toBe(1);
    const location = `/savepoints/${stops[0]?.name}`;
    expect(fake.applied.at(-1)).toMatchObject({ jobGeneration: "g2-0123abcd", restoreFrom: location, replicas: 2 });
    expect(fake.status.lastSavepoint).toMatchObject({ location, trigger: "upgrade", jobGeneration: "g1-0123abcd" });
    expect(fake.status.restoredFrom).toBe(location);
  });

  it("upgrades in last-state mode within the same generation, and stateless into a fresh one", async () => {
    const last = await running({ upgradeMode: "last-state" });
    last.setSpec((s) => void (s.checkpoint = { interval: "2s" }));
    await drive(last, reconciler(last), (s) => ready(s) && s.currentSpecHash !== undefined && last.applied.length === 2);
    expect(last.calls).toEqual([]);
    expect(last.applied[1]).toMatchObject({ jobGeneration: "g1-0123abcd" });
    expect(last.applied[1]?.restoreFrom).toBeUndefined();

    const fresh = await running({ upgradeMode: "stateless" });
    fresh.setSpec((s) => void (s.checkpoint = { interval: "2s" }));
    await drive(fresh, reconciler(fresh), (s) => ready(s) && s.jobGeneration === "g2-0123abcd");
    expect(fresh.calls).toEqual([]);
    expect(fresh.applied[1]?.restoreFrom).toBeUndefined();
  });

  it("rescales (kubectl scale) through the job's upgrade mode with the new worker count", async () => {
    const fake = await running();
    fake.setSpec((s) => void (s.parallelism = 3));
    await drive(fake, reconciler(fake), (s) => ready(s) && s.parallelism === 3);
    expect(fake.applied.at(-1)).toMatchObject({ replicas: 3, jobGeneration: "g2-0123abcd" });
    expect(fake.status.lastSavepoint?.trigger).toBe("rescale");
    expect(fake.pods.size).toBe(3);
  });

  it("ignores changes that do not affect the workers (restart policy, rollback settings)", async () => {
    const fake = await running();
    fake.setSpec((s) => void (s.restartPolicy = { maxRestarts: 9 }));
    await drive(fake, reconciler(fake), (s) => s.observedGeneration === 2);
    expect(fake.applied).toHaveLength(1);
    expect(fake.calls).toEqual([]);
  });

  it("suspends with a savepoint and resumes from it into a new generation", async () => {
    const fake = await running();
    fake.setSpec((s) => void (s.state = "suspended"));
    await drive(fake, reconciler(fake), (s) => s.phase === "Suspended");
    expect(fake.pods.size).toBe(0);
    expect(fake.status.lastSavepoint?.trigger).toBe("suspend");
    expect(cond(fake.status, "Ready")?.reason).toBe("Suspended");
    fake.setSpec((s) => void (s.state = "running"));
    await drive(fake, reconciler(fake), ready);
    expect(fake.applied.at(-1)).toMatchObject({ jobGeneration: "g2-0123abcd", restoreFrom: fake.status.lastSavepoint?.location });
  });

  it("takes a savepoint on savepointTriggerNonce (once) and for a StreamSavepoint request, keeping the job running", async () => {
    const fake = await running();
    fake.setSpec((s) => void (s.savepointTriggerNonce = 1));
    await drive(fake, reconciler(fake), (s) => s.observedSavepointTriggerNonce === 1 && !s.pendingAction && (s.savepoints?.length ?? 0) === 1);
    fake.requestSavepoint("before-migration");
    await drive(fake, reconciler(fake), () => fake.savepointObjects.get("before-migration")?.status?.state === "Completed");
    expect(fake.calls.every((c) => c.kind === "trigger")).toBe(true);
    expect(fake.calls).toHaveLength(4);
    expect(fake.status.savepoints?.map((s) => s.trigger)).toEqual(["manual", "nonce"]);
    expect(fake.savepointObjects.get("before-migration")?.status).toMatchObject({ state: "Completed", claimName: "sp", jobGeneration: "g1-0123abcd" });
    expect(fake.applied).toHaveLength(1);
  });

  it("stops a crash-looping job per its restart policy: Failed, Stalled, with the exit class and last log line", async () => {
    const fake = new FakeCluster({ restartPolicy: { maxRestarts: 2, window: "10m" } }, { crashing: () => 78 });
    await drive(fake, reconciler(fake), (s) => s.phase === "Failed");
    const s = fake.status;
    expect(fake.sts?.replicas).toBe(0);
    expect(s.lastError).toMatchObject({ reason: "WorkerCrashed", exitCode: 78, exitClass: "configuration" });
    expect(s.lastError?.message).toMatch(/worker \d failed: topic missing/);
    expect(cond(s, "Stalled")).toMatchObject({ status: "True", reason: "CrashLoop" });
    expect(cond(s, "Ready")?.status).toBe("False");
    expect(cond(s, "Degraded")?.message).toContain("exit 78 (configuration)");
    // A new generation of the spec (here: a restart nonce) starts it again.
    fake.setSpec((sp) => void (sp.restartNonce = 1));
    await drive(fake, reconciler(fake), (st) => st.pendingAction?.type === "restart");
    expect(fake.status.observedRestartNonce).toBe(1);
  });

  it("rolls an upgrade that crash-loops back to the last stable spec and its savepoint, and does not retry it", async () => {
    const fake = await running(
      { restartPolicy: { maxRestarts: 2, window: "10m" }, rollback: { stableAfter: "5s" } },
      { crashing: (plan) => (plan.spec.checkpoint?.interval === "9s" ? 78 : undefined) },
    );
    await drive(fake, reconciler(fake), (s) => s.lastStableSpec?.hash !== undefined);
    const stable = fake.status.lastStableSpec?.hash;
    fake.setSpec((s) => void (s.checkpoint = { interval: "9s" }));
    await drive(fake, reconciler(fake), (s) => s.failedSpec?.reason === "RolledBack" && ready(s));
    const s = fake.status;
    expect(s.currentSpecHash).toBe(stable);
    const upgradeSavepoint = fake.calls.find((c) => c.kind === "stop")?.name;
    expect(fake.applied.at(-1)).toMatchObject({ jobGeneration: "g3-0123abcd", restoreFrom: `/savepoints/${upgradeSavepoint}` });
    expect(cond(s, "Degraded")?.reason).toBe("RolledBack");
    expect(cond(s, "Stalled")?.status).toBe("True");
    const applies = fake.applied.length;
    for (let i = 0; i < 5; i++) {
      fake.tick();
      await reconciler(fake)();
      fake.advance(1_000);
    }
    expect(fake.applied.length).toBe(applies);
  });

  it("keeps a running job on its last valid spec when a bad spec arrives, naming the field", async () => {
    const fake = await running();
    fake.setSpec((s) => void ((s.pipeline?.steps?.[0] as { input: string }).input = "nowhere"));
    await drive(fake, reconciler(fake), (s) => s.observedGeneration === 2);
    const s = fake.status;
    expect(fake.applied).toHaveLength(1);
    expect(cond(s, "Ready")?.status).toBe("True");
    expect(cond(s, "Degraded")).toMatchObject({ status: "True", reason: "InvalidSpec" });
    expect(cond(s, "Degraded")?.message).toContain("spec.pipeline.steps[0].input");
    expect(cond(s, "Stalled")?.reason).toBe("InvalidSpec");
    expect(fake.events.list.some((e) => e.reason === "InvalidSpec")).toBe(true);
  });

  it("aborts an upgrade whose savepoint fails: the old spec keeps running and the spec is not retried", async () => {
    const fake = await running({}, { failSavepoints: "drain timed out" });
    fake.setSpec((s) => void (s.checkpoint = { interval: "3s" }));
    await drive(fake, reconciler(fake), (s) => s.failedSpec?.reason === "SavepointFailed");
    expect(fake.applied).toHaveLength(1);
    expect(fake.pods.size).toBe(2);
    expect(cond(fake.status, "Degraded")?.reason).toBe("SavepointFailed");
  });

  it("reports lag and checkpoint progress read from the workers", async () => {
    const fake = await running();
    fake.tick();
    await reconciler(fake)();
    expect(fake.status.lag).toBe(14);
    expect(fake.status.lastCheckpoint?.count).toBe(6);
  });
});

describe("the write-ahead log", () => {
  it("an operator stopped after any status write of a savepoint upgrade resumes and completes it once", async () => {
    let writesInUpgrade = 0;
    {
      const fake = await running();
      const before = fake.statusWrites;
      fake.setSpec((s) => void (s.checkpoint = { interval: "3s" }));
      await drive(fake, reconciler(fake), (s) => ready(s) && s.jobGeneration === "g2-0123abcd");
      writesInUpgrade = fake.statusWrites - before;
    }
    expect(writesInUpgrade).toBeGreaterThan(4);
    for (let stopAt = 1; stopAt <= writesInUpgrade; stopAt++) {
      const fake = await running();
      fake.setSpec((s) => void (s.checkpoint = { interval: "3s" }));
      let writes = 0;
      const dying = reconciler(fake, () => {
        if (++writes === stopAt) throw new Stop(`stopped after status write ${stopAt}`);
      });
      await expect(drive(fake, dying, () => false)).rejects.toThrow(Stop);
      // A new operator process: nothing in memory, only the status.
      await drive(fake, reconciler(fake), (s) => ready(s) && s.jobGeneration === "g2-0123abcd");
      const stops = fake.calls.filter((c) => c.kind === "stop");
      expect(stops.map((c) => c.ordinal).sort(), `stop requests accepted, stopped after write ${stopAt}`).toEqual([0, 1]);
      expect(fake.status.jobGenerationCount, `generations started, stopped after write ${stopAt}`).toBe(2);
      expect(fake.status.savepoints, `savepoints recorded, stopped after write ${stopAt}`).toHaveLength(1);
      expect(fake.applied.filter((p) => p.jobGeneration === "g2-0123abcd").length).toBe(1);
    }
  });
});
