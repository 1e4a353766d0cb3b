// The Argo CD delivery: the health scripts in a real Lua 5.1 interpreter (Argo CD uses gopher-lua,
// Lua 5.1 semantics) against StreamJobs and StreamSavepoints captured from the operator's real
// status (test/fixtures/argocd/, written by test/e2e/helm-operator.test.ts) and synthetic edge
// cases; argocd-cm.yaml carrying the scripts verbatim; the Applications' sync waves.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { evaluateHealth, HEALTH_SCRIPTS, toLua } from "../../helpers/argocd-health.ts";

const FIXTURES = join(repoRoot, "test/fixtures/argocd");
const ARGOCD = join(repoRoot, "examples/argocd");

interface Fixture {
  expected: { status: string; message?: string };
  object: { kind: "StreamJob" | "StreamSavepoint" };
}

const ready = (generation = 1, message = "all workers ready") => ({
  type: "Ready",
  status: "True",
  reason: "Running",
  message,
  observedGeneration: generation,
});
const job = (status: Record<string, unknown> | undefined, generation = 1, spec: Record<string, unknown> = {}) => ({
  apiVersion: "runnel.dev/v1alpha1",
  kind: "StreamJob",
  metadata: { name: "clicks", namespace: "team-a", generation },
  spec: { parallelism: 2, ...spec },
  ...(status ? { status } : {}),
});

describe("StreamJob health (lua5.1)", () => {
  const cases: [string, ReturnType<typeof job>, string, RegExp?][] = [
    ["no status yet", job(undefined), "Progressing", /observe generation 1/],
    ["a status for an older generation", job({ observedGeneration: 1, phase: "Running", conditions: [ready(1)] }, 2), "Progressing", /generation 2/],
    [
      "ready for the current generation",
      job({ observedGeneration: 3, phase: "Running", readyWorkers: "2/2", conditions: [ready(3)] }, 3),
      "Healthy",
      /workers 2\/2/,
    ],
    ["ready, but the condition is from an older generation", job({ observedGeneration: 3, phase: "Running", conditions: [ready(2)] }, 3), "Progressing"],
    [
      "an upgrade in progress",
      job({ observedGeneration: 2, phase: "Upgrading", pendingAction: { type: "upgrade", step: "savepointing" }, conditions: [ready(2)] }, 2),
      "Progressing",
      /upgrade, step savepointing/,
    ],
    ["a rescale in progress, phase only", job({ observedGeneration: 2, phase: "Rescaling", conditions: [] }, 2), "Progressing", /Rescaling/],
    ["deploying", job({ observedGeneration: 1, phase: "Deploying" }), "Progressing"],
    [
      "a periodic savepoint while running",
      job({ observedGeneration: 1, phase: "Savepointing", pendingAction: { type: "savepoint", step: "requested" }, conditions: [ready(1)] }),
      "Healthy",
    ],
    [
      "Degraded condition",
      job({
        observedGeneration: 1,
        phase: "Running",
        conditions: [ready(1), { type: "Degraded", status: "True", message: "worker 1 restarted 3 times", observedGeneration: 1 }],
      }),
      "Degraded",
      /restarted 3 times/,
    ],
    [
      "Failed phase with the last error",
      job({ observedGeneration: 1, phase: "Failed", lastError: { reason: "CrashLoop", message: "exit 78 (configuration)" } }),
      "Degraded",
      /exit 78/,
    ],
    [
      "kstatus Stalled",
      job({ observedGeneration: 1, phase: "Running", conditions: [{ type: "Stalled", status: "True", message: "spec invalid: spec.parallelism" }] }),
      "Degraded",
      /spec invalid/,
    ],
    [
      "Degraded False does not degrade",
      job({ observedGeneration: 1, phase: "Running", conditions: [ready(1), { type: "Degraded", status: "False", message: "" }] }),
      "Healthy",
    ],
    [
      "suspended",
      job({ observedGeneration: 2, phase: "Suspended", conditions: [{ type: "Ready", status: "False", message: "suspended at savepoint sp-1" }] }, 2, {
        state: "suspended",
      }),
      "Suspended",
      /sp-1/,
    ],
    [
      "suspending",
      job({ observedGeneration: 2, phase: "Suspending", pendingAction: { type: "suspend", step: "savepointing" } }, 2, { state: "suspended" }),
      "Progressing",
      /suspend/,
    ],
    ["a bounded job that completed", job({ observedGeneration: 1, phase: "Completed" }), "Healthy", /Completed/],
    [
      "running but not ready",
      job({ observedGeneration: 1, phase: "Running", conditions: [{ type: "Ready", status: "False", message: "1/2 workers ready" }] }),
      "Progressing",
      /1\/2 workers ready/,
    ],
  ];
  it.each(cases)("%s", (_name, obj, status, message) => {
    const health = evaluateHealth("StreamJob", obj);
    expect(health.status).toBe(status);
    if (message) expect(health.message).toMatch(message);
  });

  it("survives quotes, newlines and non-ASCII in messages", () => {
    const msg = 'bad "field"\nline two — ü';
    const health = evaluateHealth("StreamJob", job({ observedGeneration: 1, phase: "Failed", lastError: { message: msg } }));
    expect(health).toEqual({ status: "Degraded", message: msg });
  });
});

describe("StreamSavepoint health (lua5.1)", () => {
  const sp = (status?: Record<string, unknown>, generation = 1) => ({
    kind: "StreamSavepoint",
    metadata: { name: "sp", generation },
    spec: { jobName: "clicks" },
    ...(status ? { status } : {}),
  });
  it.each([
    ["no status", sp(), "Progressing"],
    ["pending", sp({ observedGeneration: 1, state: "Pending" }), "Progressing"],
    ["in progress", sp({ observedGeneration: 1, state: "InProgress" }), "Progressing"],
    ["completed", sp({ observedGeneration: 1, state: "Completed", location: "/savepoints/clicks/sp-1" }), "Healthy"],
    ["disposed", sp({ observedGeneration: 1, state: "Disposed" }), "Healthy"],
    ["failed", sp({ observedGeneration: 1, state: "Failed", error: "job clicks is not running" }), "Degraded"],
  ] as const)("%s", (_name, obj, status) => {
    expect(evaluateHealth("StreamSavepoint", obj).status).toBe(status);
  });
});

describe("health of objects captured from the operator's real status", () => {
  const files = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith(".json")) : [];

  it("has captured StreamJobs in every state a job shows Argo CD, and StreamSavepoints", () => {
    const seen = new Set(files.map((f) => JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as Fixture).map((f) => `${f.object.kind}:${f.expected.status}`));
    for (const want of ["StreamJob:Progressing", "StreamJob:Healthy", "StreamJob:Degraded", "StreamJob:Suspended", "StreamSavepoint:Healthy"])
      expect(seen).toContain(want);
    // A job the operator stopped for crash-looping (phase Failed) is among the Degraded ones.
    const failed = files
      .map((f) => JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as Fixture)
      .filter((f) => (f.object as { status?: { phase?: string } }).status?.phase === "Failed");
    expect(failed.map((f) => f.expected.status)).toEqual(["Degraded"]);
  });

  it.each(files)("%s", (file) => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as Fixture;
    const health = evaluateHealth(fixture.object.kind, fixture.object);
    expect(health.status).toBe(fixture.expected.status);
    if (fixture.expected.message !== undefined) expect(health.message).toBe(fixture.expected.message);
  });
});

describe("Argo CD manifests", () => {
  it("argocd-cm.yaml carries each health script verbatim", () => {
    const cm = parse(readFileSync(join(ARGOCD, "argocd-cm.yaml"), "utf8")) as { data: Record<string, string> };
    expect(cm.data["resource.customizations.health.runnel.dev_StreamJob"]).toBe(readFileSync(HEALTH_SCRIPTS.StreamJob, "utf8"));
    expect(cm.data["resource.customizations.health.runnel.dev_StreamSavepoint"]).toBe(readFileSync(HEALTH_SCRIPTS.StreamSavepoint, "utf8"));
    expect(cm.data["resource.customizations.health.argoproj.io_Application"]).toBe(readFileSync(HEALTH_SCRIPTS.Application, "utf8"));
  });

  it("judges an Application by its own health, so waves wait for it", () => {
    expect(evaluateHealth("Application", { status: { health: { status: "Degraded", message: "x" } } })).toEqual({ status: "Degraded", message: "x" });
    expect(evaluateHealth("Application", { status: {} }).status).toBe("Progressing");
  });

  it("syncs the operator (and its CRDs) in a wave before every case system", () => {
    const apps = readdirSync(join(ARGOCD, "apps")).map(
      (f) =>
        parse(readFileSync(join(ARGOCD, "apps", f), "utf8")) as {
          kind: string;
          metadata: { name: string; annotations: Record<string, string> };
          spec: { source: { path: string } };
        },
    );
    const wave = (a: (typeof apps)[number]) => Number(a.metadata.annotations["argocd.argoproj.io/sync-wave"]);
    const operator = apps.find((a) => a.spec.source.path === "charts/runnel-operator");
    expect(operator).toBeDefined();
    const cases = apps.filter((a) => a !== operator);
    expect(cases.map((a) => a.spec.source.path).sort()).toEqual(["charts/analytics", "charts/recommendation", "charts/risk-control"]);
    for (const a of apps) expect(a.kind).toBe("Application");
    for (const a of cases) expect(wave(a)).toBeGreaterThan(wave(operator as (typeof apps)[number]));
    // Inside the operator's app the CRDs come first as well.
    for (const file of ["streamjob.yaml", "streamsavepoint.yaml"]) {
      const text = readFileSync(join(repoRoot, "charts/runnel-operator/templates/crds", file), "utf8");
      const crd = parseAllDocuments(text.replace(/^\{\{.*\}\}$/gm, ""))[0]?.toJS() as { metadata: { annotations: Record<string, string> } };
      expect(Number(crd.metadata.annotations["argocd.argoproj.io/sync-wave"])).toBeLessThan(0);
    }
  });

  it("writes Lua literals Argo CD would build from the object", () => {
    expect(toLua({ a: [1, "x"], b: null, c: { d: true } })).toBe('{["a"] = {1, "x"}, ["c"] = {["d"] = true}}');
  });
});
