// Two operator replicas (real control plane): only the Lease holder acts — the standby's caches
// are warm but it never writes — and when the leader is killed with kill -9 the standby takes the
// Lease and finishes the work, exactly as if it had been the leader from the start.
import { readFileSync } from "node:fs";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCountJob, produce, produceFlush } from "../helpers/distributed.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { createNamespace, kubeConfig, kubectl, waitFor, type TestNamespace } from "../helpers/kube.ts";
import {
  applyManifest,
  countStreamJob,
  expectExactlyOnceWithJava,
  installCrds,
  isReady,
  startOperator,
  waitForJob,
  type OperatorProcess,
} from "../helpers/operator.ts";

/** Lines of an operator's log where it acted on a job (began an action or wrote a status). */
function actions(op: OperatorProcess): number {
  return readFileSync(op.log, "utf8")
    .split("\n")
    .filter((l) => /"msg":"(beginning an action|status written)"/.test(l)).length;
}

async function leaderMetric(op: OperatorProcess): Promise<number> {
  const text = await (await fetch(`${await op.url()}/metrics`)).text();
  return Number(/^runnel_operator_leader (\d+)/m.exec(text)?.[1] ?? NaN);
}

describe("operator: two replicas, one leader", () => {
  const k = kafkaAdminHooks();
  let ns: TestNamespace;
  const ops: OperatorProcess[] = [];
  const lease = kubeConfig().makeApiClient(CoordinationV1Api);

  beforeAll(async () => {
    installCrds();
    ns = await createNamespace("op-leader");
  });
  afterAll(async () => {
    for (const op of ops) await op.kill9();
    ns?.cleanup();
  });

  it("acts only on the Lease holder; a killed leader is replaced by the standby, which completes the work", async () => {
    const a = startOperator({ namespace: ns.name, identity: "replica-a" });
    ops.push(a);
    const holder = async (): Promise<string | undefined> =>
      (await lease.readNamespacedLease({ name: "runnel-operator", namespace: ns.name }).catch(() => undefined))?.spec?.holderIdentity;
    await waitFor("replica-a to lead", async () => (await holder()) === "replica-a", { timeoutMs: 60_000 });
    const b = startOperator({ namespace: ns.name, identity: "replica-b" });
    ops.push(b);
    await b.url();
    expect(await leaderMetric(a)).toBe(1);
    expect(await leaderMetric(b)).toBe(0);
    // A standby is ready (its caches are synced) without leading: a rollout never waits on leadership.
    await waitFor("replica-b ready", async () => (await (await fetch(`${await b.url()}/readyz`)).text()) === "ok\n");

    const job = await createCountJob(k.admin, 4);
    await produce(k.kafka, job, 1500);
    const manifest = countStreamJob(job, { namespace: ns.name, workers: 1 });
    applyManifest(manifest);
    await waitForJob(ns.name, job.name, "Ready", isReady);
    expect(actions(a)).toBeGreaterThan(0);
    expect(actions(b)).toBe(0);

    await a.kill9();
    kubectl(["scale", `sj/${job.name}`, "-n", ns.name, "--replicas=2"]);
    await produce(k.kafka, job, 1500);
    await waitFor("replica-b to take the Lease", async () => (await holder()) === "replica-b", { timeoutMs: 90_000 });
    await waitForJob(ns.name, job.name, "rescaled by the new leader", (s) => isReady(s) && s.parallelism === 2, 300_000);
    expect(actions(b)).toBeGreaterThan(0);
    expect(await leaderMetric(b)).toBe(1);
    const transitions = (await lease.readNamespacedLease({ name: "runnel-operator", namespace: ns.name })).spec?.leaseTransitions;
    expect(transitions).toBeGreaterThanOrEqual(1);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });
});
