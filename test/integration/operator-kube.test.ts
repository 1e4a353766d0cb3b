// The operator's Kubernetes machinery on the real apiserver: informers (list + watch, a 410 Gone
// from a stale resourceVersion relisted, a silent watch restarted by the watchdog), Lease leader
// election (one leader; a dead leader replaced after the lease duration; a stopping leader hands
// over at once), and server-side apply of children under one field manager.
import type { V1ConfigMap } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../runtime/log.ts";
import { applyObject, FIELD_MANAGER, makeClients, type KubeClients } from "../../operator/kube/client.ts";
import { createInformer, type InformerSource } from "../../operator/kube/informer.ts";
import { startLeaderElection, type LeaderElection } from "../../operator/kube/leader.ts";
import { sourcesFor } from "../../operator/kube/resources.ts";
import { deriveAdminToken, loadAdminKey } from "../../operator/kube/admin-key.ts";
import { createCaches, type Caches } from "../../operator/kube/caches.ts";
import { createEventRecorder } from "../../operator/kube/events.ts";
import { kubeJobCluster } from "../../operator/streamjob/kube-cluster.ts";
import { specHash, validateJob } from "../../operator/streamjob/spec.ts";
import { httpWorkerAdmin } from "../../operator/streamjob/worker-admin.ts";
import { applyManifest, installCrds, readJob } from "../helpers/operator.ts";
import type { StreamJob } from "../../runtime/spec/generated/types.ts";
import { testJob } from "../helpers/streamjob.ts";
import { createNamespace, kubeConfig, waitFor, type TestNamespace } from "../helpers/kube.ts";

const log = createLogger("test", {}, { write: () => undefined });

describe("operator machinery on the real apiserver", () => {
  let ns: TestNamespace;
  let clients: KubeClients;

  beforeAll(async () => {
    ns = await createNamespace("op-kube");
    clients = makeClients(kubeConfig());
  });
  afterAll(() => ns.cleanup());

  function configMap(name: string, data: Record<string, string> = { a: "1" }): V1ConfigMap {
    return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns.name, labels: { "app.kubernetes.io/managed-by": "runnel-operator" } }, data };
  }

  it("keeps a cache by list + watch: adds, updates and deletes arrive as events", async () => {
    const [source] = sourcesFor<V1ConfigMap>(clients, "configmaps", [ns.name]);
    const informer = createInformer({ source: source as InformerSource<V1ConfigMap>, watch: clients.watch, log });
    const events: string[] = [];
    informer.on((e, obj) => events.push(`${e}:${obj.metadata?.name}`));
    await applyObject(clients, configMap("before"));
    await informer.start();
    expect(informer.get(ns.name, "before")?.data).toEqual({ a: "1" });
    await applyObject(clients, configMap("after"));
    await applyObject(clients, configMap("before", { a: "2" }));
    await clients.core.deleteNamespacedConfigMap({ name: "after", namespace: ns.name });
    await waitFor("the watch events", () => events.includes("delete:after") && informer.get(ns.name, "before")?.data?.a === "2");
    expect(events).toEqual(["add:before", "add:after", "update:before", "delete:after"]);
    // Unlabelled objects are not the operator's: the label selector keeps them out of the cache.
    await clients.core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: "foreign" } } });
    await applyObject(clients, configMap("marker"));
    await waitFor("the marker", () => informer.get(ns.name, "marker"));
    expect(informer.get(ns.name, "foreign")).toBeUndefined();
    informer.stop();
  });

  it("relists when the apiserver answers 410 Gone to a resourceVersion too old to watch from", async () => {
    // StreamJobs, not a built-in kind: the apiserver's watch cache of a custom resource starts at
    // the revision its CRD was established at, so a watch from revision 2 is always too old for it
    // (a built-in kind's cache may start at the first revisions of a fresh cluster and replay them).
    installCrds();
    const [real] = sourcesFor<StreamJob>(clients, "streamjobs", [ns.name]);
    const source = real as InformerSource<StreamJob>;
    let lists = 0;
    // The first answer carries a resourceVersion long compacted away (as a lagging cache might).
    const stale: InformerSource<StreamJob> = {
      ...source,
      list: async () => ({ ...(await source.list()), ...(lists++ === 0 ? { resourceVersion: "2" } : {}) }),
    };
    const restarts: string[] = [];
    const informer = createInformer({ source: stale, watch: clients.watch, log, onRestart: (r) => restarts.push(r) });
    await informer.start();
    await waitFor("a relist after 410", () => lists >= 2);
    expect(restarts[0]).toBe("expired");
    // Pinned to a node that does not exist: no operator runs here, and nothing would start anyway.
    const spec = { ...testJob().spec, parallelism: 1, podTemplate: { nodeSelector: { "runnel.dev/test": "nowhere" } } };
    applyManifest({ apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name: "after-relist", namespace: ns.name }, spec });
    await waitFor("an event after the relist", () => informer.get(ns.name, "after-relist"));
    informer.stop();
  });

  it("restarts a watch that stays silent past the watchdog, and still sees later changes", async () => {
    const quiet = await createNamespace("op-quiet");
    try {
      const [source] = sourcesFor<V1ConfigMap>(clients, "configmaps", [quiet.name]);
      const restarts: string[] = [];
      const informer = createInformer({
        source: source as InformerSource<V1ConfigMap>,
        watch: clients.watch,
        log,
        watchdogMs: 1_500,
        onRestart: (r) => restarts.push(r),
      });
      await informer.start();
      await waitFor("a watchdog restart", () => restarts.includes("watchdog"), { timeoutMs: 20_000 });
      await applyObject(clients, { ...configMap("late"), metadata: { ...configMap("late").metadata, namespace: quiet.name } });
      await waitFor("the change after the restart", () => informer.get(quiet.name, "late"));
      informer.stop();
    } finally {
      quiet.cleanup();
    }
  });

  it("elects one leader per Lease; a dead leader is replaced after the lease duration, a stopping one at once", async () => {
    const leaders: string[] = [];
    const lost: string[] = [];
    const candidate = (identity: string, releaseOnStop = true): LeaderElection =>
      startLeaderElection({
        releaseOnStop,
        clients,
        namespace: ns.name,
        name: "op-lease",
        identity,
        log,
        leaseDurationMs: 3_000,
        renewDeadlineMs: 2_000,
        retryPeriodMs: 300,
        onStartedLeading: () => leaders.push(identity),
        onStoppedLeading: () => lost.push(identity),
      });
    const a = candidate("a", false);
    await waitFor("a leader", () => leaders.length === 1);
    const b = candidate("b");
    await new Promise((r) => setTimeout(r, 2_000));
    expect(leaders).toEqual(["a"]);
    expect(a.isLeader() && !b.isLeader()).toBe(true);
    // A leader that dies renews no more and releases nothing: b waits out the lease, then takes it.
    const { holderIdentity: before } = (await clients.coordination.readNamespacedLease({ name: "op-lease", namespace: ns.name })).spec ?? {};
    expect(before).toBe("a");
    const diedAt = Date.now();
    await a.stop();
    await waitFor("b to take over", () => leaders.includes("b"), { timeoutMs: 20_000 });
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(2_500);
    const lease = await clients.coordination.readNamespacedLease({ name: "op-lease", namespace: ns.name });
    expect(lease.spec?.holderIdentity).toBe("b");
    expect(lease.spec?.leaseTransitions).toBe(1);
    // A leader that stops releases the Lease: c takes it well within the lease duration.
    const c = candidate("c");
    await new Promise((r) => setTimeout(r, 500));
    const stoppedAt = Date.now();
    await b.stop();
    await waitFor("c to take over", () => leaders.includes("c"), { timeoutMs: 10_000 });
    expect(Date.now() - stoppedAt).toBeLessThan(3_000);
    await c.stop();
    expect(lost).toEqual([]);
  });

  it("watches the namespaces it is given, or all of them", async () => {
    const other = await createNamespace("op-other");
    const third = await createNamespace("op-third");
    try {
      for (const n of [ns.name, other.name, third.name])
        await applyObject(clients, { ...configMap("scoped"), metadata: { ...configMap("scoped").metadata, namespace: n } });
      const two = createCaches({ clients, namespaces: [ns.name, other.name], log });
      const all = createCaches({ clients, namespaces: undefined, log });
      await Promise.all([two.start(), all.start()]);
      expect(two.configmaps.get(ns.name, "scoped")).toBeDefined();
      expect(two.configmaps.get(other.name, "scoped")).toBeDefined();
      expect(two.configmaps.get(third.name, "scoped")).toBeUndefined();
      expect(two.configmaps.list(other.name).map((c) => c.metadata?.name)).toEqual(["scoped"]);
      expect([ns.name, other.name, third.name].every((n) => all.configmaps.get(n, "scoped") !== undefined)).toBe(true);
      two.stop();
      all.stop();
    } finally {
      other.cleanup();
      third.cleanup();
    }
  });

  it("applies children server-side under one field manager, idempotently", async () => {
    const first = await applyObject(clients, configMap("applied", { a: "1" }));
    const again = await applyObject(clients, configMap("applied", { a: "1" }));
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const managers = (again.metadata?.managedFields ?? []).map((m) => m.manager);
    expect(managers).toEqual([FIELD_MANAGER]);
    const changed = await applyObject(clients, configMap("applied", { a: "2" }));
    expect(changed.data).toEqual({ a: "2" });
  });
});

describe("the operator's children on the real apiserver", () => {
  let ns: TestNamespace;
  let clients: KubeClients;
  let caches: Caches;

  beforeAll(async () => {
    installCrds();
    ns = await createNamespace("op-children");
    clients = makeClients(kubeConfig());
    caches = createCaches({ clients, namespaces: [ns.name], log });
    await caches.start();
  });
  afterAll(() => {
    caches?.stop();
    ns?.cleanup();
  });

  /** The operator's cluster over the real apiserver, with no workers to talk to and a disposer that does nothing. */
  const clusterWith = (adminKey: Buffer, tokenRecheckMs?: number) =>
    kubeJobCluster({
      clients,
      caches,
      defaults: { image: "runnel/runnel:test", stateSize: "1Gi" },
      adminKey,
      admin: httpWorkerAdmin(),
      disposer: { dispose: async () => ({ state: "done" }) },
      events: createEventRecorder({ clients, identity: "test", log }),
      log,
      ...(tokenRecheckMs === undefined ? {} : { tokenRecheckMs }),
    });

  it("creates a job's children once, and replaces a StatefulSet whose immutable fields changed, adopting its pods", async () => {
    // A job nobody runs (no operator here): its pods can never be scheduled, so they stay put.
    const spec = { ...testJob().spec, parallelism: 1, podTemplate: { nodeSelector: { "runnel.dev/test": "nowhere" } } };
    applyManifest({ apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name: "kids", namespace: ns.name }, spec });
    const job = await readJob(ns.name, "kids");
    // The operator's key: created when missing, the same key on every later start.
    const adminKey = await loadAdminKey({ clients, namespace: ns.name, name: "op-admin-key" });
    expect(await loadAdminKey({ clients, namespace: ns.name, name: "op-admin-key" })).toEqual(adminKey);
    const cluster = clusterWith(adminKey);
    const v = await validateJob(job);
    if (!v.valid) throw new Error("invalid job");
    const plan = { spec: v.spec, specHash: specHash(v.spec), jobGeneration: "g1-test", replicas: 1 };
    await cluster.applyWorkers(job, plan);
    const sts = await waitFor("the StatefulSet in the cache", () => caches.statefulsets.get(ns.name, "kids"));
    await waitFor("the ConfigMap in the cache", () => caches.configmaps.get(ns.name, `kids-spec-${plan.specHash.slice(0, 10)}`));
    // The workers' token Secret holds the token derived from the operator's key (the operator never reads it back).
    const tokenOf = async () =>
      Buffer.from((await clients.core.readNamespacedSecret({ namespace: ns.name, name: "kids-admin-token" })).data?.token ?? "", "base64").toString("utf8");
    expect(await tokenOf()).toBe(deriveAdminToken(adminKey, job));
    expect(cluster.observe(ns.name, "kids")?.adminToken).toBe(deriveAdminToken(adminKey, job));
    const pod = await waitFor("the pod", () => caches.pods.get(ns.name, "kids-0"));
    // Applying the same plan again changes nothing: no write, the token stays.
    await cluster.applyWorkers(job, plan);
    // (the StatefulSet controller keeps writing its status: its spec generation is what tells a write)
    expect(caches.statefulsets.get(ns.name, "kids")?.metadata?.generation).toBe(sts.metadata?.generation);
    const ourTime = (o: typeof sts | undefined) => o?.metadata?.managedFields?.find((m) => m.manager === FIELD_MANAGER)?.time;
    expect(ourTime(caches.statefulsets.get(ns.name, "kids"))).toEqual(ourTime(sts));
    expect(await tokenOf()).toBe(deriveAdminToken(adminKey, job));
    // A bigger state volume is a change to the volumeClaimTemplates, which the apiserver refuses to update.
    const bigger = { ...plan, spec: { ...plan.spec, stateStorage: { size: "2Gi" } } };
    // The first attempt deletes it (pods orphaned) and asks to be retried; a retry creates it once it is gone.
    await expect(cluster.applyWorkers(job, bigger)).rejects.toMatchObject({ status: 409, retriable: true });
    await waitFor("the StatefulSet created again", async () => {
      await cluster.applyWorkers(job, bigger);
      return true;
    });
    const replaced = await waitFor("the new StatefulSet", () => {
      const s = caches.statefulsets.get(ns.name, "kids");
      return s && s.metadata?.uid !== sts.metadata?.uid ? s : undefined;
    });
    expect(replaced.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage).toBe("2Gi");
    const adopted = await waitFor("the pod adopted", () => {
      const p = caches.pods.get(ns.name, "kids-0");
      return p?.metadata?.ownerReferences?.some((o) => o.uid === replaced.metadata?.uid) ? p : undefined;
    });
    expect(adopted.metadata?.uid).toBe(pod.metadata?.uid);
  });

  it("creates a deleted admin token Secret again while the workers are not all ready, at most once per recheck interval", async () => {
    const spec = { ...testJob().spec, parallelism: 1, podTemplate: { nodeSelector: { "runnel.dev/test": "nowhere" } } };
    applyManifest({ apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name: "tokens", namespace: ns.name }, spec });
    const job = await readJob(ns.name, "tokens");
    const adminKey = await loadAdminKey({ clients, namespace: ns.name, name: "op-admin-key" });
    const v = await validateJob(job);
    if (!v.valid) throw new Error("invalid job");
    const plan = { spec: v.spec, specHash: specHash(v.spec), jobGeneration: "g1-test", replicas: 1 };
    const secret = async () =>
      clients.core.readNamespacedSecret({ namespace: ns.name, name: "tokens-admin-token" }).then(
        (s) => Buffer.from(s.data?.token ?? "", "base64").toString("utf8"),
        () => undefined,
      );
    const deleteSecret = async () => {
      await clients.core.deleteNamespacedSecret({ namespace: ns.name, name: "tokens-admin-token" });
      await waitFor("the Secret gone", async () => ((await secret()) === undefined ? true : undefined));
    };
    // Its pods can never be scheduled: the workers are not ready.
    const patient = clusterWith(adminKey, 3_600_000);
    await patient.applyWorkers(job, plan);
    await waitFor("the StatefulSet in the cache", () => caches.statefulsets.get(ns.name, "tokens"));
    expect(await secret()).toBe(deriveAdminToken(adminKey, job));
    await deleteSecret();
    await patient.applyWorkers(job, plan);
    expect(await secret()).toBeUndefined();
    // With the interval passed, the next reconcile creates it again, with the same derived token.
    const eager = clusterWith(adminKey, 0);
    await eager.applyWorkers(job, plan);
    await deleteSecret();
    await eager.applyWorkers(job, plan);
    expect(await secret()).toBe(deriveAdminToken(adminKey, job));
  });

  it("writes a status whose spec copies keep their empty objects (a union step's `union: {}`), and drops empty status fields", async () => {
    const spec = {
      ...testJob().spec,
      pipeline: {
        sources: [{ id: "in", kafka: { topic: "status-probe" } }],
        steps: [{ id: "both", inputs: ["in", "in"], union: {} }],
        sinks: [{ id: "out", input: "both", stdout: {} }],
      },
    };
    applyManifest({ apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name: "status-probe", namespace: ns.name }, spec });
    const job = await readJob(ns.name, "status-probe");
    const cluster = clusterWith(await loadAdminKey({ clients, namespace: ns.name, name: "op-admin-key" }));
    await cluster.writeStatus(job, {
      phase: "Running",
      currentSpec: job.spec as unknown as Record<string, unknown>,
      lastStableSpec: { hash: "h", spec: job.spec as unknown as Record<string, unknown> },
      pendingAction: { type: "upgrade", targetSpecHash: "h", targetSpec: job.spec as unknown as Record<string, unknown> },
      workers: {},
    } as never);
    const status = (await readJob(ns.name, "status-probe")).status as Record<
      string,
      { pipeline?: unknown; spec?: { pipeline?: unknown }; targetSpec?: { pipeline?: unknown } }
    >;
    const union = { id: "both", inputs: ["in", "in"], union: {} };
    expect((status.currentSpec?.pipeline as { steps: unknown[] }).steps[0]).toMatchObject(union);
    expect((status.lastStableSpec?.spec?.pipeline as { steps: unknown[] }).steps[0]).toMatchObject(union);
    expect((status.pendingAction?.targetSpec?.pipeline as { steps: unknown[] }).steps[0]).toMatchObject(union);
    // What a restarted operator hands the workers from the status is still a valid spec.
    const again = await validateJob({ ...job, spec: status.currentSpec as never });
    expect(again.valid).toBe(true);
    expect(status.workers).toBeUndefined();
  });
});
