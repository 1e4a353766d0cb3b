/** Where the test environment keeps its binaries, data, logs and the file tests read. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root (test/env/lib → ../../..). */
export const repoRoot = resolve(import.meta.dirname, "..", "..", "..");

/**
 * A second environment (say, a clean-clone check beside a developer's running one) sets
 * RUNNEL_TESTENV_SLOT=1..9: its ports move by 100 × slot and its pods use 127.(1+slot).x.y.
 */
const slot = Number(process.env.RUNNEL_TESTENV_SLOT ?? "0");
if (!Number.isInteger(slot) || slot < 0 || slot > 9) {
  throw new Error(`RUNNEL_TESTENV_SLOT must be a whole number from 0 to 9, not '${process.env.RUNNEL_TESTENV_SLOT}'`);
}
const offset = slot * 100;

/** Ports on 127.0.0.1; pods get other loopback addresses (127.1.x.y), so they never clash. */
export const ports = {
  etcdClient: 12379 + offset,
  etcdPeer: 12380 + offset,
  apiserver: 16443 + offset,
  controllerManager: 10257 + offset,
  scheduler: 10259 + offset,
  kubelet: 10250 + offset,
  kafka: 19092 + offset,
  kafkaController: 19093 + offset,
  redis: 16379 + offset,
} as const;

/** The first two octets of pod IPs handed out by the node agent. */
export const podIpPrefix = `127.${1 + slot}`;

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

/** The run directory: $RUNNEL_TESTENV_RUN, else /tmp/runnel-testenv (with -<slot> for slots above 0). */
export function runDir(): string {
  return process.env.RUNNEL_TESTENV_RUN ?? (slot === 0 ? "/tmp/runnel-testenv" : `/tmp/runnel-testenv-${slot}`);
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
