// `runnel savepoint dispose --missing-ok`: a disposal that runs again (the operator's disposer Job
// retried after it succeeded) finds nothing and succeeds; without the flag a missing folder fails.
import { join } from "node:path";
import { tmpdir } from "node:os";
import { afterEach, describe, expect, it, vi } from "vitest";
import { savepoint } from "../../../runtime/cli/savepoint.ts";
import { captureOutput } from "../../helpers/capture.ts";

describe("runnel savepoint dispose --missing-ok", () => {
  afterEach(() => vi.restoreAllMocks());
  const gone = join(tmpdir(), `runnel-no-such-savepoint-${process.pid}`);

  it("succeeds when the folder is already gone", async () => {
    const io = captureOutput();
    expect(await savepoint(["dispose", "--missing-ok", gone])).toBe(0);
    expect(io.out()).toContain("nothing to dispose");
  });

  it("fails without the flag", async () => {
    captureOutput();
    expect(await savepoint(["dispose", gone])).not.toBe(0);
  });
});
