// Upgrades and rescales under the operator while input keeps arriving (real control plane, node
// agent, Kafka): a pipeline change rolled out in savepoint mode (stop-with-savepoint, new job
// generation restored from it) and in last-state mode (same generation) keeps every output
// window exactly once (Java read_committed); a stateless upgrade starts a fresh generation that
// recomputes from the input; `kubectl scale sj/x --replicas=3` and back to 1 keeps exactly once;
// workers run on the threads their CPU limit gives, and on spec.threadsPerWorker once it is set.
import { describe, expect, it } from "vitest";
import type { StreamJob } from "../../runtime/spec/generated/types.ts";
import { createCountJob, produce, produceFlush, type CountJob } from "../helpers/distributed.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { kubectl, waitFor } from "../helpers/kube.ts";
import { ADMIN_PORT } from "../../runtime/worker-contract.ts";
import { readCommittedWithJava } from "../helpers/java-consumer.ts";
import { applyManifest, countStreamJob, expectExactlyOnceWithJava, isReady, operatorHooks, waitForJob } from "../helpers/operator.ts";

/** The same results from a changed job: an always-true filter in front of the keyBy. */
function withFilter(manifest: StreamJob): StreamJob {
  const next = structuredClone(manifest);
  const pipeline = next.spec.pipeline;
  if (!pipeline) throw new Error("no pipeline");
  pipeline.steps = [
    { id: "valid", input: "clicks", filter: { condition: "record.n >= 0" } },
    ...(pipeline.steps ?? []).map((s) => (s.input === "clicks" ? { ...s, input: "valid" } : s)),
  ];
  return next;
}

describe("operator: upgrades and rescales, exactly once", () => {
  const k = kafkaAdminHooks();
  const env = operatorHooks("op-upgrade");

  async function start(job: CountJob, mode: string, workers = 2): Promise<{ manifest: StreamJob; generation: string }> {
    const manifest = countStreamJob(job, {
      namespace: env.namespace,
      workers,
      upgradeMode: mode,
      ...(mode === "savepoint" ? { savepointClaim: "savepoints" } : {}),
    });
    await produce(k.kafka, job, 2000);
    applyManifest(manifest);
    const ready = await waitForJob(env.namespace, job.name, "Ready", isReady);
    return { manifest, generation: ready.status?.jobGeneration ?? "" };
  }

  it("upgrades in savepoint mode: stop-with-savepoint, a new generation restored from it, exactly once", async () => {
    const job = await createCountJob(k.admin, 4);
    const { manifest, generation } = await start(job, "savepoint");
    await produce(k.kafka, job, 1000);
    applyManifest(withFilter(manifest));
    await produce(k.kafka, job, 2000);
    const upgraded = await waitForJob(env.namespace, job.name, "upgraded and Ready", (s) => isReady(s) && s.jobGeneration !== generation, 300_000);
    const s = upgraded.status ?? {};
    expect(s.lastSavepoint?.trigger).toBe("upgrade");
    expect(s.lastSavepoint?.jobGeneration).toBe(generation);
    expect(s.restoredFrom).toBe(s.lastSavepoint?.location);
    expect(s.jobGenerationCount).toBe(2);
    expect(kubectl(["get", "sj", job.name, "-n", env.namespace, "--no-headers"])).not.toMatch(/\s<none>\s/);
    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });

  it("upgrades in last-state mode within the same job generation, exactly once", async () => {
    const job = await createCountJob(k.admin, 4);
    const { manifest, generation } = await start(job, "last-state");
    await produce(k.kafka, job, 1000);
    applyManifest(withFilter(manifest));
    await produce(k.kafka, job, 2000);
    const upgraded = await waitForJob(
      env.namespace,
      job.name,
      "upgraded and Ready",
      (s) => isReady(s) && s.observedGeneration === 2 && s.currentSpecHash !== undefined,
    );
    expect(upgraded.status?.jobGeneration).toBe(generation);
    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });

  it("upgrades a stateless job into a fresh generation that recomputes from the input", async () => {
    const job = await createCountJob(k.admin, 2);
    const { manifest, generation } = await start(job, "stateless", 1);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
    const before = (await readCommittedWithJava(job.output)).length;
    applyManifest(withFilter(manifest));
    const upgraded = await waitForJob(env.namespace, job.name, "upgraded and Ready", (s) => isReady(s) && s.jobGeneration !== generation);
    expect(upgraded.status?.restoredFrom).toBeUndefined();
    // No state and no positions carried over: the new generation reads the input from the start
    // and emits every window again, each equal to the reference.
    const deadline = Date.now() + 180_000;
    let records = await readCommittedWithJava(job.output);
    while (records.length < 2 * before && Date.now() < deadline) records = await readCommittedWithJava(job.output);
    const copies = new Map<string, number>();
    for (const r of records) {
      const v = JSON.parse(r.value) as { key: string; windowStart: number; events: number; total: number };
      if (v.key === "flush") continue;
      const key = `${v.key}@${v.windowStart}`;
      const ref = job.reference.get(key);
      expect(ref && { events: ref.events, total: ref.total }, key).toEqual({ events: v.events, total: v.total });
      copies.set(key, (copies.get(key) ?? 0) + 1);
    }
    expect([...copies.values()].every((n) => n === 2)).toBe(true);
    expect(copies.size).toBe(job.reference.size);
  });

  it("rescales with kubectl scale to 3 workers and back to 1, exactly once", async () => {
    const job = await createCountJob(k.admin, 6);
    await start(job, "savepoint", 1);
    kubectl(["scale", `sj/${job.name}`, "-n", env.namespace, "--replicas=3"]);
    await produce(k.kafka, job, 1500);
    const three = await waitForJob(env.namespace, job.name, "3 workers Ready", (s) => isReady(s) && s.parallelism === 3, 300_000);
    expect(three.status?.readyWorkers).toBe("3/3");
    expect(three.status?.lastSavepoint?.trigger).toBe("rescale");
    await produce(k.kafka, job, 1500);
    kubectl(["scale", `sj/${job.name}`, "-n", env.namespace, "--replicas=1"]);
    await produce(k.kafka, job, 1500);
    await waitForJob(env.namespace, job.name, "1 worker Ready", (s) => isReady(s) && s.parallelism === 1, 300_000);
    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });

  /** `threads` of each running worker pod's /status (1 when it reports none), once every pod of the job answers. */
  async function workerThreads(name: string): Promise<number[]> {
    const pods = JSON.parse(kubectl(["get", "pods", "-n", env.namespace, "-l", `runnel.dev/job=${name}`, "-o", "json"])) as {
      items: { status?: { podIP?: string; phase?: string } }[];
    };
    return Promise.all(
      pods.items.map(async (p) => {
        const status = (await (await fetch(`http://${p.status?.podIP}:${ADMIN_PORT}/status`)).json()) as { threads?: number };
        return status.threads ?? 1;
      }),
    );
  }

  it("runs each worker on the threads its CPU limit gives, then on spec.threadsPerWorker after a last-state upgrade, exactly once", async () => {
    const job = await createCountJob(k.admin, 6);
    const manifest = countStreamJob(job, { namespace: env.namespace, workers: 2, spec: { resources: { limits: { cpu: "2" } } } });
    await produce(k.kafka, job, 2000);
    applyManifest(manifest);
    await waitForJob(env.namespace, job.name, "Ready", isReady);
    await waitFor("2 workers on 2 threads", async () => JSON.stringify(await workerThreads(job.name).catch(() => [])) === "[2,2]", { timeoutMs: 120_000 });
    await produce(k.kafka, job, 1000);
    applyManifest({ ...manifest, spec: { ...manifest.spec, threadsPerWorker: 3 } });
    await produce(k.kafka, job, 1000);
    await waitForJob(env.namespace, job.name, "upgraded and Ready", (s) => isReady(s) && s.observedGeneration === 2, 300_000);
    // 2 workers × 3 threads: each of the 6 tasks on a thread of its own.
    await waitFor("2 workers on 3 threads", async () => JSON.stringify(await workerThreads(job.name).catch(() => [])) === "[3,3]", { timeoutMs: 180_000 });
    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });

  it("rescales a last-state job in its job generation, exactly once", async () => {
    const job = await createCountJob(k.admin, 6);
    const { generation } = await start(job, "last-state", 2);
    kubectl(["scale", `sj/${job.name}`, "-n", env.namespace, "--replicas=3"]);
    await produce(k.kafka, job, 1500);
    const three = await waitForJob(env.namespace, job.name, "3 workers Ready", (s) => isReady(s) && s.parallelism === 3, 300_000);
    expect(three.status?.jobGeneration).toBe(generation);
    await produce(k.kafka, job, 1000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
  });
});
