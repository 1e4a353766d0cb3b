// A worker pod under a memory limit while its key space grows (issue 16, item 2): the node agent
// enforces `resources.limits.memory` with a memory cgroup, as the kubelet does, and the kernel
// kills a container that exceeds it (reported as OOMKilled). A job that counts every user it
// has seen runs over 2,000,000 distinct users in a 512Mi pod: with a 20,000-entry state cache
// it holds them in LevelDB and never restarts, and it still counts the users that come again
// (their state read back from the store); the same job whose cache holds every key runs out of
// memory under the same limit (V8's heap limit follows the container's, so V8 aborts it first, or
// the kernel kills it) — the limit bites, and the cache is what keeps a worker under it.
import { CoreV1Api, type V1ContainerStateTerminated, type V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { testEnv, uniqueName } from "../helpers/env.ts";
import { readCommittedWithJavaAtLeast } from "../helpers/java-consumer.ts";
import { createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { kubeConfig, kubectl } from "../helpers/kube.ts";
import { applyManifest, isReady, operatorHooks, operatorLogTail, waitForJob } from "../helpers/operator.ts";
import { runTool } from "../helpers/tools.ts";
import { waitFor } from "../helpers/wait.ts";

const USERS = 2_000_000;
const RETURNING = 1000;
const LIMIT = "512Mi";

/** Counts each user's records (state per user, kept for good) and writes the users seen twice. */
function seenTwiceJob(o: { name: string; namespace: string; input: string; output: string; cacheEntries: number }) {
  return {
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      parallelism: 1,
      kafka: { bootstrapServers: testEnv().kafkaBrokers },
      checkpoint: { interval: "1s" },
      stateCache: { entries: o.cacheEntries },
      resources: { limits: { memory: LIMIT } },
      pipeline: {
        sources: [{ id: "users", kafka: { topic: o.input, partitions: 2 }, timestamp: { field: "ts" } }],
        steps: [
          { id: "by-user", input: "users", keyBy: { key: "record.user" } },
          {
            id: "seen",
            input: "by-user",
            over: { aggregations: [{ name: "times", fn: "count" }], select: { user: "record.user", times: "record.times" } },
          },
          { id: "again", input: "seen", filter: { condition: "record.times >= 2" } },
        ],
        sinks: [{ id: "out", input: "again", kafka: { topic: o.output } }],
      },
    },
  };
}

/** USERS distinct users, then the first RETURNING of them again. */
async function produceUsers(kafka: Parameters<typeof inputProducer>[0], topic: string): Promise<void> {
  const producer = inputProducer(kafka);
  await producer.connect();
  const t0 = Date.UTC(2026, 0, 1);
  const total = USERS + RETURNING;
  for (let from = 0; from < total; from += 20_000) {
    const messages = [];
    for (let i = from; i < Math.min(total, from + 20_000); i++) {
      messages.push({ partition: i % 2, value: JSON.stringify({ user: `u${i < USERS ? i : i - USERS}`, ts: t0 + i }) });
    }
    await producer.send({ topic, messages });
  }
  await producer.disconnect();
}

const core = () => kubeConfig().makeApiClient(CoreV1Api);
const workerPod = (namespace: string, job: string): Promise<V1Pod> => core().readNamespacedPod({ name: `${job}-0`, namespace });
const oomKilled = (pod: V1Pod): boolean =>
  (pod.status?.containerStatuses ?? []).some((c) => c.state?.terminated?.reason === "OOMKilled" || c.lastState?.terminated?.reason === "OOMKilled");
/**
 * How a worker that could not hold its state ended: killed by the kernel at the limit (137,
 * OOMKilled) or, first as a rule, aborted by V8, whose heap limit follows the container's memory
 * limit (134, "JavaScript heap out of memory" in its log).
 */
const outOfMemory = (pod: V1Pod): V1ContainerStateTerminated | undefined => {
  const c = pod.status?.containerStatuses?.[0];
  const t = c?.lastState?.terminated ?? c?.state?.terminated;
  return t !== undefined && (t.reason === "OOMKilled" || t.exitCode === 134) ? t : undefined;
};

describe("operator: a worker under a memory limit while its key space grows", () => {
  const k = kafkaAdminHooks();
  const env = operatorHooks("op-memory");

  it(`keeps ${USERS.toLocaleString("en-US")} keys in a ${LIMIT} pod with a bounded cache and never runs out of memory; with a cache holding every key it does`, async () => {
    const name = uniqueName("mem").replace(/[^a-z0-9-]/g, "");
    const input = `${name}-in`;
    await createTopics(k.admin, [input], 2);
    await createTopics(k.admin, [`${name}-out`, `${name}-big-out`], 1);
    await produceUsers(k.kafka, input);

    const bounded = { name, namespace: env.namespace, input, output: `${name}-out`, cacheEntries: 20_000 };
    applyManifest(seenTwiceJob(bounded));
    await waitForJob(env.namespace, name, "Ready", isReady);
    const records = await readCommittedWithJavaAtLeast(bounded.output, RETURNING, { timeoutMs: 600_000 });
    const pod = await workerPod(env.namespace, name);
    const status = pod.status?.containerStatuses?.[0];
    expect(status?.restartCount, `${JSON.stringify(status?.lastState)}\n${operatorLogTail(env.operator)}`).toBe(0);
    expect(oomKilled(pod)).toBe(false);
    // Every returning user exactly once, counted twice: their state came back from LevelDB.
    const seen = records.map((r) => JSON.parse(r.value) as { user: string; times: number });
    expect(seen.length).toBe(RETURNING);
    expect(new Set(seen.map((s) => s.user)).size).toBe(RETURNING);
    expect(seen.every((s) => s.times === 2 && Number(s.user.slice(1)) < RETURNING)).toBe(true);

    // The same job with a cache that holds every key runs out of memory under the same limit.
    const big = { ...bounded, name: `${name}-big`, output: `${name}-big-out`, cacheEntries: 10_000_000 };
    applyManifest(seenTwiceJob(big));
    const ended = await waitFor(
      "the unbounded worker to run out of memory",
      async () => outOfMemory(await workerPod(env.namespace, big.name).catch(() => ({}))),
      {
        timeoutMs: 600_000,
      },
    );
    if (ended.reason !== "OOMKilled") {
      // The instance that ended is the current one or the one before (when it was restarted meanwhile).
      const logs = ["--previous", "--tail=-1"].map((flag) => runTool("kubectl", ["logs", `${big.name}-0`, "-n", env.namespace, flag]).stdout).join("\n");
      expect(logs).toContain("JavaScript heap out of memory");
    }
    kubectl(["delete", "sj", big.name, "-n", env.namespace, "--wait=false"]);
  }, 900_000);
});
