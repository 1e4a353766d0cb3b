/**
 * The operator on the test environment (real apiserver, node agent, Kafka), against the issue's
 * targets: apply → StatefulSet created (p50, many jobs), apply → Ready with 3 workers, a savepoint
 * upgrade of a 3-worker job end to end, a worker's kill -9 → its output resuming, and 300
 * StreamJobs converging (their pods pinned to a node that does not exist, so they never start)
 * with the operator's RSS and CPU. One operator process, watching one namespace, leader election
 * on. `node bench/operator.ts [--jobs 300] [--applies 20] [--runs 3]` runs it alone and writes its
 * section of docs/benchmarks.md; `npm run bench -- --operator` runs it with the others.
 */
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, Watch } from "@kubernetes/client-node";
import type { StreamJob } from "../runtime/spec/generated/types.ts";
import { createCountJob, produce, produceFlush } from "../test/helpers/distributed.ts";
import { kafkaClient } from "../test/helpers/kafka.ts";
import { createNamespace, kubeConfig, waitFor } from "../test/helpers/kube.ts";
import {
  applyManifest,
  countStreamJob,
  createSavepointClaim,
  expectExactlyOnceWithJava,
  installCrds,
  isReady,
  readJob,
  startOperator,
  workerProcessPid,
} from "../test/helpers/operator.ts";

/** Median of numbers. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
async function processUsage(pid: number): Promise<{ cpuSeconds: number; rssMiB: number; peakMiB: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, "utf8")).replace(/^.*\) /, "").split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, rssMiB: kb("VmRSS") / 1024, peakMiB: kb("VmHWM") / 1024 };
}

/** A StreamJob whose workers can never be scheduled (no such node): only the operator's side is measured. */
function unschedulable(name: string, namespace: string): StreamJob {
  return {
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name, namespace },
    spec: {
      parallelism: 1,
      kafka: { bootstrapServers: ["kafka:9092"] },
      podTemplate: { nodeSelector: { "runnel.dev/bench": "nowhere" } },
      // Never ready, never rolled back: the expected status stays "deploying, waiting for workers".
      rollback: { readinessTimeout: "10h" },
      pipeline: {
        sources: [{ id: "in", kafka: { topic: "in" } }],
        steps: [{ id: "valid", input: "in", filter: { condition: "record.n > 0" } }],
        sinks: [{ id: "out", input: "valid", kafka: { topic: "out" } }],
      },
    },
  };
}

/** Results of one operator benchmark run. */
export interface OperatorBenchResult {
  applyToStatefulSet: number[];
  applyToReady: number[];
  savepointUpgrade: number[];
  killToOutput: number[];
  converge: { jobs: number; seconds: number; cpuSeconds: number; rssMiB: number; peakMiB: number; idleRssMiB: number };
}

/** Runs the operator benchmarks on the running test environment. */
export async function operatorBench(options: { jobs: number; applies: number; runs: number }): Promise<OperatorBenchResult> {
  installCrds();
  const ns = await createNamespace("bench-op");
  createSavepointClaim(ns.name);
  const op = startOperator({ namespace: ns.name, resync: "15s" });
  await op.url();
  const pid = op.child.pid as number;
  const kc = kubeConfig();
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const kafka = kafkaClient();
  const admin = kafka.admin();
  await admin.connect();
  const result: OperatorBenchResult = {
    applyToStatefulSet: [],
    applyToReady: [],
    savepointUpgrade: [],
    killToOutput: [],
    converge: { jobs: 0, seconds: 0, cpuSeconds: 0, rssMiB: 0, peakMiB: 0, idleRssMiB: 0 },
  };
  try {
    // apply → StatefulSet created, seen through a watch (no polling delay in the figure).
    const created = new Map<string, number>();
    const watch = await new Watch(kc).watch(
      `/apis/apps/v1/namespaces/${ns.name}/statefulsets`,
      {},
      (type, obj: { metadata?: { name?: string } }) => {
        if (type === "ADDED" && obj.metadata?.name && !created.has(obj.metadata.name)) created.set(obj.metadata.name, performance.now());
      },
      () => undefined,
    );
    for (let i = 0; i < options.applies; i++) {
      const name = `sts-${i}`;
      const t0 = performance.now();
      await custom.createNamespacedCustomObject({
        group: "runnel.dev",
        version: "v1alpha1",
        plural: "streamjobs",
        namespace: ns.name,
        body: unschedulable(name, ns.name),
      });
      await waitFor(`StatefulSet ${name}`, () => created.has(name), { intervalMs: 5 });
      result.applyToStatefulSet.push(((created.get(name) as number) - t0) / 1000);
    }
    watch.abort();
    for (let i = 0; i < options.applies; i++)
      await custom.deleteNamespacedCustomObject({ group: "runnel.dev", version: "v1alpha1", plural: "streamjobs", namespace: ns.name, name: `sts-${i}` });

    // apply → Ready (3 workers), a savepoint upgrade of it, and kill -9 → output resumes.
    for (let r = 0; r < options.runs; r++) {
      const job = await createCountJob(admin, 6);
      await produce(kafka, job, 3000);
      const manifest = countStreamJob(job, { namespace: ns.name, workers: 3, upgradeMode: "savepoint", savepointClaim: "savepoints" });
      let t0 = performance.now();
      applyManifest(manifest);
      const ready = await waitFor("Ready", async () => isReady((await readJob(ns.name, job.name)).status ?? {}) && (await readJob(ns.name, job.name)), {
        timeoutMs: 300_000,
        intervalMs: 100,
      });
      result.applyToReady.push((performance.now() - t0) / 1000);

      const next = structuredClone(manifest);
      next.spec.checkpoint = { interval: "400ms" };
      t0 = performance.now();
      applyManifest(next);
      await waitFor(
        "upgraded",
        async () => {
          const s = (await readJob(ns.name, job.name)).status ?? {};
          return isReady(s) && s.jobGeneration !== ready.status?.jobGeneration;
        },
        { timeoutMs: 300_000, intervalMs: 100 },
      );
      result.savepointUpgrade.push((performance.now() - t0) / 1000);

      // kill -9 worker 1 while input flows; output resumes when its new process commits output.
      const feeding = (async () => {
        for (let i = 0; i < 20; i++) {
          await produce(kafka, job, 150);
          await new Promise((res) => setTimeout(res, 500));
        }
      })();
      const pod = await core.readNamespacedPod({ name: `${job.name}-1`, namespace: ns.name });
      t0 = performance.now();
      process.kill(workerProcessPid(pod), "SIGKILL");
      await waitFor(
        "worker 1's output resumes",
        async () => {
          const p = await core.readNamespacedPod({ name: `${job.name}-1`, namespace: ns.name });
          if (!p.status?.podIP || (p.status.containerStatuses?.[0]?.restartCount ?? 0) < 1) return false;
          const res = await fetch(`http://${p.status.podIP}:9249/status`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
          const s = res?.ok ? ((await res.json()) as { recordsOut?: number; checkpoints?: number }) : undefined;
          return (s?.recordsOut ?? 0) > 0 && (s?.checkpoints ?? 0) > 0;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      result.killToOutput.push((performance.now() - t0) / 1000);
      await feeding;
      await produceFlush(kafka, job);
      // The figures count only if the output is right.
      await expectExactlyOnceWithJava(job);
      await custom.deleteNamespacedCustomObject({ group: "runnel.dev", version: "v1alpha1", plural: "streamjobs", namespace: ns.name, name: job.name });
      await waitFor(
        "workers gone",
        async () => (await core.listNamespacedPod({ namespace: ns.name, labelSelector: `runnel.dev/job=${job.name}` })).items.length === 0,
        { timeoutMs: 120_000 },
      );
    }

    // N StreamJobs converge: each to a StatefulSet and the status Deploying 0/1, step awaitReady.
    const idle = await processUsage(pid);
    const t0 = performance.now();
    const names = Array.from({ length: options.jobs }, (_, i) => `many-${i}`);
    for (let i = 0; i < names.length; i += 20)
      await Promise.all(
        names.slice(i, i + 20).map((name) =>
          custom.createNamespacedCustomObject({
            group: "runnel.dev",
            version: "v1alpha1",
            plural: "streamjobs",
            namespace: ns.name,
            body: unschedulable(name, ns.name),
          }),
        ),
      );
    let peak = idle.rssMiB;
    await waitFor(
      `${options.jobs} StreamJobs converged`,
      async () => {
        peak = Math.max(peak, (await processUsage(pid)).rssMiB);
        const list = (await custom.listNamespacedCustomObject({ group: "runnel.dev", version: "v1alpha1", plural: "streamjobs", namespace: ns.name })) as {
          items: StreamJob[];
        };
        const sets = new Set((await apps.listNamespacedStatefulSet({ namespace: ns.name })).items.map((s) => s.metadata?.name));
        const done = list.items.filter(
          (j) =>
            j.metadata?.name?.startsWith("many-") &&
            j.status?.observedGeneration === 1 &&
            j.status.phase === "Deploying" &&
            j.status.pendingAction?.step === "awaitReady" &&
            j.status.readyWorkers === "0/1" &&
            sets.has(j.metadata.name),
        );
        return done.length === options.jobs;
      },
      { timeoutMs: 1_800_000, intervalMs: 1_000 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const after = await processUsage(pid);
    result.converge = {
      jobs: options.jobs,
      seconds,
      cpuSeconds: after.cpuSeconds - idle.cpuSeconds,
      rssMiB: Math.max(peak, after.rssMiB),
      peakMiB: after.peakMiB,
      idleRssMiB: idle.rssMiB,
    };
    return result;
  } finally {
    await admin.disconnect();
    await op.kill9();
    ns.cleanup();
  }
}

/** The benchmarks.md section of a run. */
export function operatorSection(r: OperatorBenchResult, command: string): string {
  const s = (x: number) => `${x.toFixed(2)} s`;
  const line = (name: string, xs: number[], target: string, met?: boolean) =>
    `| ${name} | ${xs.length} | ${s(median(xs))} | ${s(percentile(xs, 90))} | ${target}${met === undefined ? "" : met ? ": met" : ": **missed**"} |`;
  const c = r.converge;
  return `## Operator (test environment: real apiserver, node agent, Kafka)

Measured with \`${command}\` on ${new Date().toISOString().slice(0, 10)}: one \`runnel operator\` process (leader
election on, watching one namespace) on this machine (${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, load ${(loadavg()[0] ?? 0).toFixed(1)}),
worker pods run by the node agent as local processes. Times are from the apply (or the kill) as the
client sees it.

| what | runs | median | p90 | target |
|---|---:|---:|---:|---|
${line("apply → StatefulSet created", r.applyToStatefulSet, "p50 < 1 s", median(r.applyToStatefulSet) < 1)}
${line("apply → Ready (3 workers, count job on 6 partitions)", r.applyToReady, "record")}
${line("savepoint upgrade of a 3-worker job, apply → new generation Ready", r.savepointUpgrade, "< 30 s", median(r.savepointUpgrade) < 30)}
${line("worker kill -9 → its output resumes (new process committed output)", r.killToOutput, "< 15 s", median(r.killToOutput) < 15)}

Each run of the last three checks the job's whole output against its reference with Kafka's Java
consumer (read_committed): every window exactly once, or the run fails.

**${c.jobs} StreamJobs** created at once (20 at a time), their pods pinned to a node that does not
exist so they never start: all reached their expected status (StatefulSet created, phase
Deploying, 0/1 ready, step awaitReady) in **${c.seconds.toFixed(1)} s**. The operator used
${c.cpuSeconds.toFixed(1)} CPU seconds for it; its resident memory went from ${c.idleRssMiB.toFixed(0)} MiB idle to
${c.rssMiB.toFixed(0)} MiB (peak ${c.peakMiB.toFixed(0)} MiB). Every job costs an apply of five children and a few
status writes; the caches hold only the operator's objects (label-selected).
`;
}

/** Replaces (or appends) the operator section of docs/benchmarks.md. */
export async function writeOperatorSection(section: string): Promise<void> {
  const url = new URL("../docs/benchmarks.md", import.meta.url);
  const doc = await readFile(url, "utf8");
  const start = doc.indexOf("## Operator");
  const next = start < 0 ? -1 : doc.indexOf("\n## ", start + 1);
  const updated = start < 0 ? `${doc.trimEnd()}\n\n${section}` : `${doc.slice(0, start)}${section}${next < 0 ? "" : doc.slice(next + 1)}`;
  await writeFile(url, updated);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      jobs: { type: "string", default: "300" },
      applies: { type: "string", default: "20" },
      runs: { type: "string", default: "3" },
      "no-write": { type: "boolean" },
    },
  });
  const r = await operatorBench({ jobs: Number(values.jobs), applies: Number(values.applies), runs: Number(values.runs) });
  const section = operatorSection(r, `node bench/operator.ts --jobs ${values.jobs} --applies ${values.applies} --runs ${values.runs}`);
  console.log(section);
  if (values["no-write"] !== true) await writeOperatorSection(section);
  process.exit(0);
}
