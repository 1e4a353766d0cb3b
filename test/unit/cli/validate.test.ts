// `runnel validate`: exit codes (0 valid, 1 invalid, 2 usage), the text and JSON reports, and
// multi-document files.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { main } from "../../../runtime/cli/main.ts";
import { captureOutput } from "../../helpers/capture.ts";
import { EXIT_CODES } from "../../../runtime/worker-contract.ts";

const fixtures = join(repoRoot, "test/fixtures/streamjobs");
const scratch = mkdtempSync(join(tmpdir(), "runnel-validate-"));

const capture = captureOutput;

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const savepoint = "apiVersion: runnel.dev/v1alpha1\nkind: StreamSavepoint\nmetadata: {name: before-upgrade}\nspec: {jobName: risk-control}\n";

describe("runnel validate", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ["analytics.yaml", "video-analytics"],
    ["recommendation.yaml", "recommendation"],
    ["risk.yaml", "risk-control"],
  ])("accepts %s (exit 0)", async (name, job) => {
    const io = capture();
    const path = join(fixtures, name);
    expect(await main(["validate", path])).toBe(0);
    expect(io.out()).toMatch(new RegExp(`^${path}: valid StreamJob ${job}`, "m"));
    expect(io.err()).toBe("");
  });

  it("prints warnings with their path, excerpt and hint, and still exits 0", async () => {
    const io = capture();
    expect(await main(["validate", join(fixtures, "valid/warning-derived-field-missing.yaml")])).toBe(0);
    expect(io.out()).toContain(
      ".spec.pipeline.sinks[0].kafka.key: warning: no field entity (column 8)\n    record.entity\n           ^^^^^^\n  hint: records here have the fields",
    );
    expect(io.out()).toMatch(/valid StreamJob edge-warning-derived-field-missing \(1 warning\)$/);
  });

  it("warns about a local source file that does not exist (relative to the manifest), and still exits 0", async () => {
    const manifest = (path: string) => `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: {name: local-files}
spec:
  pipeline:
    sources:
    - id: events
      kafka: {topic: events}
      local: {file: {path: ${path}}}
    sinks:
    - {id: out, input: events, stdout: {}}
`;
    const missing = file("missing-local.yaml", manifest("no-such-data.ndjson"));
    const io = capture();
    expect(await main(["validate", missing])).toBe(0);
    expect(io.out()).toContain(
      `.spec.pipeline.sources[0].local.file.path: warning: no-such-data.ndjson does not exist (looked for ${join(scratch, "no-such-data.ndjson")})`,
    );
    expect(io.out()).toContain("only `runnel run` reads it");
    expect(io.out()).toMatch(/valid StreamJob local-files \(1 warning\)$/m);
    // Present, relative to the manifest's folder (not the working directory): no warning.
    file("present.ndjson", "{}\n");
    const present = file("present-local.yaml", manifest("present.ndjson"));
    expect(await main(["validate", present])).toBe(0);
    expect(io.out()).toMatch(/present-local\.yaml: valid StreamJob local-files$/m);
    // `runnel run` needs the file: it refuses at the same path (a configuration error).
    expect(await main(["run", missing, "--no-progress"])).toBe(EXIT_CODES.configuration);
    expect(io.err()).toContain(".spec.pipeline.sources[0].local.file.path: no-such-data.ndjson does not exist");
  });

  describe("rejects every manifest of the graph and CEL corpus (exit 1)", () => {
    const dir = join(fixtures, "invalid-graph");
    it.each(readdirSync(dir).filter((f) => f.endsWith(".yaml")))("%s", async (name) => {
      const path = join(dir, name);
      const expected = /^# expect: (\S+) (.*)$/m.exec(readFileSync(path, "utf8"));
      const io = capture();
      expect(await main(["validate", path])).toBe(1);
      const line = io
        .out()
        .split("\n")
        .find((l) => l.startsWith(`${expected?.[1] ?? ""}: `) && l.includes(expected?.[2] ?? ""));
      expect(line, io.out()).toBeDefined();
      expect(io.out()).toMatch(new RegExp(`^${path}: \\d+ errors?, \\d+ warnings?$`, "m"));
    });
  });

  it("prints a CEL error with its column and a caret under the expression", async () => {
    const io = capture();
    expect(await main(["validate", join(fixtures, "invalid-graph/cel-declared-field-typo.yaml")])).toBe(1);
    expect(io.out()).toContain(
      ".spec.pipeline.steps[0].filter.condition: no field amont (column 8)\n    record.amont > 0.0\n           ^^^^^\n  hint: did you mean amount?",
    );
  });

  it("reports schema errors first and says the later checks wait for them", async () => {
    const io = capture();
    expect(await main(["validate", join(fixtures, "invalid/slide-exceeds-size.yaml")])).toBe(1);
    expect(io.out()).toContain(".spec.pipeline.steps[1].window.slide: slide must not exceed size");
    expect(io.out()).toContain("graph and expression checks run once the schema errors are fixed");
  });

  it("skips documents that are not Runnel resources and validates StreamSavepoints", async () => {
    const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\n${readFileSync(join(fixtures, "analytics.yaml"), "utf8")}---\n${savepoint}`;
    const path = file("multi.yaml", text);
    const io = capture();
    expect(await main(["validate", path])).toBe(0);
    expect(io.out()).toContain(`${path}: document 1: v1 ConfigMap is not a Runnel resource; skipped`);
    expect(io.out()).toContain(`${path}: valid StreamJob video-analytics, StreamSavepoint before-upgrade`);
  });

  it("rejects an invalid StreamSavepoint", async () => {
    const path = file("savepoint.yaml", savepoint.replace("jobName: risk-control", "jobName: Risk_Control"));
    const io = capture();
    expect(await main(["validate", path])).toBe(1);
    expect(io.out()).toContain(".spec.jobName: must be lowercase letters");
  });

  it("rejects a file without a StreamJob, and invalid YAML, with exit 1", async () => {
    const io = capture();
    expect(await main(["validate", file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")])).toBe(1);
    expect(io.out()).toContain("no StreamJob or StreamSavepoint document found");
    expect(await main(["validate", file("broken.yaml", "spec: [\n")])).toBe(1);
    expect(io.out()).toMatch(/broken\.yaml: invalid YAML: .* at line 2, column 1/);
  });

  it("writes a JSON report with --output json", async () => {
    const io = capture();
    expect(await main(["validate", "--output", "json", join(fixtures, "invalid-graph/unknown-input-typo.yaml")])).toBe(1);
    const report = JSON.parse(io.out()) as { valid: boolean; errors: number; documents: { kind: string; findings: unknown[] }[] };
    expect(report).toMatchObject({ valid: false, errors: 1, warnings: 0 });
    expect(report.documents[0]?.findings).toEqual([
      { path: ".spec.pipeline.steps[0].input", message: 'unknown stream "evnets"', hint: "did you mean events?", severity: "error" },
    ]);
  });

  describe("usage errors (exit 2, a sentence, no stack trace)", () => {
    it.each([
      [["validate", join(scratch, "missing.yaml")], "missing.yaml: no such file"],
      [["validate", "--strict", join(fixtures, "risk.yaml")], "unknown option --strict; the options are --output text|json and --help"],
      [["validate", "-o", "yaml", join(fixtures, "risk.yaml")], '--output must be text or json, not "yaml"'],
      [["validate", join(fixtures, "risk.yaml"), "--output"], "--output needs a value"],
      [["validate"], "which manifest?"],
      [["validate", fixtures], "is a directory"],
    ])("%j", async (args, message) => {
      const io = capture();
      expect(await main(args)).toBe(2);
      expect(io.err()).toMatch(/^runnel validate: /);
      expect(io.err()).toContain(message);
      expect(io.err()).toContain("see `runnel validate --help`");
      expect(io.err().trim().split("\n")).toHaveLength(1);
      expect(io.err()).not.toMatch(/at .*\.ts:\d+/);
      expect(io.out()).toBe("");
    });
  });
});
