// `runnel operator` is loaded on demand (ADR 19): the other commands never load the operator or
// @kubernetes/client-node.
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { loadedModules } from "../../helpers/loaded-modules.ts";

const OPERATOR_DIR = pathToFileURL(resolve(import.meta.dirname, "../../../operator")).href + "/";

describe("runnel operator is loaded on demand", () => {
  const operatorModules = (urls: string[]) => urls.filter((u) => u.includes("@kubernetes/client-node") || u.startsWith(OPERATOR_DIR));

  it("runnel validate loads neither the operator nor client-node", () => {
    const { urls } = loadedModules(["validate", join(import.meta.dirname, "../../fixtures/streamjobs/analytics.yaml")]);
    expect(urls.some((u) => u.endsWith("/runtime/cli/validate.ts"))).toBe(true);
    expect(operatorModules(urls)).toEqual([]);
  });

  it("runnel operator loads them", () => {
    const { urls } = loadedModules(["operator", "--listen", "bad"]);
    expect(urls).toContain(`${OPERATOR_DIR}main.ts`);
    expect(urls.some((u) => u.includes("@kubernetes/client-node"))).toBe(true);
  });
});
