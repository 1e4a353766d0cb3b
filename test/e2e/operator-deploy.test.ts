// The operator end to end (real control plane, node agent, Kafka): a StreamJob applied with
// kubectl runs as worker pods, `kubectl wait --for=condition=Ready` returns, `kubectl get sj`
// answers "is it healthy?", and every output window appears exactly once (checked with Kafka's
// own Java consumer in read_committed isolation). Then a bad spec over the running job: it keeps
// running on its last valid spec and a condition names the field.
import { describe, expect, it } from "vitest";
import { createCountJob, produce, produceFlush } from "../helpers/distributed.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { kubectl } from "../helpers/kube.ts";
import { applyManifest, countStreamJob, expectExactlyOnceWithJava, isReady, operatorHooks, operatorLogTail, readJob, waitForJob } from "../helpers/operator.ts";

describe("operator: apply → workers → Ready → output exactly once", () => {
  const k = kafkaAdminHooks();
  const env = operatorHooks("op-deploy");

  it("runs a StreamJob to Ready with the columns of kubectl get sj, and its output exactly once", async () => {
    const job = await createCountJob(k.admin, 4);
    await produce(k.kafka, job, 2000);
    applyManifest(countStreamJob(job, { namespace: env.namespace, workers: 2 }));
    const waited = kubectl(["wait", "--for=condition=Ready", `sj/${job.name}`, "-n", env.namespace, "--timeout=180s"]);
    expect(waited, operatorLogTail(env.operator)).toContain("condition met");
    const ready = await waitForJob(env.namespace, job.name, "Ready", isReady);
    expect(ready.status?.readyWorkers).toBe("2/2");
    expect(ready.status?.jobGeneration).toMatch(/^g1-[0-9a-f]{8}$/);
    const pods = kubectl(["get", "pods", "-n", env.namespace, "-l", `runnel.dev/job=${job.name}`, "-o", "name"])
      .trim()
      .split("\n");
    expect(pods.sort()).toEqual([`pod/${job.name}-0`, `pod/${job.name}-1`]);

    const table = kubectl(["get", "sj", job.name, "-n", env.namespace]);
    const [header, row] = table.trim().split("\n");
    expect(header?.split(/\s{2,}/)).toEqual(["NAME", "PHASE", "READY", "LAG", "LAST SAVEPOINT", "AGE"]);
    expect(row).toMatch(new RegExp(`^${job.name}\\s+Running\\s+2/2\\s`));
    const wide = kubectl(["get", "sj", job.name, "-n", env.namespace, "-o", "wide"]);
    expect(wide).toContain("GENERATION");
    expect(wide).toContain("workers ready");

    await produce(k.kafka, job, 2000);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
    const events = kubectl([
      "get",
      "events",
      "-n",
      env.namespace,
      "--field-selector",
      `involvedObject.name=${job.name},involvedObject.kind=StreamJob`,
      "-o",
      "jsonpath={.items[*].reason}",
    ]);
    expect(events.split(" ")).toEqual(expect.arrayContaining(["DeployStarted", "DeployCompleted"]));
  });

  it("keeps a running job on its last valid spec when a bad one is applied, naming the field in a condition", async () => {
    const job = await createCountJob(k.admin, 2);
    const manifest = countStreamJob(job, { namespace: env.namespace, workers: 1 });
    applyManifest(manifest);
    const before = await waitForJob(env.namespace, job.name, "Ready", isReady);
    // The CRD schema cannot see this: the sink reads a step that does not exist.
    const bad = structuredClone(manifest);
    const sink = bad.spec.pipeline?.sinks[0];
    if (sink) sink.input = "per-secnd";
    applyManifest(bad);
    const after = await waitForJob(
      env.namespace,
      job.name,
      "InvalidSpec reported",
      (s) => s.conditions?.some((c) => c.type === "Degraded" && c.reason === "InvalidSpec") === true,
    );
    const degraded = after.status?.conditions?.find((c) => c.type === "Degraded");
    expect(degraded?.message).toContain("spec.pipeline.sinks[0].input");
    expect(after.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(after.status?.currentSpecHash).toBe(before.status?.currentSpecHash);
    expect(after.status?.jobGeneration).toBe(before.status?.jobGeneration);
    // Still running the old spec: output keeps coming.
    await produce(k.kafka, job, 500);
    await produceFlush(k.kafka, job);
    await expectExactlyOnceWithJava(job);
    const stored = await readJob(env.namespace, job.name);
    expect(stored.status?.conditions?.find((c) => c.type === "Stalled")?.reason).toBe("InvalidSpec");
  });
});
