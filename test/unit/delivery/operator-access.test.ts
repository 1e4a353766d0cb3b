// The list of requests the operator makes (test/helpers/operator-access.ts), which the chart's RBAC
// is checked against with the operator's own token, kept in step with the operator's code: every
// client call in operator/, every informer, and every kind it applies must be in the list, so a
// new call without a rule fails here before it is refused on a cluster.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KINDS } from "../../../operator/kube/resources.ts";
import { repoRoot } from "../../env/lib/layout.ts";
import { ownNamespaceAccess, watchedNamespaceAccess } from "../../helpers/operator-access.ts";

const VERBS: Record<string, string[]> = {
  create: ["create"],
  read: ["get"],
  patch: ["patch"],
  replace: ["update"],
  delete: ["delete"],
  list: ["list", "watch"],
};
const RESOURCES: Record<string, string[]> = {
  StatefulSet: ["statefulsets.apps"],
  StatefulSetScale: ["statefulsets.apps/scale"],
  Pod: ["pods"],
  PodLog: ["pods/log"],
  ConfigMap: ["configmaps"],
  Secret: ["secrets"],
  Service: ["services"],
  PodDisruptionBudget: ["poddisruptionbudgets.policy"],
  Job: ["jobs.batch"],
  Lease: ["leases.coordination.k8s.io"],
  Event: ["events.events.k8s.io"],
  CustomObject: ["streamjobs.runnel.dev", "streamsavepoints.runnel.dev"],
  CustomObjectStatus: ["streamjobs.runnel.dev/status", "streamsavepoints.runnel.dev/status"],
};
const GROUPS: Record<string, string> = { "/api/v1": "", "/apis/apps/v1": ".apps", "/apis/policy/v1": ".policy", "/apis/batch/v1": ".batch" };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [readFileSync(join(dir, e.name), "utf8")] : [],
  );
}

/** `verb resource` of every typed client call in operator/, e.g. `patch statefulsets.apps/scale`. */
function clientCalls(): string[] {
  const calls = new Set<string>();
  const re =
    /\b(?:core|apps|batch|policy|coordination|events|custom)\.(create|read|patch|replace|delete|list)(?:Namespaced|Cluster)?([A-Z]\w*?)(?:ForAllNamespaces)?\(/g;
  for (const text of sources(join(repoRoot, "operator")))
    for (const [, verb, kind] of text.matchAll(re)) {
      const resources = RESOURCES[kind as string];
      if (!resources) throw new Error(`operator/ calls ${verb}${kind}: add what it asks of the apiserver to this test's table`);
      for (const v of VERBS[verb as string] ?? []) for (const r of resources) calls.add(`${v} ${r}`);
    }
  return [...calls].sort();
}

const granted = new Set([...watchedNamespaceAccess("ns"), ...ownNamespaceAccess("ns", "op")].map((a) => `${a.verb} ${a.resource}`));

describe("the operator's requests, as the chart's RBAC is checked against them", () => {
  it("finds the client calls it is meant to find", () => {
    expect(clientCalls()).toEqual(
      expect.arrayContaining(["create secrets", "get secrets", "patch statefulsets.apps/scale", "get pods/log", "update leases.coordination.k8s.io"]),
    );
  });

  it("lists every typed client call in operator/", () => {
    expect(clientCalls().filter((c) => !granted.has(c))).toEqual([]);
  });

  it("lists list and watch of every informer, and create and patch of every child it applies", () => {
    const missing: string[] = [];
    for (const [name, kind] of Object.entries(KINDS)) {
      const resource = kind.prefix.startsWith("/apis/runnel.dev") ? `${kind.plural}.runnel.dev` : `${kind.plural}${GROUPS[kind.prefix] ?? "?"}`;
      const verbs = ["list", "watch", ...(["streamjobs", "streamsavepoints", "pods"].includes(name) ? [] : ["create", "patch"])];
      for (const v of verbs) if (!granted.has(`${v} ${resource}`)) missing.push(`${v} ${resource}`);
    }
    expect(missing).toEqual([]);
  });

  it("never asks to read Secrets in a job's namespace", () => {
    expect(
      watchedNamespaceAccess("ns")
        .filter((a) => a.resource === "secrets")
        .map((a) => a.verb),
    ).toEqual(["create"]);
  });
});
