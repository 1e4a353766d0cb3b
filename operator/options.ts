/**
 * `runnel operator` flags: where the cluster is, what to watch, leader election, the health and
 * metrics address, worker defaults. A bad flag is a usage error naming the flag and the fix.
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { parseDuration } from "../runtime/spec/duration.ts";
import { OperatorUsageError } from "./errors.ts";

/** Usage of `runnel operator`. */
export const OPERATOR_USAGE = `runnel operator [options]

Runs the StreamJob and StreamSavepoint controllers against a Kubernetes cluster: in a pod with its
service account, or from a workstation with a kubeconfig.

Options:
  --kubeconfig <file>          out of the cluster: this kubeconfig (default: in-cluster service account, else $KUBECONFIG)
  --namespace <ns>             watch only this namespace (repeat, or comma-separate, for several; default: all namespaces)
  --no-leader-elect            act without a Lease (one replica only!)
  --lease-namespace <ns>       namespace of the leader Lease (default $POD_NAMESPACE, else the first --namespace, else default)
  --lease-name <name>          the leader Lease (default runnel-operator)
  --identity <id>              this replica in the Lease (default: hostname and a random suffix)
  --listen <host:port>         /healthz, /readyz, /metrics (default 0.0.0.0:8080; port 0: any)
  --worker-image <image>       worker image when a StreamJob names none (default runnel/runnel:<version>)
  --state-size <quantity>      state volume per worker when a StreamJob names none (default 1Gi)
  --concurrency <n>            StreamJobs reconciled at once (default 4)
  --resync <duration>          re-check steady jobs this often: lag, periodic savepoints, stability (default 15s)`;

/** Parsed options. */
export interface OperatorOptions {
  kubeconfig?: string;
  namespaces?: string[];
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  listen: { host: string; port: number };
  workerImage: string;
  stateSize: string;
  concurrency: number;
  resyncMs: number;
}

/** Parses `runnel operator` arguments; throws OperatorUsageError naming the bad flag. */
export function parseOperatorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env, version = "0.1.0"): OperatorOptions {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: "string" },
        namespace: { type: "string", multiple: true },
        "no-leader-elect": { type: "boolean" },
        "lease-namespace": { type: "string" },
        "lease-name": { type: "string" },
        identity: { type: "string" },
        listen: { type: "string" },
        "worker-image": { type: "string" },
        "state-size": { type: "string" },
        concurrency: { type: "string" },
        resync: { type: "string" },
      },
    }));
  } catch (err) {
    throw new OperatorUsageError((err as Error).message);
  }
  const namespaces = (values.namespace as string[] | undefined)
    ?.flatMap((n) => n.split(","))
    .map((n) => n.trim())
    .filter(Boolean);
  for (const ns of namespaces ?? [])
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns))
      throw new OperatorUsageError(`--namespace '${ns}' is not a namespace name (lowercase letters, digits and -)`);
  const listenText = (values.listen as string | undefined) ?? "0.0.0.0:8080";
  const m = /^(.+):(\d{1,5})$/.exec(listenText);
  if (!m || Number(m[2]) > 65535) throw new OperatorUsageError(`--listen must be host:port, e.g. 0.0.0.0:8080, got '${listenText}'`);
  const concurrency = Number(values.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new OperatorUsageError(`--concurrency must be a positive integer, got '${String(values.concurrency)}'`);
  let resyncMs: number;
  try {
    resyncMs = parseDuration((values.resync as string | undefined) ?? "15s");
  } catch {
    throw new OperatorUsageError(`--resync must be a duration like 15s or 1m, got '${String(values.resync)}'`);
  }
  const stateSize = (values["state-size"] as string | undefined) ?? "1Gi";
  if (!/^[0-9]+(\.[0-9]+)?([KMGTPE]i?|[mk])?$/.test(stateSize))
    throw new OperatorUsageError(`--state-size must be a quantity like 1Gi or 500Mi, got '${stateSize}'`);
  return {
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig as string } : {}),
    ...(namespaces?.length ? { namespaces: [...new Set(namespaces)] } : {}),
    leaderElect: values["no-leader-elect"] !== true,
    leaseNamespace: (values["lease-namespace"] as string | undefined) ?? env.POD_NAMESPACE ?? namespaces?.[0] ?? "default",
    leaseName: (values["lease-name"] as string | undefined) ?? "runnel-operator",
    identity: (values.identity as string | undefined) ?? `${env.POD_NAME ?? hostname()}-${Math.random().toString(36).slice(2, 8)}`,
    listen: { host: (m[1] as string).replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) },
    workerImage: (values["worker-image"] as string | undefined) ?? `runnel/runnel:${version}`,
    stateSize,
    concurrency,
    resyncMs,
  };
}
