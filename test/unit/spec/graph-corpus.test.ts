// The graph and CEL corpus (test/fixtures/streamjobs/invalid-graph): schema-valid manifests that
// `runnel validate` must reject at the `# expect: <path> <message fragment>` of their first line.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { checkDocument } from "../../../runtime/spec/check.ts";
import { formatFindings } from "../../../runtime/spec/findings.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";
import { validateStreamJob } from "../../../runtime/spec/validate.ts";
import { readInvalidCorpus } from "../../helpers/streamjob-corpus.ts";

const dir = join(repoRoot, "test/fixtures/streamjobs/invalid-graph");

const corpus = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(join(dir, file), "utf8");
    const expectLine = /^# expect: (\S+) (.*)$/m.exec(text);
    if (!expectLine) throw new Error(`${file} has no "# expect: <path> <message>" line`);
    return {
      name: file.replace(/\.yaml$/, ""),
      manifest: parseManifests(text)[0],
      path: expectLine[1] ?? "",
      message: expectLine[2] ?? "",
      hint: /^# hint: (.*)$/m.exec(text)?.[1],
    };
  });

describe("malformed pipelines (graph and CEL)", () => {
  it("has at least 20 cases, and over 70 together with the schema corpus", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(20);
    expect(corpus.length + readInvalidCorpus().length).toBeGreaterThan(70);
  });

  it.each(corpus.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    // Each case passes the schema: it is the graph or CEL stage that must catch it.
    expect(validateStreamJob(c.manifest)).toEqual([]);
    const report = await checkDocument(c.manifest);
    const hit = report.findings.find((f) => f.severity === "error" && f.path === c.path && f.message.includes(c.message));
    expect(hit, `expected ${c.path}: …${c.message}… among:\n${formatFindings(report.findings)}`).toBeDefined();
    if (c.hint) expect(hit?.hint ?? "").toContain(c.hint);
  });
});
