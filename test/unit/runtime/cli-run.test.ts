/** `runnel run`: argument errors are clear, a job module runs to completion with a summary. */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../../runtime/cli/main.ts";
import { captureOutput } from "../../helpers/capture.ts";

const capture = captureOutput;

const fixture = join(import.meta.dirname, "fixtures", "exactly-once-job.ts");

describe("runnel run", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("rejects bad options with one line and exit code 2, and missing jobs as configuration errors (78)", async () => {
    let io = capture();
    expect(await main(["run"])).toBe(2);
    expect(io.err()).toBe("runnel run: expected exactly one job module or StreamJob manifest; see `runnel run --help`");
    vi.restoreAllMocks();
    io = capture();
    expect(await main(["run", fixture, "--state", "rocks"])).toBe(2);
    expect(io.err()).toContain("--state must be heap or level, got 'rocks'");
    vi.restoreAllMocks();
    io = capture();
    expect(await main(["run", fixture, "--batch-size", "0"])).toBe(2);
    expect(io.err()).toContain("--batch-size must be a positive integer");
    vi.restoreAllMocks();
    io = capture();
    expect(await main(["run", "job.yaml"])).toBe(78);
    expect(io.err()).toMatch(/job\.yaml: no such file \(looked for .*job\.yaml\); check the path/);
    vi.restoreAllMocks();
    io = capture();
    expect(await main(["run", "/nonexistent/job.ts"])).toBe(78);
    expect(io.err()).toContain("cannot load job module");
    vi.restoreAllMocks();
    io = capture();
    expect(await main(["run", fixture, "--bogus"])).toBe(2);
    expect(io.err()).toMatch(/Unknown option '--bogus'/);
  });

  it("runs a job module and prints a summary", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runnel-run-"));
    try {
      const io = capture();
      expect(await main(["run", fixture, "--no-progress", "--checkpoint-dir", join(dir, "ckpt"), "--", join(dir, "out")])).toBe(0);
      expect(io.err()).toMatch(/exactly-once finished after .* 40,000 records in .* 1 checkpoints \(last 0\)/);
      expect((await readdir(join(dir, "out"))).filter((f) => f.endsWith(".ndjson")).length).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
