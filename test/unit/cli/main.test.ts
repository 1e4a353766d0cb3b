// The runnel CLI's argument handling: help, unknown commands, bad arguments of a lazily loaded command.
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

  it("loads the operator on demand: a bad flag names itself and the fix, exit 2, no stack trace", async () => {
    const io = capture();
    expect(await main(["operator", "--listen", "nowhere"])).toBe(2);
    expect(io.err()).toContain("runnel operator: --listen must be host:port, e.g. 0.0.0.0:8080, got 'nowhere'");
    expect(io.err()).toContain("Usage: runnel operator [options]");
    expect(io.err()).not.toMatch(/at .*\.ts:\d+/);
  });

  it("shows a command's usage on `<command> --help`", async () => {
    const io = capture();
    expect(await main(["validate", "--help"])).toBe(0);
    expect(io.out()).toContain("Usage: runnel validate <streamjob.yaml>");
  });
});
