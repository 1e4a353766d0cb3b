// The runnel CLI's argument handling: help, unknown commands, and commands not built yet.
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../../runtime/cli/main.ts";
import { captureOutput } from "../../helpers/capture.ts";

const capture = captureOutput;

describe("runnel CLI", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("lists every subcommand on --help and exits 0", async () => {
    const io = capture();
    expect(await main(["--help"])).toBe(0);
    for (const name of ["run", "validate", "worker", "operator", "start"]) expect(io.out()).toMatch(new RegExp(`^  ${name} `, "m"));
  });

  it("prints usage and exits 2 without a command", async () => {
    const io = capture();
    expect(await main([])).toBe(2);
    expect(io.out()).toContain("Usage: runnel <command>");
  });

  it("names an unknown command and the known ones, without a stack trace", async () => {
    const io = capture();
    expect(await main(["rnu"])).toBe(2);
    expect(io.err()).toContain("unknown command 'rnu'");
    expect(io.err()).toContain("Known commands: run, validate, worker, savepoint, operator, start");
    expect(io.err()).not.toMatch(/at .*\.ts:\d+/);
  });

  it("says a command is not yet available and exits non-zero rather than pretending", async () => {
    const io = capture();
    expect(await main(["operator"])).toBe(3);
    expect(io.err()).toContain("runnel operator: not yet available");
  });

  it("shows a command's usage on `<command> --help`", async () => {
    const io = capture();
    expect(await main(["validate", "--help"])).toBe(0);
    expect(io.out()).toContain("Usage: runnel validate <streamjob.yaml>");
  });
});
