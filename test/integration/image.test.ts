// The image, built for real: scripts/build-image runs buildah on the Dockerfile (no daemon, no base
// image pulled), writes an OCI layout, and umoci unpacks it. The test reads the image config (a
// numeric non-root user, the runnel entrypoint), bounds its size, checks that no devDependency and
// no shell is in it, and runs the CLI from the unpacked root filesystem as the image's user in a
// chroot with only the image's environment.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../env/lib/layout.ts";

const MAX_ROOTFS_MIB = 300;

interface ImageConfig {
  process: { user: { uid: number; gid: number }; args: string[]; env: string[]; cwd: string };
}

function run(
  command: string,
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: options.timeoutMs ?? 60_000, env: options.env ?? process.env, maxBuffer: 64 << 20 });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function mustRun(command: string, args: string[], timeoutMs?: number): string {
  const result = run(command, args, timeoutMs === undefined ? {} : { timeoutMs });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-4000)}`);
  return result.stdout;
}

function duMiB(dir: string): number {
  return Number(mustRun("du", ["-sm", dir]).split("\t")[0]);
}

describe("the runnel image (buildah, from scratch around the node package's binary)", () => {
  const work = mkdtempSync(join(tmpdir(), "runnel-image-"));
  const layout = join(work, "oci");
  const bundle = join(work, "bundle");
  const rootfs = join(bundle, "rootfs");
  let config: ImageConfig;
  const chroot = mustRun("sh", ["-c", "command -v chroot || echo /usr/sbin/chroot"]).trim();

  /** Runs a command in the image's root filesystem as its user, with only its environment. */
  function inImage(args: string[]): { status: number; stdout: string; stderr: string } {
    const { uid, gid } = config.process.user;
    // chroot by its host path: the image's PATH (given to unshare) has no sbin.
    return run("unshare", ["--mount", "--pid", "--fork", "--kill-child", chroot, `--userspec=${uid}:${gid}`, rootfs, ...args], {
      env: Object.fromEntries(config.process.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])),
    });
  }

  beforeAll(() => {
    mustRun(join(repoRoot, "scripts/build-image"), ["--tag", "runnel/runnel:test-build", "--oci-dir", layout], 900_000);
    mustRun("umoci", ["unpack", "--image", `${layout}:test-build`, bundle], 300_000);
    config = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as ImageConfig;
  }, 1_200_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("runs as the numeric non-root user the worker pods use, with the runnel entrypoint", () => {
    expect(config.process.user).toMatchObject({ uid: 10001, gid: 10001 });
    expect(config.process.args).toEqual(["/usr/local/bin/node", "/app/runtime/cli/main.ts", "--help"]);
    expect(config.process.cwd).toBe("/app");
    expect(config.process.env).toContain("NODE_ENV=production");
  });

  it(`stays under ${MAX_ROOTFS_MIB} MiB with Node 24, production dependencies and no shell`, () => {
    expect(duMiB(rootfs)).toBeLessThan(MAX_ROOTFS_MIB);
    expect(existsSync(join(rootfs, "bin/sh"))).toBe(false);
    expect(existsSync(join(rootfs, "usr/local/lib/node_modules/npm"))).toBe(false);
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const modules = join(rootfs, "app/node_modules");
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(modules, dep)), dep).toBe(true);
    // Packages only development needs; a devDependency that a dependency also needs (@types/node of
    // @kubernetes/client-node) is production's.
    const production = new Set(
      mustRun("npm", ["ls", "--omit=dev", "--all", "--parseable", "--prefix", repoRoot])
        .split("\n")
        .map((p) => relative(join(repoRoot, "node_modules"), p)),
    );
    const dev = Object.keys(pkg.devDependencies).filter((d) => existsSync(join(modules, d)) && !production.has(d));
    expect(dev).toEqual([]);
    // Nor does a test, benchmark or doc folder travel along.
    expect(readdirSync(join(rootfs, "app")).sort()).toEqual(["examples", "node_modules", "operator", "package.json", "runtime"]);
  });

  it("runs `runnel --help` from its root filesystem on Node 24", () => {
    const help = inImage(config.process.args);
    expect(help.stderr).toBe("");
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: runnel <command> [options]");
    const version = inImage(["/usr/local/bin/node", "--version"]);
    expect(version.stdout.trim()).toMatch(/^v24\./);
  });

  it("loads the runtime's and the operator's dependencies (validate, operator --help)", () => {
    const validate = inImage(["/usr/local/bin/node", "/app/runtime/cli/main.ts", "validate", "/app/examples/quickstart/orders.yaml"]);
    expect(validate.status, validate.stderr).toBe(0);
    const operator = inImage(["/usr/local/bin/node", "/app/runtime/cli/main.ts", "operator", "--help"]);
    expect(operator.status, operator.stderr).toBe(0);
    expect(operator.stdout).toContain("runnel operator");
  });

  it("holds the case systems' tools the charts run (topic creation, generators)", () => {
    for (const script of ["common/topics.ts", "analytics/generator.ts", "recommendation/generator.ts", "risk-control/generator.ts"]) {
      const r = inImage(["/usr/local/bin/node", `/app/examples/${script}`, "--help"]);
      expect(r.status, `${script}: ${r.stderr}`).toBe(0);
      expect(r.stdout + r.stderr, script).toMatch(/node examples\//);
    }
  });
});
