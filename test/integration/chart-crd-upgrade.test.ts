// CRD upgrades through the chart (ADR 27): Helm never upgrades a chart's crds/ folder, so the
// operator chart carries its CRDs as templates. Here a copy of the chart whose StreamJob CRD lives
// in a group of its own (so the cluster's real CRDs and other tests are untouched) is installed,
// then upgraded with a new spec field: before the upgrade the apiserver refuses the field, after
// it the field is accepted and stored. Uninstalling keeps the CRD (and so every StreamJob).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../env/lib/layout.ts";
import { uniqueName } from "../helpers/env.ts";
import { OPERATOR_CHART, valueArgs } from "../helpers/chart.ts";
import { createNamespace, type TestNamespace } from "../helpers/kube.ts";
import { mustRun, runTool } from "../helpers/tools.ts";

const TEMPLATE = "templates/crds/streamjob.yaml";

/** Rewrites the chart copy's StreamJob CRD template: its own group, no short names, and `change` applied to the v1alpha1 spec schema. */
function rewriteCrd(chartDir: string, group: string, change?: (specSchema: { properties: Record<string, unknown> }) => void): void {
  const file = join(chartDir, TEMPLATE);
  const lines = readFileSync(file, "utf8").split("\n");
  const open = lines.findIndex((l) => l.startsWith("{{- if"));
  const close = lines.findIndex((l) => l.startsWith("{{- end"));
  const crd = parse(lines.slice(open + 1, close).join("\n")) as {
    metadata: { name: string };
    spec: {
      group: string;
      names: Record<string, unknown>;
      versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }[];
    };
  };
  crd.metadata.name = `streamjobs.${group}`;
  crd.spec.group = group;
  delete crd.spec.names.shortNames;
  delete crd.spec.names.categories;
  change?.(crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec as { properties: Record<string, unknown> });
  writeFileSync(file, [...lines.slice(0, open + 1), stringify(crd, { lineWidth: 0 }), ...lines.slice(close)].join("\n"));
  // Only the StreamJob CRD is under test: the StreamSavepoint one would clash with the cluster's.
  rmSync(join(chartDir, "templates/crds/streamsavepoint.yaml"));
}

describe("operator chart: helm upgrade upgrades the CRDs", () => {
  const group = `${uniqueName("crd")}.test.runnel.dev`;
  const release = uniqueName("crdup");
  const dirs: string[] = [];
  let ns: TestNamespace;
  // The operator itself is not under test: its pods stay pending on an image the node cannot run.
  const values = { replicaCount: 1, image: { repository: "runnel/absent-in-this-test" }, rbac: { create: false }, networkPolicy: { enabled: false } };

  function chartCopy(change?: Parameters<typeof rewriteCrd>[2]): string {
    const dir = mkdtempSync(join(tmpdir(), "runnel-chart-"));
    dirs.push(dir);
    cpSync(OPERATOR_CHART, dir, { recursive: true });
    rewriteCrd(dir, group, change);
    return dir;
  }

  function applyJobWithNewField(): ReturnType<typeof runTool> {
    const example = parse(readFileSync(join(repoRoot, "examples/quickstart/orders.yaml"), "utf8")) as { spec: Record<string, unknown> };
    const job = {
      apiVersion: `${group}/v1alpha1`,
      kind: "StreamJob",
      metadata: { name: "uses-new-field", namespace: ns.name },
      spec: { ...example.spec, laneCount: 7 },
    };
    return runTool("kubectl", ["apply", "--server-side", "--validate=strict", "--field-manager=test", "-f", "-"], { input: JSON.stringify(job) });
  }

  beforeAll(async () => {
    ns = await createNamespace("crdup");
  });
  afterAll(() => {
    runTool("helm", ["uninstall", release, "-n", ns.name]);
    runTool("kubectl", ["delete", "crd", `streamjobs.${group}`, "--ignore-not-found", "--wait=false"]);
    ns?.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("installs the CRD, upgrades it with a new field that is then accepted, and keeps it on uninstall", () => {
    mustRun("helm", ["install", release, chartCopy(), "-n", ns.name, ...valueArgs(values)]);
    mustRun("kubectl", ["wait", "--for=condition=Established", "--timeout=60s", `crd/streamjobs.${group}`]);
    const before = applyJobWithNewField();
    expect(before.status).not.toBe(0);
    expect(before.stderr).toMatch(/\.spec\.laneCount: field not declared in schema/);

    const upgraded = chartCopy((spec) => {
      spec.properties.laneCount = { type: "integer", minimum: 1, description: "A field added by a chart upgrade." };
    });
    mustRun("helm", ["upgrade", release, upgraded, "-n", ns.name, ...valueArgs(values)]);
    const schema = mustRun("kubectl", [
      "get",
      "crd",
      `streamjobs.${group}`,
      "-o",
      "jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.laneCount.type}",
    ]);
    expect(schema).toBe("integer");
    // The apiserver may serve the new schema a moment after the CRD changes: retry until it does.
    let after = applyJobWithNewField();
    for (let i = 0; i < 20 && /not declared in schema/.test(after.stderr); i++) {
      mustRun("kubectl", ["wait", "--for=condition=Established", "--timeout=30s", `crd/streamjobs.${group}`]);
      after = applyJobWithNewField();
    }
    expect(after.stderr).toBe("");
    const stored = mustRun("kubectl", ["get", `streamjobs.${group}`, "uses-new-field", "-n", ns.name, "-o", "jsonpath={.spec.laneCount}"]);
    expect(stored).toBe("7");

    mustRun("helm", ["uninstall", release, "-n", ns.name]);
    expect(runTool("kubectl", ["get", "crd", `streamjobs.${group}`]).status).toBe(0);
    expect(mustRun("kubectl", ["get", `streamjobs.${group}`, "uses-new-field", "-n", ns.name, "-o", "jsonpath={.spec.laneCount}"])).toBe("7");
  });
});
