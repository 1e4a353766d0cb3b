// The SQL compiler (and its parser, dt-sql-parser: ~35 MiB and ~150 ms in every process that loads
// it) is loaded only for a job with `spec.sql` (ADR 38): checking or running a pipeline job never
// loads it; checking a SQL job does.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadedModules } from "../../helpers/loaded-modules.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const SQL_DIR = pathToFileURL(join(ROOT, "runtime/sql")).href + "/";
const sqlModules = (urls: string[]): string[] => urls.filter((u) => u.startsWith(SQL_DIR) || u.includes("/dt-sql-parser/"));

describe("the SQL compiler is loaded on demand", () => {
  const OUT = mkdtempSync(join(tmpdir(), "runnel-lazy-sql-"));
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));

  it("runnel validate of a pipeline job loads none of it", () => {
    const { urls, status } = loadedModules(["validate", join(ROOT, "test/fixtures/streamjobs/risk.yaml")]);
    expect(status).toBe(0);
    expect(urls.some((u) => u.endsWith("/runtime/spec/check.ts"))).toBe(true);
    expect(sqlModules(urls)).toEqual([]);
  });

  it("runnel run of a pipeline job loads none of it", () => {
    const { urls, status } = loadedModules([
      "run",
      join(ROOT, "test/fixtures/streamjobs/analytics.yaml"),
      "--no-progress",
      "--max-records",
      "50",
      "--no-throttle",
      "--out",
      OUT,
    ]);
    expect(status).toBe(0);
    expect(urls.some((u) => u.endsWith("/runtime/pipeline/load.ts"))).toBe(true);
    expect(sqlModules(urls)).toEqual([]);
  });

  it("runnel validate of a SQL job loads it", () => {
    const { urls, status } = loadedModules(["validate", join(ROOT, "examples/sql/clicks.yaml")]);
    expect(status).toBe(0);
    expect(urls).toContain(`${SQL_DIR}check.ts`);
    expect(urls.some((u) => u.includes("/dt-sql-parser/"))).toBe(true);
  });
});
