// The operator chart's RBAC, asked of the real apiserver with the operator's own ServiceAccount
// token: every request the operator makes (test/helpers/operator-access.ts) is allowed, and it can
// read no Secret and, in namespaced mode, touch nothing in a namespace it does not watch.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../helpers/env.ts";
import { canI, describeAccess, renderChart, serviceAccountToken, type Access, type Manifest } from "../helpers/chart.ts";
import { createNamespace, type TestNamespace } from "../helpers/kube.ts";
import { clusterWideAccess, forbiddenAccess, ownNamespaceAccess, watchedNamespaceAccess } from "../helpers/operator-access.ts";
import { installCrds } from "../helpers/operator.ts";
import { mustRun, runTool } from "../helpers/tools.ts";

beforeAll(() => installCrds());

const RBAC_KINDS = new Set(["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);

/** Applies only the chart's ServiceAccount and RBAC objects (the rest needs no apiserver to judge permissions). */
function applyRbac(manifests: Manifest[]): () => void {
  const objects = manifests.filter((m) => RBAC_KINDS.has(m.kind));
  mustRun("kubectl", ["apply", "-f", "-"], { input: objects.map((o) => JSON.stringify(o)).join("\n") });
  return () =>
    void runTool("kubectl", ["delete", "--ignore-not-found", "--wait=false", "-f", "-"], { input: objects.map((o) => JSON.stringify(o)).join("\n") });
}

function denied(token: string, accesses: Access[]): string[] {
  return accesses.filter((a) => canI(token, a)).map(describeAccess);
}

function missing(token: string, accesses: Access[]): string[] {
  return accesses.filter((a) => !canI(token, a)).map(describeAccess);
}

describe("operator chart RBAC, namespaced mode (watchNamespaces)", () => {
  const release = uniqueName("rbac");
  const fullname = `${release}-runnel-operator`;
  const namespaces: TestNamespace[] = [];
  let own = "";
  let watchedA = "";
  let watchedB = "";
  let unwatched = "";
  let token = "";
  let remove: () => void = () => undefined;

  beforeAll(async () => {
    for (const prefix of ["rbac-op", "rbac-a", "rbac-b", "rbac-other"]) namespaces.push(await createNamespace(prefix));
    [own, watchedA, watchedB, unwatched] = namespaces.map((n) => n.name) as [string, string, string, string];
    remove = applyRbac(renderChart({ release, namespace: own, values: { watchNamespaces: [watchedA, watchedB] } }));
    token = serviceAccountToken(own, fullname);
  });
  afterAll(() => {
    remove();
    for (const n of namespaces) n.cleanup();
  });

  it("allows every request the operator makes in each watched namespace", () => {
    expect(missing(token, [...watchedNamespaceAccess(watchedA), ...watchedNamespaceAccess(watchedB)])).toEqual([]);
  });

  it("allows its Lease and its key Secret by name in its own namespace", () => {
    expect(missing(token, ownNamespaceAccess(own, fullname))).toEqual([]);
  });

  it("reads no Secret, touches no unwatched namespace and nothing cluster-wide", () => {
    expect(denied(token, forbiddenAccess({ watched: watchedA, own, fullname, unwatched }))).toEqual([]);
    // Its own namespace is not a watched one: no StreamJobs there.
    expect(canI(token, { verb: "list", resource: "streamjobs.runnel.dev", namespace: own })).toBe(false);
  });
});

describe("operator chart RBAC, cluster-wide mode", () => {
  const release = uniqueName("rbacc");
  const fullname = `${release}-runnel-operator`;
  const namespaces: TestNamespace[] = [];
  let own = "";
  let anyNs = "";
  let token = "";
  let remove: () => void = () => undefined;

  beforeAll(async () => {
    for (const prefix of ["rbacc-op", "rbacc-any"]) namespaces.push(await createNamespace(prefix));
    [own, anyNs] = namespaces.map((n) => n.name) as [string, string];
    remove = applyRbac(renderChart({ release, namespace: own }));
    token = serviceAccountToken(own, fullname);
  });
  afterAll(() => {
    remove();
    for (const n of namespaces) n.cleanup();
  });

  it("allows every request the operator makes, in any namespace and across all of them", () => {
    expect(missing(token, [...watchedNamespaceAccess(anyNs), ...clusterWideAccess(), ...ownNamespaceAccess(own, fullname)])).toEqual([]);
  });

  it("still reads no Secret anywhere and holds nothing beyond its requests", () => {
    expect(denied(token, forbiddenAccess({ watched: anyNs, own, fullname }))).toEqual([]);
  });
});
