// Savepoint targets stay under the job's savepoint root: a relative name resolves inside it;
// absolute paths, '..', odd segments and symlinks leading out of the root are refused with 400,
// so a leaked admin token cannot make a worker write over files elsewhere.
import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { savepointTarget } from "../../../runtime/distributed/savepoint-target.ts";
import { SavepointRequestError } from "../../../runtime/observe/savepoint-control.ts";

function scratch(): { root: string; outside: string } {
  const base = mkdtempSync(join(tmpdir(), "runnel-sp-target-"));
  const root = join(base, "savepoints");
  const outside = join(base, "elsewhere");
  mkdirSync(root);
  mkdirSync(outside);
  return { root, outside };
}

async function refusal(root: string, name: string): Promise<SavepointRequestError> {
  const err = await savepointTarget(root, name).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, name).toBeInstanceOf(SavepointRequestError);
  expect((err as SavepointRequestError).status, name).toBe(400);
  return err as SavepointRequestError;
}

describe("savepoint targets under the job's root", () => {
  it("resolves relative names (with sub-folders) inside the root, creating a missing root", async () => {
    const { root } = scratch();
    expect(await savepointTarget(root, "upgrade-1")).toBe(join(root, "upgrade-1"));
    expect(await savepointTarget(root, "orders/savepoint-20260301T1000")).toBe(join(root, "orders/savepoint-20260301T1000"));
    const fresh = join(root, "not-yet");
    expect(await savepointTarget(fresh, "a")).toBe(join(fresh, "a"));
  });

  it("refuses absolute paths, '..' and odd segments, saying how to name one", async () => {
    const { root } = scratch();
    expect((await refusal(root, "/etc/cron.d")).message).toMatch(/not relative.*"name"/);
    expect((await refusal(root, "../elsewhere")).message).toMatch(/'\.\.'/);
    expect((await refusal(root, "a/../../elsewhere")).message).toMatch(/'\.\.'/);
    for (const name of ["", "a//b", "./a", ".hidden", "-flag", "a\\b", "C:x", "a b", "x".repeat(256)]) await refusal(root, name);
  });

  it("refuses a name that leads through a symlink out of the root, at any depth", async () => {
    const { root, outside } = scratch();
    symlinkSync(outside, join(root, "escape"));
    expect((await refusal(root, "escape")).message).toMatch(/leads out of the savepoint root/);
    expect((await refusal(root, "escape/deeper/sp-1")).message).toMatch(/through a symlink at .*escape/);
    // A symlink that stays inside the root is fine.
    mkdirSync(join(root, "real"));
    symlinkSync(join(root, "real"), join(root, "alias"));
    expect(await savepointTarget(root, "alias/sp-1")).toBe(join(root, "alias/sp-1"));
  });

  it("accepts a root that is itself a symlink (a mounted volume)", async () => {
    const { root, outside } = scratch();
    const linked = join(root, "..", "linked-root");
    symlinkSync(outside, linked);
    expect(await savepointTarget(linked, "sp-1")).toBe(join(linked, "sp-1"));
  });
});
