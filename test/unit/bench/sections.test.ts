// docs/benchmarks.md is written by several benchmarks: each replaces only its own section, and
// `npm run bench` carries the others over unchanged (bench/sections.ts).
import { describe, expect, it } from "vitest";
import { CASES_HEADING } from "../../../bench/cases.ts";
import { replaceSection, section } from "../../../bench/sections.ts";

const page = (cases: string): string => `# Benchmarks\n\nintro\n\n## Nexmark\n\nrows\n${cases}\n## Kafka\n\nkafka rows\n`;
const H = `## ${CASES_HEADING}`;

describe("a section of docs/benchmarks.md", () => {
  it("is found between its heading and the next section, or at the end", () => {
    expect(section(page(`\n${H}\n\nold figures\n`), CASES_HEADING)).toBe(`${H}\n\nold figures\n\n`);
    expect(section(`# Benchmarks\n\n${H}\n\nlast section\n`, CASES_HEADING)).toBe(`${H}\n\nlast section\n`);
    expect(section(page(""), CASES_HEADING)).toBeUndefined();
  });

  it("is replaced in place, the other sections kept as they are", () => {
    const doc = replaceSection(page(`\n${H}\n\nold figures\n`), CASES_HEADING, "new figures");
    expect(doc).toBe(page(`\n${H}\n\nnew figures\n`));
  });

  it("is appended to a page without one", () => {
    const doc = replaceSection(page(""), CASES_HEADING, "figures");
    expect(doc.startsWith(page("").trimEnd())).toBe(true);
    expect(section(doc, CASES_HEADING)).toBe(`${H}\n\nfigures\n`);
  });
});
