// The example manifests validate, and each malformed manifest of the corpus fails with the expected
// path and message (the `# expect: <path> <message fragment>` line at its top).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { formatErrors, parseStreamJob, validateStreamJob } from "../../../runtime/spec/validate.ts";
import { checkDocument } from "../../../runtime/spec/check.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";
import { readInvalidCorpus } from "../../helpers/streamjob-corpus.ts";

const examples = join(repoRoot, "test/fixtures/streamjobs");
const exampleFiles = readdirSync(examples).filter((f) => f.endsWith(".yaml"));

describe("example StreamJob manifests", () => {
  it("has one per case system", () => {
    expect(exampleFiles.sort()).toEqual(["analytics.yaml", "recommendation.yaml", "risk.yaml"]);
  });

  it.each(exampleFiles)("%s is valid", (file) => {
    const errors = validateStreamJob(parseManifests(readFileSync(join(examples, file), "utf8"))[0]);
    expect(formatErrors(errors)).toBe("");
  });

  it("applies defaults like the apiserver, without touching the input", () => {
    const input = parseManifests(readFileSync(join(examples, "analytics.yaml"), "utf8"))[0] as { spec: Record<string, unknown> };
    const { value, errors } = parseStreamJob(input);
    expect(errors).toEqual([]);
    expect(value.spec.state).toBe("running");
    expect(value.spec.checkpoint?.mode).toBe("exactly-once");
    expect(value.spec.pipeline?.sources[0]?.kafka?.format).toBe("json");
    expect(input.spec.state).toBeUndefined();
  });
});

describe("boundary manifests (valid at the edge of a rule)", () => {
  const dir = join(examples, "valid");
  it.each(readdirSync(dir).filter((f) => f.endsWith(".yaml")))("%s is valid", (file) => {
    const errors = validateStreamJob(parseManifests(readFileSync(join(dir, file), "utf8"))[0]);
    expect(formatErrors(errors)).toBe("");
  });
});

describe("manifest YAML", () => {
  it("is read as kubectl reads it: YAML 1.1, where an unquoted n is false", () => {
    const text = readFileSync(join(examples, "analytics.yaml"), "utf8").replace("{ name: events, fn: count }", "{ name: n, fn: count }");
    const errors = validateStreamJob(parseManifests(text)[0]);
    expect(errors).toContainEqual({ path: ".spec.pipeline.steps[2].window.aggregations[0].name", message: "must be string", hint: "got boolean false" });
  });

  it("skips empty documents of a multi-document file", () => {
    expect(parseManifests("---\na: 1\n---\n---\nb: 2\n")).toEqual([{ a: 1 }, { b: 2 }]);
  });
});

describe("malformed StreamJob manifests", () => {
  const corpus = readInvalidCorpus();

  it("is a corpus of at least 30 cases", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
  });

  it.each(corpus.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const errors = validateStreamJob(c.manifest);
    const hit = errors.find((e) => e.path === c.path && e.message.includes(c.message));
    expect(hit, `expected ${c.path}: …${c.message}… among:\n${formatErrors(errors)}`).toBeDefined();
    if (c.hint) expect(hit?.hint ?? "").toContain(c.hint);
  });
});

describe("the manifests under examples/", () => {
  const dir = join(repoRoot, "examples");
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(join(dir, d.name))
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => `${d.name}/${f}`),
    );

  it("include the three case systems and the lifetime-value query", () => {
    expect(files).toEqual(expect.arrayContaining(["analytics/job.yaml", "analytics/ltv.yaml", "recommendation/job.yaml", "risk-control/job.yaml"]));
  });

  // Everything `runnel validate` checks but the local input files (the generators write them).
  it.each(files)("%s passes runnel validate's checks", async (file) => {
    const docs = parseManifests(readFileSync(join(dir, file), "utf8"));
    const errors = (await Promise.all(docs.map((doc) => checkDocument(doc)))).flatMap((r) => r.findings.filter((f) => f.severity === "error"));
    expect(errors.map((f) => `${f.path}: ${f.message}`)).toEqual([]);
  });
});
