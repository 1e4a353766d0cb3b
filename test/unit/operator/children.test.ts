// What a StreamJob runs as: the StatefulSet's worker command line, environment, probes and
// volumes come from the worker contract; spec changes are classified against what runs.
import { describe, expect, it } from "vitest";
import { manifestConfigMap, workerStatefulSet, type WorkerPlan } from "../../../operator/streamjob/children.ts";
import { classifyChange, specHash, validateJob, workerSpec } from "../../../operator/streamjob/spec.ts";
import { parse } from "yaml";
import { testJob } from "../../helpers/streamjob.ts";
import type { StreamJob, StreamJobSpec } from "../../../runtime/spec/generated/types.ts";
import { ADMIN_PATHS, ADMIN_PORT, WORKER_ENV, WORKER_FLAGS } from "../../../runtime/worker-contract.ts";

function job(spec: Partial<StreamJobSpec> = {}): StreamJob {
  return testJob({ parallelism: 3, ...spec }, { namespace: "shop", uid: "u-1", generation: 3 });
}

async function plan(j: StreamJob, extra: Partial<WorkerPlan> = {}): Promise<WorkerPlan> {
  const v = await validateJob(j);
  if (!v.valid) throw new Error("invalid");
  return { spec: v.spec, specHash: specHash(v.spec), jobGeneration: "g2-abc", replicas: 3, ...extra };
}

describe("worker children", () => {
  it("runs `runnel worker` with the contract's flags, env, admin port and probes", async () => {
    const j = job({ savepoint: { storage: { path: "/savepoints", claimName: "runnel-savepoints" } } });
    const sts = workerStatefulSet(j, await plan(j, { restoreFrom: "/savepoints/clicks/sp1" }), { image: "runnel/runnel:1.0", stateSize: "2Gi" });
    const pod = sts.spec?.template.spec;
    const c = pod?.containers[0];
    const args = c?.args ?? [];
    const flag = (f: string) => args[args.indexOf(f) + 1];
    expect(args[0]).toBe("worker");
    expect(flag(WORKER_FLAGS.generation)).toBe("g2-abc");
    expect(flag(WORKER_FLAGS.restoreFrom)).toBe("/savepoints/clicks/sp1");
    expect(flag(WORKER_FLAGS.workers)).toBe("3");
    expect(flag(WORKER_FLAGS.namespace)).toBe("shop");
    expect(c?.image).toBe("runnel/runnel:1.0");
    expect(c?.command).toBeUndefined();
    expect(c?.env?.map((e) => e.name)).toEqual(expect.arrayContaining([WORKER_ENV.podName, WORKER_ENV.podNamespace, WORKER_ENV.podIp]));
    expect(c?.readinessProbe?.httpGet).toMatchObject({ path: ADMIN_PATHS.readyz, port: ADMIN_PORT });
    expect(c?.livenessProbe?.httpGet).toMatchObject({ path: ADMIN_PATHS.healthz, port: ADMIN_PORT });
    expect(c?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(c?.volumeMounts?.find((m) => m.name === "savepoints")?.mountPath).toBe("/savepoints");
    expect(pod?.volumes?.find((v) => v.name === "savepoints")?.persistentVolumeClaim?.claimName).toBe("runnel-savepoints");
    expect(sts.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage).toBe("2Gi");
    expect(sts.spec?.updateStrategy?.type).toBe("OnDelete");
    expect(sts.spec?.podManagementPolicy).toBe("Parallel");
    expect(sts.spec?.selector.matchLabels).not.toHaveProperty("runnel.dev/job-generation");
    expect(sts.spec?.template.metadata?.labels?.["runnel.dev/job-generation"]).toBe("g2-abc");
    expect(sts.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "StreamJob", name: "clicks", uid: "u-1", controller: true });
  });

  it("merges the pod template overrides but keeps the worker container the operator's", async () => {
    const j = job({
      image: "registry/runnel:2",
      resources: { limits: { memory: "1Gi" } },
      podTemplate: {
        metadata: { labels: { team: "growth", "runnel.dev/job": "spoofed" } },
        nodeSelector: { pool: "stream" },
        env: [{ name: "EXTRA", value: "1" }],
        terminationGracePeriodSeconds: 120,
      },
    });
    const sts = workerStatefulSet(j, await plan(j), { image: "runnel/runnel:1.0", stateSize: "1Gi" });
    const pod = sts.spec?.template;
    expect(pod?.metadata?.labels).toMatchObject({ team: "growth", "runnel.dev/job": "clicks" });
    expect(pod?.spec?.nodeSelector).toEqual({ pool: "stream" });
    expect(pod?.spec?.terminationGracePeriodSeconds).toBe(120);
    expect(pod?.spec?.containers[0]?.image).toBe("registry/runnel:2");
    expect(pod?.spec?.containers[0]?.resources?.limits).toEqual({ memory: "1Gi" });
    expect(pod?.spec?.containers[0]?.env?.at(-1)).toEqual({ name: "EXTRA", value: "1" });
  });

  it("writes the worker part of the spec into an immutable ConfigMap named by its hash", async () => {
    const j = job();
    const p = await plan(j);
    const cm = manifestConfigMap(j, p);
    expect(cm.immutable).toBe(true);
    expect(cm.metadata?.name).toBe(`clicks-spec-${p.specHash.slice(0, 10)}`);
    const manifest = parse(cm.data?.["streamjob.yaml"] ?? "") as StreamJob;
    expect(manifest.metadata?.name).toBe("clicks");
    expect(manifest.spec.parallelism).toBeUndefined();
    expect(manifest.spec.pipeline?.sinks[0]?.kafka?.topic).toBe("out");
  });
});

// Validated once, at load: what every spec-change test compares against.
const base = await validateJob(job());
if (!base.valid) throw new Error("invalid base");

describe("spec changes", () => {
  const running = { specHash: specHash(base.spec), parallelism: 3 };

  it("classifies parallelism alone as a scale, a pipeline or image change as an upgrade, the rest as nothing", () => {
    expect(classifyChange(running, { ...base.spec, parallelism: 5 })).toBe("scale");
    expect(classifyChange(running, { ...base.spec, image: "runnel/runnel:2" })).toBe("upgrade");
    expect(classifyChange(running, { ...base.spec, checkpoint: { interval: "9s" } })).toBe("upgrade");
    for (const change of [{ restartPolicy: { maxRestarts: 1 } }, { upgradeMode: "stateless" as const }, { rollback: { enabled: false } }, { restartNonce: 4 }])
      expect(classifyChange(running, { ...base.spec, ...change })).toBe("none");
    expect(classifyChange(running, { ...base.spec, savepoint: { storage: { path: "/sp" }, interval: "1h" } })).toBe("upgrade");
  });

  it("hashes the same spec the same whatever the key order", () => {
    const reverse = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverse)
        : v && typeof v === "object"
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverse(x)]),
            )
          : v;
    const reordered = reverse(workerSpec(base.spec)) as StreamJobSpec;
    expect(Object.keys(reordered)).not.toEqual(Object.keys(workerSpec(base.spec)));
    expect(specHash(reordered)).toBe(specHash(base.spec));
  });

  it("finds what `runnel validate` finds, with the field path", async () => {
    const bad = await validateJob(
      job({ pipeline: { sources: [{ id: "in", kafka: { topic: "in" } }], steps: [], sinks: [{ id: "out", input: "nope", kafka: { topic: "o" } }] } }),
    );
    expect(bad.valid).toBe(false);
    if (!bad.valid) expect(bad.errors[0]?.path).toBe(".spec.pipeline.sinks[0].input");
  });
});
