// The operator installed with its chart and a job installed with a chart, on the real control plane
// (the operator runs as pods of the chart's Deployment through the node agent, with the chart's
// ServiceAccount and namespaced RBAC): both namespaces enforce the `restricted` Pod Security
// Standard, so the apiserver admits the operator's pods, the workers and the savepoint disposers
// only if they meet it. `helm install` → Ready; `helm upgrade` with a changed value → one savepoint
// upgrade; `helm rollback` → one more, back; a values-only change → none; output exactly once (Java
// read_committed); `helm uninstall` removes the job's objects and leaves its savepoints except the
// one whose StreamSavepoint says disposeOnDelete; uninstalling the operator keeps the CRDs. The
// operator's log shows no refused request. On the way the Argo CD health check judges the live
// objects, which (with RUNNEL_WRITE_FIXTURES=1) are written to test/fixtures/argocd/.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StreamJob, StreamSavepoint } from "../../runtime/spec/generated/types.ts";
import { repoRoot } from "../env/lib/layout.ts";
import { evaluateHealth, judgeHealth as judge } from "../helpers/argocd-health.ts";
import { canI, describeAccess, installOperatorChart, serviceAccountToken, valueArgs } from "../helpers/chart.ts";
import { createCountJob, produce, produceFlush, type CountJob } from "../helpers/distributed.ts";
import { uniqueName } from "../helpers/env.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { createRestrictedNamespace, kubeConfig, waitFor, type TestNamespace } from "../helpers/kube.ts";
import { countStreamJob, createSavepointClaim, expectExactlyOnceWithJava, installCrds, isReady, readJob, waitForJob } from "../helpers/operator.ts";
import { mustRun, runTool } from "../helpers/tools.ts";

const JOB_CHART = join(repoRoot, "test/fixtures/charts/count-job");
function upgradeSavepoints(job: StreamJob): number {
  return (job.status?.savepoints ?? []).filter((s) => s.trigger === "upgrade").length;
}

describe("helm: the operator chart and a job chart, restricted namespaces, upgrade, rollback, uninstall", () => {
  const k = kafkaAdminHooks();
  const operatorRelease = uniqueName("runnel");
  const jobRelease = uniqueName("countjob");
  const fullname = `${operatorRelease}-runnel-operator`;
  const namespaces: TestNamespace[] = [];
  let own = "";
  let jobs = "";
  let job: CountJob;
  let spec: Record<string, unknown>;

  const helmJob = (verb: "install" | "upgrade", values: Record<string, unknown>) =>
    mustRun("helm", [verb, jobRelease, JOB_CHART, "-n", jobs, ...valueArgs({ name: job.name, spec, ...values })], { timeoutMs: 120_000 });

  beforeAll(async () => {
    installCrds();
    for (const prefix of ["helm-op", "helm-jobs"]) namespaces.push(await createRestrictedNamespace(prefix));
    [own, jobs] = namespaces.map((n) => n.name) as [string, string];
    createSavepointClaim(jobs);
    job = await createCountJob(k.admin, 4);
    spec = countStreamJob(job, { namespace: jobs, workers: 2, upgradeMode: "savepoint", savepointClaim: "savepoints" }).spec as Record<string, unknown>;
  });
  afterAll(() => {
    runTool("helm", ["uninstall", jobRelease, "-n", jobs, "--wait", "--timeout", "2m"], { timeoutMs: 180_000 });
    runTool("helm", ["uninstall", operatorRelease, "-n", own]);
    for (const n of namespaces) n.cleanup();
  });

  it("installs the operator: two restricted pods with the chart's ServiceAccount, one holding the Lease", async () => {
    installOperatorChart(operatorRelease, own, [jobs]);
    const pods = (
      await kubeConfig()
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: own, labelSelector: `app.kubernetes.io/instance=${operatorRelease}` })
    ).items;
    expect(pods).toHaveLength(2);
    for (const p of pods) expect(p.spec?.serviceAccountName).toBe(fullname);
    const holder = await waitFor(
      "the Lease holder",
      () => mustRun("kubectl", ["get", "lease", fullname, "-n", own, "-o", "jsonpath={.spec.holderIdentity}"]) || undefined,
      { timeoutMs: 120_000 },
    );
    expect(pods.map((p) => p.metadata?.name)).toContain(holder.replace(/-[a-z0-9]{6}$/, ""));
  });

  it("installs a job chart: the StreamJob becomes Ready, its workers admitted under restricted", async () => {
    await produce(k.kafka, job, 2000);
    helmJob("install", { revision: 1 });
    const created = await readJob(jobs, job.name);
    if ((created.status?.observedGeneration ?? 0) < (created.metadata?.generation ?? 1)) judge("StreamJob", created, "Progressing", "streamjob-not-observed");
    const ready = await waitForJob(jobs, job.name, "Ready", isReady, 300_000);
    judge("StreamJob", ready, "Healthy", "streamjob-ready");
    expect(ready.status?.jobGenerationCount).toBe(1);
  });

  it("helm upgrade with a changed value performs one savepoint upgrade; helm rollback another, back", async () => {
    const before = await readJob(jobs, job.name);
    await produce(k.kafka, job, 1000);
    helmJob("upgrade", { revision: 2 });
    const during = await waitForJob(jobs, job.name, "upgrade in progress", (s) => s.pendingAction?.type === "upgrade", 120_000);
    judge("StreamJob", during, "Progressing", "streamjob-upgrading");
    await produce(k.kafka, job, 1000);
    const upgraded = await waitForJob(jobs, job.name, "upgraded and Ready", (s) => isReady(s) && s.jobGeneration !== before.status?.jobGeneration, 300_000);
    expect(upgraded.status?.jobGenerationCount).toBe(2);
    expect(upgradeSavepoints(upgraded)).toBe(1);
    expect(upgraded.status?.lastSavepoint?.jobGeneration).toBe(before.status?.jobGeneration);
    expect(upgraded.status?.restoredFrom).toBe(upgraded.status?.lastSavepoint?.location);

    mustRun("helm", ["rollback", jobRelease, "1", "-n", jobs], { timeoutMs: 120_000 });
    await produce(k.kafka, job, 1000);
    const back = await waitForJob(jobs, job.name, "rolled back and Ready", (s) => isReady(s) && s.jobGeneration !== upgraded.status?.jobGeneration, 300_000);
    expect(back.status?.jobGenerationCount).toBe(3);
    expect(upgradeSavepoints(back)).toBe(2);
    const env = (back.spec.podTemplate?.env ?? []) as { name: string; value?: string }[];
    expect(env).toEqual([{ name: "COUNT_JOB_REVISION", value: "1" }]);

    // A release change that leaves the job's spec alone upgrades nothing.
    helmJob("upgrade", {
      revision: 1,
      savepoints: [
        { name: "keep-me", disposeOnDelete: false },
        { name: "dispose-me", disposeOnDelete: true },
      ],
    });
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    for (const name of ["keep-me", "dispose-me"]) {
      const sp = await waitFor(
        `StreamSavepoint ${name} Completed`,
        async () => {
          const o = (await api.getNamespacedCustomObject({
            group: "runnel.dev",
            version: "v1alpha1",
            plural: "streamsavepoints",
            namespace: jobs,
            name,
          })) as StreamSavepoint;
          return o.status?.state === "Completed" && o.status.observedGeneration === o.metadata?.generation ? o : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 1000 },
      );
      judge("StreamSavepoint", sp, "Healthy", `streamsavepoint-${name === "keep-me" ? "completed" : "completed-dispose-on-delete"}`);
    }
    const still = await waitForJob(jobs, job.name, "Ready", isReady);
    expect(still.status?.jobGenerationCount).toBe(3);

    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });

  it("a helm upgrade with a spec the schema cannot judge shows Degraded; helm rollback clears it with no upgrade", async () => {
    const savepoints = [
      { name: "keep-me", disposeOnDelete: false },
      { name: "dispose-me", disposeOnDelete: true },
    ];
    const bad = structuredClone(spec) as { pipeline: { sinks: { input: string }[] } };
    const sink = bad.pipeline.sinks[0];
    if (sink) sink.input = "per-secnd";
    helmJob("upgrade", { revision: 1, spec: bad, savepoints });
    const degraded = await waitForJob(jobs, job.name, "InvalidSpec reported", (s) =>
      (s.conditions ?? []).some((c) => c.type === "Degraded" && c.status === "True" && c.reason === "InvalidSpec"),
    );
    judge("StreamJob", degraded, "Degraded", "streamjob-degraded-invalid-spec");
    mustRun("helm", ["rollback", jobRelease, "-n", jobs], { timeoutMs: 120_000 });
    const healed = await waitForJob(
      jobs,
      job.name,
      "valid again",
      (s, j) =>
        s.observedGeneration === j.metadata?.generation && (s.conditions ?? []).some((c) => c.type === "Degraded" && c.status === "False") && isReady(s),
    );
    expect(evaluateHealth("StreamJob", healed).status).toBe("Healthy");
    expect(healed.status?.jobGenerationCount).toBe(3);
  });

  it("suspends through the chart's values and shows Suspended", async () => {
    helmJob("upgrade", {
      revision: 1,
      spec: { ...spec, state: "suspended" },
      savepoints: [
        { name: "keep-me", disposeOnDelete: false },
        { name: "dispose-me", disposeOnDelete: true },
      ],
    });
    const suspended = await waitForJob(jobs, job.name, "Suspended", (s) => s.phase === "Suspended", 300_000);
    judge("StreamJob", suspended, "Suspended", "streamjob-suspended");
  });

  it("helm uninstall of the job removes its objects and leaves its savepoints, except disposeOnDelete's", async () => {
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    const location = async (name: string) =>
      (
        (await api.getNamespacedCustomObject({
          group: "runnel.dev",
          version: "v1alpha1",
          plural: "streamsavepoints",
          namespace: jobs,
          name,
        })) as StreamSavepoint
      ).status?.location ?? "";
    const keep = await location("keep-me");
    const dispose = await location("dispose-me");
    const last = await readJob(jobs, job.name);
    const volume = mustRun("kubectl", [
      "get",
      "pv",
      mustRun("kubectl", ["get", "pvc", "savepoints", "-n", jobs, "-o", "jsonpath={.spec.volumeName}"]),
      "-o",
      "jsonpath={.spec.hostPath.path}",
    ]);
    const onDisk = (loc: string) => existsSync(join(volume, loc.replace(/^\/savepoints\/?/, "")));
    expect(onDisk(keep) && onDisk(dispose)).toBe(true);

    mustRun("helm", ["uninstall", jobRelease, "-n", jobs, "--wait", "--timeout", "3m"], { timeoutMs: 240_000 });
    await waitFor(
      "the job's objects gone",
      () => {
        const left = mustRun("kubectl", [
          "get",
          "statefulsets,pods,configmaps,secrets,services,poddisruptionbudgets,streamjobs,streamsavepoints",
          "-n",
          jobs,
          "-l",
          `runnel.dev/job=${job.name}`,
          "-o",
          "name",
        ]);
        const jobsLeft = mustRun("kubectl", ["get", "streamjobs,streamsavepoints", "-n", jobs, "-o", "name"]);
        return left.trim() === "" && jobsLeft.trim() === "";
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    expect(onDisk(keep)).toBe(true);
    expect(onDisk(dispose)).toBe(false);
    // The job's own savepoints (upgrades, the suspension, and the keep-me one) outlive it.
    const history = (last.status?.savepoints ?? []).filter((sp) => sp.location !== dispose);
    expect(history.map((sp) => sp.trigger)).toEqual(expect.arrayContaining(["upgrade", "suspend"]));
    for (const sp of history) expect(onDisk(sp.location ?? ""), sp.location).toBe(true);
    expect(readdirSync(join(volume, job.name)).length).toBeGreaterThanOrEqual(3);
  });

  it("made no request the apiserver refused, and uninstalling the operator keeps the CRDs", async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const pods = (await core.listNamespacedPod({ namespace: own, labelSelector: `app.kubernetes.io/instance=${operatorRelease}` })).items;
    for (const p of pods) {
      const log = await core.readNamespacedPodLog({ name: p.metadata?.name ?? "", namespace: own, container: "operator" });
      expect(log, p.metadata?.name).not.toMatch(/HTTP 403|forbidden/i);
    }
    // It made its key Secret and runs under RBAC that cannot read a job's token Secret back (ADR 28).
    expect(mustRun("kubectl", ["get", "secret", `${fullname}-admin-key`, "-n", own, "-o", "name"]).trim()).toBe(`secret/${fullname}-admin-key`);
    const token = serviceAccountToken(own, fullname);
    const secretReads = ["get", "list", "watch"].map((verb) => ({ verb, resource: "secrets", namespace: jobs }));
    expect(secretReads.filter((a) => canI(token, a)).map(describeAccess)).toEqual([]);
    expect(canI(token, { verb: "create", resource: "secrets", namespace: jobs })).toBe(true);
    mustRun("helm", ["uninstall", operatorRelease, "-n", own, "--wait"], { timeoutMs: 180_000 });
    expect(
      mustRun("kubectl", [
        "get",
        "deployments,serviceaccounts,roles,rolebindings,services",
        "-n",
        own,
        "-l",
        `app.kubernetes.io/instance=${operatorRelease}`,
        "-o",
        "name",
      ]).trim(),
    ).toBe("");
    expect(
      mustRun("kubectl", ["get", "roles,rolebindings,networkpolicies", "-n", jobs, "-l", `app.kubernetes.io/instance=${operatorRelease}`, "-o", "name"]).trim(),
    ).toBe("");
    expect(runTool("kubectl", ["get", "crd", "streamjobs.runnel.dev", "streamsavepoints.runnel.dev"]).status).toBe(0);
  });
});
