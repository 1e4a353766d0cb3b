/** Where the test environment keeps its binaries, data, logs and the file tests read. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root (test/env/lib → ../../..). */
export const repoRoot = resolve(import.meta.dirname, "..", "..", "..");

/** Ports on 127.0.0.1; pods get other loopback addresses (127.1.x.y), so they never clash. */
export const ports = {
  etcdClient: 12379,
  etcdPeer: 12380,
  apiserver: 16443,
  controllerManager: 10257,
  scheduler: 10259,
  kafka: 19092,
  kafkaController: 19093,
  redis: 16379,
} as const;

/** What `up` writes to env.json for the test runner and tests. */
export interface TestEnvInfo {
  runDir: string;
  binDir: string;
  kubeconfig: string;
  apiserverUrl: string;
  kafkaBrokers: string[];
  redisUrl: string;
  nodeName: string;
  startedAt: string;
}

/** The run directory: $RUNNEL_TESTENV_RUN or /tmp/runnel-testenv. */
export function runDir(): string {
  return process.env.RUNNEL_TESTENV_RUN ?? "/tmp/runnel-testenv";
}

/** Paths of the cached component folders, computed by the same shell code `install` uses. */
export function cachePaths(): { kube: string; etcd: string; helm: string; kafka: string; timings: string } {
  const script = `source "${join(repoRoot, "test/env/lib/common.sh")}"; printf '%s\\n' "$KUBE_CACHE" "$ETCD_CACHE" "$HELM_CACHE" "$KAFKA_CACHE" "$TIMINGS_FILE"`;
  const [kube, etcd, helm, kafka, timings] = execFileSync("bash", ["-c", script], { encoding: "utf8" }).trim().split("\n");
  if (!kube || !etcd || !helm || !kafka || !timings) throw new Error("test/env/lib/common.sh did not name the cache folders");
  return { kube, etcd, helm, kafka, timings };
}

/** Reads env.json of a running environment, or undefined when none is up. */
export function readEnvInfo(dir = runDir()): TestEnvInfo | undefined {
  const file = join(dir, "env.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as TestEnvInfo;
}
