// The case systems' benchmark owns one section of docs/benchmarks.md: writing it replaces only
// that section, and the main benchmark's rewrite of the page can carry it over unchanged.
import { describe, expect, it } from "vitest";
import { CASES_HEADING, casesSection, withCasesSection } from "../../../bench/cases.ts";

const page = (cases: string): string => `# Benchmarks\n\nintro\n\n## Nexmark\n\nrows\n${cases}\n## Kafka\n\nkafka rows\n`;

describe("the case systems' section of docs/benchmarks.md", () => {
  it("is found between its heading and the next section", () => {
    expect(casesSection(page(`\n${CASES_HEADING}\n\nold figures\n`))).toBe(`${CASES_HEADING}\n\nold figures\n`);
    expect(casesSection(`# Benchmarks\n\n${CASES_HEADING}\n\nlast section\n`)).toBe(`${CASES_HEADING}\n\nlast section\n`);
    expect(casesSection(page(""))).toBe("");
  });

  it("is replaced in place, the other sections kept as they are", () => {
    const doc = withCasesSection(page(`\n${CASES_HEADING}\n\nold figures\n`), `${CASES_HEADING}\n\nnew figures\n`);
    expect(doc).toBe(page(`\n${CASES_HEADING}\n\nnew figures\n`));
    expect(doc).not.toContain("old figures");
  });

  it("is appended to a page without one", () => {
    const doc = withCasesSection(page(""), `${CASES_HEADING}\n\nfigures\n`);
    expect(doc.startsWith(page("").trimEnd())).toBe(true);
    expect(casesSection(doc)).toBe(`${CASES_HEADING}\n\nfigures\n`);
  });
});
