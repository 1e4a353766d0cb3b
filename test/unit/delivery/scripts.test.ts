// The delivery scripts pass shellcheck and refuse bad arguments with a message; the Dockerfile has
// the shape the image promises (two stages on Node 24, production dependencies only, a numeric
// non-root user, the runnel entrypoint). test/integration/image.test.ts builds it for real.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";

const SCRIPTS = ["scripts/kind-up", "scripts/build-image", ".ci/run"];

describe("delivery scripts", () => {
  it.each(SCRIPTS)("%s passes shellcheck", (script) => {
    const result = spawnSync("shellcheck", ["--severity=style", "--shell=bash", join(repoRoot, script)], { encoding: "utf8" });
    if (result.error) throw new Error(`shellcheck is needed (apt-get install shellcheck): ${result.error.message}`);
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });

  it.each([
    ["scripts/kind-up", ["--bogus"], /unknown option '--bogus'; see scripts\/kind-up --help/],
    ["scripts/kind-up", ["--tag", "runnel/runnel"], /--tag needs repository:tag/],
    ["scripts/kind-up", ["--tag", "runnel/runnel:latest"], /other than latest/],
    ["scripts/build-image", ["--bogus"], /unknown option '--bogus'; see scripts\/build-image --help/],
  ])("%s %j is refused with a message", (script, args, message) => {
    const result = spawnSync(join(repoRoot, script), args, { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it.each(["scripts/kind-up", "scripts/build-image"])("%s --help prints its usage", (script) => {
    const result = spawnSync(join(repoRoot, script), ["--help"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Usage: ${script}`);
  });
});

describe("Dockerfile", () => {
  const text = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
  const instructions = text
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .filter((l) => l.trim() && !l.trimStart().startsWith("#"));
  const stages = instructions.filter((l) => l.startsWith("FROM "));

  it("has a dependency stage on Node 24 and a final stage from a runtime base", () => {
    expect(text).toMatch(/^ARG BUILD_IMAGE=node:24[-.\w]*$/m);
    expect(stages).toEqual(["FROM ${BUILD_IMAGE} AS deps", "FROM ${RUNTIME_IMAGE}"]);
  });

  it("installs production dependencies only, from the lock file", () => {
    const npm = instructions.find((l) => l.startsWith("RUN ") && l.includes("npm-cli.js"));
    expect(npm).toMatch(/"ci", "--omit=dev"/);
    expect(instructions).toContain("COPY package.json package-lock.json ./");
  });

  it("runs as a numeric non-root user with the runnel entrypoint", () => {
    const final = instructions.slice(instructions.indexOf("FROM ${RUNTIME_IMAGE}"));
    const user = final.filter((l) => l.startsWith("USER "));
    expect(user).toEqual(["USER 10001:10001"]);
    expect(final).toContain('ENTRYPOINT ["/usr/local/bin/node", "/app/runtime/cli/main.ts"]');
  });

  it("keeps tests, docs and dev tooling out of the build context", () => {
    const ignore = readFileSync(join(repoRoot, ".dockerignore"), "utf8").split("\n");
    expect(ignore).toContain("*");
    expect(ignore.filter((l) => l.startsWith("!")).sort()).toEqual(["!examples/", "!operator/", "!package-lock.json", "!package.json", "!runtime/"]);
  });
});
