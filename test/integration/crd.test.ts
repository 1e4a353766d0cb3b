// The generated CRDs against the real kube-apiserver of test/env: they install and become
// Established, the example manifests are accepted, every malformed manifest of the corpus is rejected
// by the apiserver itself (schema or CEL rule) at the same field path `runnel validate` reports,
// `kubectl explain` shows the schema's descriptions, and the scale subresource and printer columns work.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { repoRoot } from "../env/lib/layout.ts";
import { uniqueName } from "../helpers/env.ts";
import { readInvalidCorpus } from "../helpers/streamjob-corpus.ts";
import { mustRun, runTool } from "../helpers/tools.ts";
import { waitFor } from "../helpers/wait.ts";
import { parseStreamJob, validateStreamJob } from "../../runtime/spec/validate.ts";
import { pipeline } from "../../runtime/spec/schema/pipeline.ts";

const crdFiles = ["crds/streamjob.yaml", "crds/streamsavepoint.yaml"].map((f) => join(repoRoot, f));
const examples = join(repoRoot, "test/fixtures/streamjobs");
const squash = (s: string): string => s.replace(/\s+/g, " ");

/** A small valid job whose source declares 4 partitions, so parallelism above 4 is rejected. */
function smallJob(name: string): string {
  return stringify({
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name },
    spec: {
      parallelism: 1,
      kafka: { bootstrapServers: ["kafka:9092"] },
      pipeline: {
        sources: [{ id: "events", kafka: { topic: "events", partitions: 4 } }],
        steps: [{ id: "valid", input: "events", filter: { condition: "record.amount > 0.0" } }],
        sinks: [{ id: "out", input: "valid", kafka: { topic: "out" } }],
      },
    },
  });
}

describe("StreamJob and StreamSavepoint CRDs on the real apiserver", () => {
  const ns = uniqueName("crd");

  beforeAll(async () => {
    // Server-side apply: idempotent, shared with other tests, and free of the 256 KiB
    // last-applied annotation that client-side apply would add to a CRD this size.
    mustRun("kubectl", ["apply", "--server-side", "--force-conflicts", "--field-manager=runnel-crds", ...crdFiles.flatMap((f) => ["-f", f])]);
    // Poll the condition: `kubectl wait` right after the apply fails at once on a loaded machine,
    // while the new CRD has no status yet (".status.conditions accessor error: <nil>").
    for (const crd of ["streamjobs.runnel.dev", "streamsavepoints.runnel.dev"]) {
      await waitFor(
        `CRD ${crd} to be Established`,
        () => runTool("kubectl", ["get", "crd", crd, "-o", 'jsonpath={.status.conditions[?(@.type=="Established")].status}']).stdout === "True",
        { timeoutMs: 120_000 },
      );
    }
    mustRun("kubectl", ["create", "namespace", ns]);
  });
  afterAll(() => {
    // The CRDs stay installed: other tests may use them, and applying them again is idempotent.
    runTool("kubectl", ["delete", "namespace", ns, "--wait=false"]);
  });

  it.each(readdirSync(examples).filter((f) => f.endsWith(".yaml")))("accepts the example %s (server-side dry run)", (file) => {
    const out = mustRun("kubectl", ["apply", "--dry-run=server", "-n", ns, "-f", join(examples, file)]);
    expect(out).toMatch(/streamjob\.runnel\.dev\/\S+ created \(server dry run\)/);
  });

  it.each(readdirSync(join(examples, "valid")).filter((f) => f.endsWith(".yaml")))(
    "accepts the boundary manifest valid/%s, as runnel validate does",
    (file) => {
      const out = mustRun("kubectl", ["apply", "--dry-run=server", "-n", ns, "-f", join(examples, "valid", file)]);
      expect(out).toContain("created (server dry run)");
    },
  );

  describe("rejects each malformed manifest at the path runnel validate reports", () => {
    it.each(readInvalidCorpus().map((c) => [c.name, c] as const))("%s", (_name, c) => {
      const result = runTool("kubectl", ["apply", "--dry-run=server", "-n", ns, "-f", "-"], { input: c.text });
      expect(result.status, result.stdout).not.toBe(0);
      const said = result.stderr;
      expect(said.includes(`${c.apiserverPath}:`) || said.includes(`"${c.apiserverPath}"`), `apiserver said:\n${said}`).toBe(true);
      // A cross-field rule is the same rule on both sides: the apiserver gives the same message.
      const ours = validateStreamJob(c.manifest).find((e) => e.path === c.path && e.message.includes(c.message));
      if (ours?.rule) expect(said).toContain(ours.message);
    });
  });

  it("explains spec.pipeline with the schema's descriptions", () => {
    const out = squash(mustRun("kubectl", ["explain", "streamjob.spec.pipeline"]));
    expect(out).toContain(squash(pipeline.description ?? ""));
    for (const field of ["sources", "steps", "sinks"]) expect(out).toContain(field);
    const window = squash(mustRun("kubectl", ["explain", "streamjob.spec.pipeline.steps.window.type"]));
    expect(window).toContain("One of: tumbling, sliding, session, global.");
    const cel = squash(mustRun("kubectl", ["explain", "sj.spec.pipeline.steps.filter.condition"]));
    expect(cel).toContain("CEL expression returning bool; variables: record, key.");
  });

  it("scales spec.parallelism through the scale subresource, within the partition count", () => {
    mustRun("kubectl", ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", "-"], { input: smallJob("scaled") });
    mustRun("kubectl", ["scale", "-n", ns, "sj/scaled", "--replicas=3"]);
    expect(mustRun("kubectl", ["get", "-n", ns, "sj/scaled", "-o", "jsonpath={.spec.parallelism}"])).toBe("3");
    const tooMany = runTool("kubectl", ["scale", "-n", ns, "sj/scaled", "--replicas=8"]);
    expect(tooMany.status).not.toBe(0);
    expect(tooMany.stderr).toContain("parallelism must not exceed the partition count");
    expect(mustRun("kubectl", ["get", "-n", ns, "sj/scaled", "-o", "jsonpath={.spec.parallelism}"])).toBe("3");
  });

  it("shows phase, ready workers, lag and last savepoint as printer columns, and conditions work with kubectl wait", () => {
    mustRun("kubectl", ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", "-"], { input: smallJob("shown") });
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const status = {
      status: {
        observedGeneration: 1,
        phase: "Running",
        readyWorkers: "1/1",
        lag: 42,
        parallelism: 1,
        selector: "runnel.dev/job=shown",
        lastSavepoint: { location: "/savepoints/sp-1", timestamp: now, trigger: "manual" },
        conditions: [{ type: "Ready", status: "True", observedGeneration: 1, lastTransitionTime: now, reason: "WorkersReady", message: "1/1 workers ready" }],
      },
    };
    mustRun("kubectl", ["patch", "-n", ns, "sj/shown", "--subresource=status", "--type=merge", "-p", JSON.stringify(status)]);
    const table = mustRun("kubectl", ["get", "-n", ns, "sj", "shown"]);
    const [header, row] = table.trim().split("\n");
    expect(header?.split(/\s{2,}/)).toEqual(["NAME", "PHASE", "READY", "LAG", "LAST SAVEPOINT", "AGE"]);
    expect(row).toMatch(/^shown\s+Running\s+1\/1\s+42\s+\d+s\s+\d+s$/);
    const wide = mustRun("kubectl", ["get", "-n", ns, "sj", "shown", "-o", "wide"]);
    expect(wide).toContain("1/1 workers ready");
    mustRun("kubectl", ["wait", "-n", ns, "--for=condition=Ready", "sj/shown", "--timeout=60s"]);
    // The scale subresource reads the status side too.
    const scale = JSON.parse(mustRun("kubectl", ["get", "--raw", `/apis/runnel.dev/v1alpha1/namespaces/${ns}/streamjobs/shown/scale`])) as {
      status: { replicas: number; selector: string };
    };
    expect(scale.status).toEqual({ replicas: 1, selector: "runnel.dev/job=shown" });
    // The category lists the kind.
    expect(mustRun("kubectl", ["get", "runnel", "-n", ns, "-o", "name"])).toContain("streamjob.runnel.dev/shown");
  });

  it("keeps a StreamSavepoint's spec immutable (a transition rule only the apiserver can check)", () => {
    const sp = { apiVersion: "runnel.dev/v1alpha1", kind: "StreamSavepoint", metadata: { name: "sp-1" }, spec: { jobName: "shown" } };
    mustRun("kubectl", ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", "-"], { input: stringify(sp) });
    expect(mustRun("kubectl", ["get", "-n", ns, "streamsavepoint/sp-1", "-o", "jsonpath={.spec.type}/{.spec.format}"])).toBe("savepoint/canonical");
    const changed = runTool("kubectl", ["patch", "-n", ns, "streamsavepoint/sp-1", "--type=merge", "-p", JSON.stringify({ spec: { jobName: "other" } })]);
    expect(changed.status).not.toBe(0);
    expect(changed.stderr).toContain("spec is immutable");
  });

  it("applies schema defaults on the server like runnel validate does", () => {
    mustRun("kubectl", ["apply", "--server-side", "--field-manager=test", "-n", ns, "-f", join(examples, "risk.yaml")]);
    const stored = JSON.parse(mustRun("kubectl", ["get", "-n", ns, "sj/risk-control", "-o", "json"])) as { spec: Record<string, unknown> };
    const local = readFileSync(join(examples, "risk.yaml"), "utf8");
    expect(local).not.toContain("state:");
    expect(stored.spec.state).toBe("running");
    expect((stored.spec.checkpoint as Record<string, unknown>).timeout).toBe("1m");
    // Every default, at every depth, is the same on both sides.
    expect(parseStreamJob(parse(local)).value.spec).toEqual(stored.spec);
  });
});
