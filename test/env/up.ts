/** Starts the whole test environment (after `install` has cached every binary) and writes env.json. */
import { mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execFileSync } from "node:child_process";
import { cachePaths, podIpPrefix, ports, readEnvInfo, repoRoot, runDir as defaultRunDir, type TestEnvInfo } from "./lib/layout.ts";
import { envRunning, startDaemon, stopAll, waitUntil } from "./lib/processes.ts";
import { startApiserver, startControllerManager, startEtcd, startScheduler, writeKubeconfig } from "./lib/control-plane.ts";
import { startKafka } from "./lib/kafka.ts";
import { filterNegativeTimeoutWarning } from "../../runtime/kafka/connection.ts";
import { startRedis } from "./lib/redis.ts";

const NODE_NAME = "runnel-node-0";

// The readiness check of Kafka uses kafkajs, which warns harmlessly on Node 24 (see client.ts).
filterNegativeTimeoutWarning();

function log(message: string): void {
  console.error(`[testenv ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Runs one start step and records how long it took in the cache's timings file. */
async function step<T>(name: string, timings: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await fn();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  log(`${name} ready in ${seconds}s`);
  writeFileSync(timings, `${new Date().toISOString()}\tstart-${name}\t${seconds}s\n`, { flag: "a" });
  return result;
}

function linkBinaries(binDir: string, cache: ReturnType<typeof cachePaths>): void {
  mkdirSync(binDir, { recursive: true });
  for (const folder of [cache.kube, cache.etcd, cache.helm]) {
    for (const name of readdirSync(join(folder, "bin"))) symlinkSync(join(folder, "bin", name), join(binDir, name));
  }
  // The project's Node 24 first on PATH for pods and scripts that call `node`.
  symlinkSync(join(repoRoot, "node_modules", ".bin", "node"), join(binDir, "node"));
}

async function startNodeAgent(dir: string, binDir: string, kubeconfig: string): Promise<void> {
  const imageMap = join(dir, "image-map.json");
  const node = join(repoRoot, "node_modules", ".bin", "node");
  // The image's entrypoint, and its files where the Dockerfile puts them (/app, /usr/local/bin/node),
  // so charts whose containers name those paths (the case systems' generators and topic Jobs) run.
  const runnelImage = {
    command: [node, join(repoRoot, "runtime", "cli", "main.ts")],
    files: { "/app": repoRoot, "/usr/local/bin/node": realpathSync(node) },
  };
  writeFileSync(imageMap, JSON.stringify({ "runnel/runnel": runnelImage }, null, 2));
  const pid = startDaemon({
    name: "node-agent",
    runDir: dir,
    command: node,
    args: [
      join(repoRoot, "test/env/node-agent/main.ts"),
      "--kubeconfig",
      kubeconfig,
      "--node-name",
      NODE_NAME,
      "--state-dir",
      join(dir, "data", "node-agent"),
      "--image-map",
      imageMap,
      "--ip-prefix",
      podIpPrefix,
      "--kubelet-port",
      String(ports.kubelet),
    ],
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ""}` },
  });
  const kubectl = join(binDir, "kubectl");
  await waitUntil(
    "node-agent",
    async () => {
      const out = execFileSync(
        kubectl,
        ["--kubeconfig", kubeconfig, "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
      );
      return out.trim() === "True";
    },
    { timeoutMs: 60_000, pid, logFile: join(dir, "logs", "node-agent.log") },
  );
}

/** Brings the environment up, or reuses one that is already running; returns what tests need. */
export async function up(dir = defaultRunDir()): Promise<TestEnvInfo> {
  const running = envRunning(dir) ? readEnvInfo(dir) : undefined;
  if (running) {
    log(`already up (${dir})`);
    return running;
  }
  // Pods run this checkout's code in place; a pod mounting an emptyDir at /tmp (the operator chart's) hides a checkout under /tmp.
  if (repoRoot === "/tmp" || repoRoot.startsWith("/tmp/"))
    log(`warning: this checkout is under /tmp (${repoRoot}); pods that mount a volume at /tmp cannot see its code — clone it elsewhere to run the helm tests`);
  await stopAll(dir); // whatever is left of a half-started or crashed environment
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ["logs", "pids", "data"]) mkdirSync(join(dir, sub), { recursive: true });
  const cache = cachePaths();
  const binDir = join(dir, "bin");
  linkBinaries(binDir, cache);
  const opts = { runDir: dir, binDir };
  try {
    // Kafka's JVM start overlaps with the control plane's; both are waited for below.
    const kafka = step("kafka", cache.timings, () => startKafka({ runDir: dir, libsDir: join(cache.kafka, "libs") }));
    const redis = step("redis", cache.timings, () => startRedis({ runDir: dir }));
    await step("etcd", cache.timings, () => startEtcd(opts));
    const apiserverUrl = await step("kube-apiserver", cache.timings, () => startApiserver(opts));
    const kubeconfig = writeKubeconfig(dir, apiserverUrl);
    await step("kube-controller-manager", cache.timings, () => startControllerManager(opts, kubeconfig));
    await step("kube-scheduler", cache.timings, () => startScheduler(opts, kubeconfig));
    await step("node-agent", cache.timings, () => startNodeAgent(dir, binDir, kubeconfig));
    const info: TestEnvInfo = {
      runDir: dir,
      binDir,
      kubeconfig,
      apiserverUrl,
      kafkaBrokers: await kafka,
      redisUrl: await redis,
      nodeName: NODE_NAME,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, "env.json"), JSON.stringify(info, null, 2));
    writeFileSync(
      join(dir, "env.sh"),
      [
        `export KUBECONFIG=${kubeconfig}`,
        `export KAFKA_BROKERS=${info.kafkaBrokers.join(",")}`,
        `export REDIS_URL=${info.redisUrl}`,
        `export PATH=${binDir}:$PATH`,
        "",
      ].join("\n"),
    );
    return info;
  } catch (err) {
    await sleep(100);
    await stopAll(dir);
    throw err;
  }
}

if (import.meta.main) {
  try {
    const info = await up();
    log(`up: kubeconfig ${info.kubeconfig}, kafka ${info.kafkaBrokers.join(",")}, redis ${info.redisUrl}`);
    log(`for a shell: source ${join(info.runDir, "env.sh")}`);
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}
