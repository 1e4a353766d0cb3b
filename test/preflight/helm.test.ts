// Smoke test: the real helm binary, linting and rendering a chart and validating the result
// against the real kube-apiserver of test/env.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { repoRoot } from "../env/lib/layout.ts";
import { uniqueName } from "../helpers/env.ts";
import { mustRun, runTool } from "../helpers/tools.ts";

const chart = join(repoRoot, "test/fixtures/charts/smoke");

function serverVersion(): string {
  const version = JSON.parse(mustRun("kubectl", ["version", "-o", "json"])) as { serverVersion: { gitVersion: string } };
  return version.serverVersion.gitVersion;
}

describe("helm (real) against the test apiserver", () => {
  const namespace = uniqueName("helm");
  // `helm template` renders offline; telling it the cluster's version checks kubeVersion for real.
  let kubeVersion = "";

  beforeAll(() => {
    mustRun("kubectl", ["create", "namespace", namespace]);
    kubeVersion = serverVersion();
  });
  afterAll(() => {
    runTool("kubectl", ["delete", "namespace", namespace, "--wait=false"]);
  });

  it("reports the stamped Kubernetes version, which chart kubeVersion checks rely on", () => {
    expect(kubeVersion).toMatch(/^v1\.36\.\d+$/);
  });

  it("lints the chart", () => {
    const out = mustRun("helm", ["lint", chart, "--strict"]);
    expect(out).toContain("1 chart(s) linted, 0 chart(s) failed");
  });

  it("renders the chart and the apiserver accepts it in a server-side dry run", () => {
    const manifests = mustRun("helm", ["template", "smoke", chart, "--namespace", namespace, "--kube-version", kubeVersion]);
    const out = mustRun("kubectl", ["apply", "--dry-run=server", "-n", namespace, "-f", "-"], { input: manifests });
    expect(out).toContain("statefulset.apps/smoke-worker created (server dry run)");
    // Nothing was persisted by the dry run.
    expect(runTool("kubectl", ["get", "statefulset", "smoke-worker", "-n", namespace]).status).not.toBe(0);
  });

  it("has the server-side dry run reject what the apiserver's schema rejects", () => {
    const manifests = mustRun("helm", ["template", "smoke", chart, "--namespace", namespace, "--kube-version", kubeVersion, "--set", "replicas=-3"]);
    const result = runTool("kubectl", ["apply", "--dry-run=server", "-n", namespace, "-f", "-"], { input: manifests });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("spec.replicas");
  });

  it("installs and uninstalls a release, checking the chart's kubeVersion against the cluster", () => {
    mustRun("helm", ["install", "smoke", chart, "--namespace", namespace, "--set", "replicas=0"]);
    expect(mustRun("kubectl", ["get", "configmap", "smoke-config", "-n", namespace, "-o", "jsonpath={.data.message}"])).toBe("hello");
    mustRun("helm", ["uninstall", "smoke", "--namespace", namespace]);
    expect(runTool("kubectl", ["get", "configmap", "smoke-config", "-n", namespace]).status).not.toBe(0);
  });
});
