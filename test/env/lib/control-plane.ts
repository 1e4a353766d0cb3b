/** etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes. */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "node:https";
import { request } from "node:https";
import { request as httpRequest } from "node:http";
import { ports } from "./layout.ts";
import { startDaemon, waitUntil } from "./processes.ts";

/** The admin's bearer token (group system:masters); only ever valid on this loopback apiserver. */
export const ADMIN_TOKEN = "runnel-testenv-admin";

interface PlaneOptions {
  runDir: string;
  binDir: string;
}

/** Starts etcd and waits for GET /health. */
export async function startEtcd({ runDir, binDir }: PlaneOptions): Promise<void> {
  const data = join(runDir, "data", "etcd");
  mkdirSync(data, { recursive: true });
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  const pid = startDaemon({
    name: "etcd",
    runDir,
    command: join(binDir, "etcd"),
    args: [
      `--data-dir=${data}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      "--unsafe-no-fsync=true",
      "--quota-backend-bytes=4294967296",
    ],
  });
  await waitUntil("etcd", async () => (await httpGet(`${client}/health`)).includes('"health":"true"'), {
    timeoutMs: 30_000,
    pid,
    logFile: join(runDir, "logs", "etcd.log"),
  });
}

/** Writes the service-account key pair and the static token file the apiserver needs. */
function writeCredentials(pki: string): void {
  mkdirSync(pki, { recursive: true });
  execFileSync("openssl", ["genrsa", "-out", join(pki, "sa.key"), "2048"], { stdio: "ignore" });
  execFileSync("openssl", ["rsa", "-in", join(pki, "sa.key"), "-pubout", "-out", join(pki, "sa.pub")], { stdio: "ignore" });
  writeFileSync(join(pki, "tokens.csv"), `${ADMIN_TOKEN},admin,admin,system:masters\n`);
}

/** Starts kube-apiserver on 127.0.0.1 and waits for /readyz; returns its URL. */
export async function startApiserver({ runDir, binDir }: PlaneOptions): Promise<string> {
  const pki = join(runDir, "data", "pki");
  writeCredentials(pki);
  const url = `https://127.0.0.1:${ports.apiserver}`;
  const pid = startDaemon({
    name: "kube-apiserver",
    runDir,
    command: join(binDir, "kube-apiserver"),
    args: [
      `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      // A loopback advertise address cannot be written into the kubernetes Endpoints.
      "--endpoint-reconciler-type=none",
      `--secure-port=${ports.apiserver}`,
      `--cert-dir=${join(pki, "serving")}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${join(pki, "sa.pub")}`,
      `--service-account-signing-key-file=${join(pki, "sa.key")}`,
      "--authorization-mode=RBAC",
      "--allow-privileged=true",
      `--token-auth-file=${join(pki, "tokens.csv")}`,
      "--enable-priority-and-fairness=false",
      "--profiling=false",
      "--v=1",
    ],
  });
  await waitUntil("kube-apiserver", async () => (await httpsGet(`${url}/readyz`, ADMIN_TOKEN)) === "ok", {
    timeoutMs: 120_000,
    pid,
    logFile: join(runDir, "logs", "kube-apiserver.log"),
  });
  return url;
}

/** The CA bundle of the apiserver's self-signed serving certificate. */
export function servingCa(runDir: string): string {
  return readFileSync(join(runDir, "data", "pki", "serving", "apiserver.crt"), "utf8");
}

/** Writes an admin kubeconfig for the apiserver and returns its path. */
export function writeKubeconfig(runDir: string, apiserverUrl: string): string {
  const file = join(runDir, "kubeconfig");
  const ca = Buffer.from(servingCa(runDir)).toString("base64");
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: runnel-testenv",
      "  cluster:",
      `    server: ${apiserverUrl}`,
      `    certificate-authority-data: ${ca}`,
      "users:",
      "- name: admin",
      "  user:",
      `    token: ${ADMIN_TOKEN}`,
      "contexts:",
      "- name: runnel-testenv",
      "  context: {cluster: runnel-testenv, user: admin, namespace: default}",
      "current-context: runnel-testenv",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return file;
}

/**
 * Starts a control-plane component that talks to the apiserver with the admin kubeconfig and
 * serves its own /healthz on a loopback HTTPS port; resolves once that answers `ok`.
 */
async function startKubeComponent(
  { runDir, binDir }: PlaneOptions,
  kubeconfig: string,
  component: { name: string; port: number; args: string[] },
): Promise<void> {
  const pid = startDaemon({
    name: component.name,
    runDir,
    command: join(binDir, component.name),
    args: [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${component.port}`,
      `--cert-dir=${join(runDir, "data", component.name)}`,
      "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
      "--v=1",
      ...component.args,
    ],
  });
  await waitUntil(component.name, async () => (await httpsGet(`https://127.0.0.1:${component.port}/healthz`)) === "ok", {
    timeoutMs: 60_000,
    pid,
    logFile: join(runDir, "logs", `${component.name}.log`),
  });
}

/** Starts kube-controller-manager (StatefulSet, GC, namespace, PV binder, SA token controllers). */
export async function startControllerManager(opts: PlaneOptions, kubeconfig: string): Promise<void> {
  const pki = join(opts.runDir, "data", "pki");
  await startKubeComponent(opts, kubeconfig, {
    name: "kube-controller-manager",
    port: ports.controllerManager,
    args: [
      `--service-account-private-key-file=${join(pki, "sa.key")}`,
      `--root-ca-file=${join(pki, "serving", "apiserver.crt")}`,
      "--use-service-account-credentials=false",
      // No kubelet renews node heartbeats the way the node lifecycle controller expects.
      "--controllers=*,-node-lifecycle-controller",
    ],
  });
}

/** Starts kube-scheduler, which binds pods to the node agent's Node. */
export async function startScheduler(opts: PlaneOptions, kubeconfig: string): Promise<void> {
  await startKubeComponent(opts, kubeconfig, { name: "kube-scheduler", port: ports.scheduler, args: [] });
}

const insecureLoopback = new Agent({ rejectUnauthorized: false });

/** GET over HTTPS on loopback (self-signed serving certs), resolving to the body. */
export function httpsGet(url: string, token?: string): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const req = request(url, { agent: insecureLoopback, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: 5_000 }, (res) =>
      collect(res, resolveBody),
    );
    req.on("error", reject).on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const req = httpRequest(url, { timeout: 5_000 }, (res) => collect(res, resolveBody));
    req.on("error", reject).on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

function collect(res: NodeJS.ReadableStream, done: (body: string) => void): void {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => (body += chunk));
  res.on("end", () => done(body));
}
