// Paths in errors are kubectl's, and every CEL expression of a manifest can be found from the schema.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../../env/lib/layout.ts";
import { closest, formatPath, pointerSegments } from "../../../runtime/spec/paths.ts";
import { celSites } from "../../../runtime/spec/cel-sites.ts";
import { validateStreamJob } from "../../../runtime/spec/validate.ts";

describe("paths", () => {
  it("turns JSON pointers into kubectl-style paths, numbering only array indexes", () => {
    const data = { spec: { steps: [{ window: {} }, {}, { window: { size: 1 } }], labels: { "0": "x", "a/b": "y" } } };
    expect(formatPath(pointerSegments("/spec/steps/2/window/size", data))).toBe(".spec.steps[2].window.size");
    expect(formatPath(pointerSegments("/spec/labels/0", data))).toBe('.spec.labels["0"]');
    expect(formatPath(pointerSegments("/spec/labels/a~1b", data))).toBe('.spec.labels["a/b"]');
    expect(formatPath([])).toBe("");
  });

  it("suggests close names only", () => {
    expect(closest("parallelizm", ["parallelism", "state"])).toBe("parallelism");
    expect(closest("windw", ["window", "filter"])).toBe("window");
    expect(closest("zzzzzz", ["window", "filter"])).toBeUndefined();
  });

  it("reports a misspelt operator as an unknown field with a suggestion", () => {
    const job = parse(readFileSync(join(repoRoot, "test/fixtures/streamjobs/analytics.yaml"), "utf8")) as {
      spec: { pipeline: { steps: Record<string, unknown>[] } };
    };
    const step = job.spec.pipeline.steps[2] ?? {};
    step.windw = step.window;
    delete step.window;
    const errors = validateStreamJob(job);
    expect(errors).toContainEqual({ path: ".spec.pipeline.steps[2].windw", message: "unknown field", hint: "did you mean window?" });
  });
});

describe("celSites", () => {
  it("finds every CEL expression of a manifest with its type and variables", () => {
    const job = parse(readFileSync(join(repoRoot, "test/fixtures/streamjobs/risk.yaml"), "utf8")) as unknown;
    const sites = celSites(job);
    expect(sites).toContainEqual({
      path: ".spec.pipeline.steps[9].cep.stages[0].where",
      expression: "record.type == 'login_fail'",
      returns: "bool",
      vars: ["record", "key", "match"],
    });
    expect(sites).toContainEqual(expect.objectContaining({ path: ".spec.pipeline.steps[10].score.features[1].expression", returns: "double" }));
    expect(sites.every((s) => s.expression.length > 0)).toBe(true);
    expect(sites.length).toBeGreaterThan(25);
  });
});
