// The Runnel test environment's node agent: plays the kubelet for one Node, running every pod
// bound to it as local processes (see test/env/README.md and docs/testing.md).
//
//   node test/env/node-agent/main.ts --kubeconfig <file> [--node-name runnel-node-0]
//     [--state-dir <dir>] [--image-map <file>] [--ip-prefix 127.1] [--kubelet-port 10250]
//     [--cpu 16] [--memory 32Gi] [--max-pods 110] [--no-provisioner]
import { mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { EventRecorder } from "./events.ts";
import { loadImageMap } from "./image-map.ts";
import { IpPool } from "./ip-pool.ts";
import { makeClients, serverVersion } from "./kube.ts";
import { startKubeletServer } from "./kubelet-server.ts";
import { errorText, log } from "./log.ts";
import { MountPoints } from "./mounts.ts";
import { NodeRegistration } from "./node.ts";
import { PodManager } from "./pods.ts";
import { reapOrphans } from "./process.ts";
import { LocalPathProvisioner } from "./provisioner.ts";

const USAGE = `usage: node test/env/node-agent/main.ts --kubeconfig <file> [--node-name <name>] [--state-dir <dir>]
  [--image-map <file>] [--ip-prefix 127.1] [--kubelet-port 10250] [--cpu 16] [--memory 32Gi]
  [--max-pods 110] [--no-provisioner]`;

/** Parses the command line. */
export function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: "string", default: process.env.KUBECONFIG },
      "node-name": { type: "string", default: "runnel-node-0" },
      "state-dir": { type: "string", default: "/tmp/runnel-node-agent" },
      "image-map": { type: "string" },
      "ip-prefix": { type: "string", default: "127.1" },
      "kubelet-port": { type: "string", default: "10250" },
      cpu: { type: "string", default: "16" },
      memory: { type: "string", default: "32Gi" },
      "max-pods": { type: "string", default: "110" },
      "no-provisioner": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help || !values.kubeconfig) {
    process.stderr.write(USAGE + "\n");
    process.exit(values.help ? 0 : 2);
  }
  return {
    kubeconfig: values.kubeconfig,
    nodeName: values["node-name"],
    stateDir: path.resolve(values["state-dir"]),
    imageMap: values["image-map"],
    ipPrefix: values["ip-prefix"],
    kubeletPort: Number(values["kubelet-port"]),
    cpu: values.cpu,
    memory: values.memory,
    maxPods: values["max-pods"],
    provisioner: !values["no-provisioner"],
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  mkdirSync(path.join(opts.stateDir, "pods"), { recursive: true });
  reapOrphans(opts.stateDir);
  const clients = makeClients(opts.kubeconfig);
  const version = await serverVersion(clients);
  log("agent-starting", { node: opts.nodeName, apiserver: clients.server.origin, version, stateDir: opts.stateDir });

  const node = new NodeRegistration(clients, {
    nodeName: opts.nodeName,
    cpu: opts.cpu,
    memory: opts.memory,
    pods: opts.maxPods,
    kubeletPort: opts.kubeletPort,
    version,
  });
  await node.start();
  const provisioner = opts.provisioner ? new LocalPathProvisioner(clients, opts.nodeName, opts.stateDir) : undefined;
  await provisioner?.start();
  const pods = new PodManager({
    clients,
    nodeName: opts.nodeName,
    stateDir: opts.stateDir,
    ipPool: new IpPool(opts.ipPrefix),
    imageMap: loadImageMap(opts.imageMap),
    events: new EventRecorder(clients, opts.nodeName),
    mountPoints: new MountPoints(),
    nodeCpu: opts.cpu,
    nodeMemory: opts.memory,
  });
  const server = await startKubeletServer(opts.stateDir, opts.kubeletPort, pods);
  pods.start();
  log("agent-ready", { node: opts.nodeName });

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log("agent-stopping", { signal });
    server.close();
    await pods.shutdown(3000);
    await provisioner?.stop();
    await node.stop();
    log("agent-stopped");
    process.exit(0);
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      shutdown(sig).catch((err: unknown) => {
        log("agent-stop-failed", { error: errorText(err) });
        process.exit(1);
      });
    });
  }
}

main().catch((err: unknown) => {
  log("agent-failed", { error: errorText(err) });
  process.exit(1);
});
