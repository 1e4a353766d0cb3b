/**
 * The operator chart in tests: rendering it with values, applying it, acting as its
 * ServiceAccount (a token from the TokenRequest API) and asking the apiserver what that token may do.
 */
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../env/lib/layout.ts";
import { mustRun, runTool } from "./tools.ts";

/** The operator chart's folder. */
export const OPERATOR_CHART = join(repoRoot, "charts/runnel-operator");

/** A rendered Kubernetes object. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The apiserver's version (`helm template --kube-version` checks the chart's kubeVersion against it). */
export function serverVersion(): string {
  return (JSON.parse(mustRun("kubectl", ["version", "-o", "json"])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
}

/** `--set-json` arguments for a values object (each top-level key its own flag). */
export function valueArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ["--set-json", `${k}=${JSON.stringify(v)}`]);
}

/** `helm template` of a chart as YAML text; throws with helm's message when rendering fails. */
export function renderChartText(options: { release: string; namespace: string; values?: Record<string, unknown>; chart?: string }): string {
  return mustRun("helm", [
    "template",
    options.release,
    options.chart ?? OPERATOR_CHART,
    "--namespace",
    options.namespace,
    "--kube-version",
    serverVersion(),
    ...valueArgs(options.values ?? {}),
  ]);
}

/** `helm template` parsed into objects. */
export function renderChart(options: { release: string; namespace: string; values?: Record<string, unknown>; chart?: string }): Manifest[] {
  return parseAllDocuments(renderChartText(options))
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** The one rendered object of a kind (and name, when given). */
export function findManifest(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, rendered ${found.length}`);
  return found[0] as Manifest;
}

/** A token for a ServiceAccount (TokenRequest API), to act as it. */
export function serviceAccountToken(namespace: string, name: string): string {
  return mustRun("kubectl", ["create", "token", name, "-n", namespace, "--duration=1h"]).trim();
}

/** One question for `kubectl auth can-i`: `verb resource[/subresource] [name]` in a namespace (none: cluster scope). */
export interface Access {
  verb: string;
  /** `resource.group` as kubectl spells it, e.g. `statefulsets.apps`, `pods/log`, `streamjobs.runnel.dev/status`. */
  resource: string;
  namespace?: string;
  name?: string;
}

/** Asks the apiserver, authenticated with `token`, whether it may do `access` (a SelfSubjectAccessReview). */
export function canI(token: string, access: Access): boolean {
  const [resource, sub] = access.resource.split("/");
  const args = [
    "auth",
    "can-i",
    access.verb,
    access.name ? `${resource}/${access.name}` : (resource as string),
    ...(sub ? ["--subresource", sub] : []),
    ...(access.namespace ? ["-n", access.namespace] : ["--all-namespaces"]),
    `--token=${token}`,
  ];
  const result = runTool("kubectl", args);
  const answer = result.stdout.trim();
  if (answer !== "yes" && answer !== "no") throw new Error(`kubectl ${args.slice(0, -1).join(" ")}: ${result.stderr}${result.stdout}`);
  return answer === "yes";
}

/** Describes an access for failure messages. */
export function describeAccess(a: Access): string {
  return `${a.verb} ${a.resource}${a.name ? `/${a.name}` : ""} ${a.namespace ? `in ${a.namespace}` : "cluster-wide"}`;
}

/**
 * `helm install` of the operator chart as the tests run it: the test image, the cluster's CRDs
 * (applied by installCrds, not the release's), watching `watch` only, each pod binding its own IP
 * (pods on the test node share ports); waits for its pods. `values` override the defaults.
 */
export function installOperatorChart(release: string, namespace: string, watch: string[], values: Record<string, unknown> = {}): void {
  mustRun(
    "helm",
    [
      "install",
      release,
      OPERATOR_CHART,
      "-n",
      namespace,
      "--wait",
      "--timeout",
      "4m",
      ...valueArgs({
        image: { repository: "runnel/runnel", tag: "test" },
        crds: { install: false },
        watchNamespaces: watch,
        operator: { listenAddress: "$(POD_IP)", resync: "3s" },
        ...values,
      }),
    ],
    { timeoutMs: 300_000 },
  );
}
