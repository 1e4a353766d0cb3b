// Every runnel command fails the same way: one line saying what, why and what to do, and the exit
// code of the failure's class (runtime/worker-contract.ts EXIT_CODES). The classifier never throws,
// whatever it is handed — a kafkajs error's numeric `code` once hid the real error behind a TypeError.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { UsageError } from "../../../runtime/cli/args.ts";
import { describeFailure } from "../../../runtime/cli/failure.ts";
import { main } from "../../../runtime/cli/main.ts";
import { ConnectorError, FencedError, GenerationError, JobDefinitionError, UserFunctionError } from "../../../runtime/errors.ts";
import { EXIT_CODES } from "../../../runtime/worker-contract.ts";
import { captureOutput } from "../../helpers/capture.ts";

/** A kafkajs protocol error as kafkajs builds it: a numeric `code`, `type`, `retriable`. */
function kafkajsError(message: string, retriable: boolean): Error {
  const err = new Error(message);
  err.name = "KafkaJSProtocolError";
  Object.assign(err, { code: 3, type: "UNKNOWN_TOPIC_OR_PARTITION", retriable });
  return err;
}

describe("failure classes", () => {
  it("maps every error class to its exit code", () => {
    expect(describeFailure(new UsageError("--x is wrong"))).toMatchObject({ errorClass: "usage", exitCode: EXIT_CODES.usage });
    expect(describeFailure(new JobDefinitionError("bad job"))).toMatchObject({ errorClass: "configuration", exitCode: 78 });
    expect(describeFailure(new GenerationError("old generation"))).toMatchObject({ exitCode: 78 });
    expect(describeFailure(new ConnectorError("broker down", true))).toMatchObject({ errorClass: "transient", exitCode: 75 });
    expect(describeFailure(new FencedError("fenced"))).toMatchObject({ errorClass: "fenced", exitCode: 79 });
    expect(describeFailure(new UserFunctionError("parse", new Error("boom")))).toMatchObject({ errorClass: "data", exitCode: 65 });
  });

  it("never throws on errors with a numeric code (kafkajs), and classes them by their retriable flag", () => {
    const retriable = describeFailure(kafkajsError("This server does not host this topic-partition", true));
    expect(retriable).toMatchObject({ errorClass: "transient", exitCode: 75 });
    expect(retriable.message).toMatch(/^Kafka: This server does not host this topic-partition \(KafkaJSProtocolError; a restart retries it\)$/);
    expect(describeFailure(kafkajsError("nope", false))).toMatchObject({ errorClass: "internal", exitCode: 1 });
  });

  it("classes system errors by code, and anything else as internal with what to do, on one line", () => {
    const eacces = Object.assign(new Error("EACCES: permission denied, open '/state/x'"), { code: "EACCES" });
    expect(describeFailure(eacces)).toMatchObject({ errorClass: "configuration", exitCode: 78 });
    expect(describeFailure(Object.assign(new Error("reset"), { code: "ECONNRESET" }))).toMatchObject({ errorClass: "transient" });
    const odd = describeFailure(new TypeError("x is not a function\n    at somewhere"));
    expect(odd).toMatchObject({ errorClass: "internal", exitCode: 1 });
    expect(odd.message).toMatch(/^internal error \(TypeError: x is not a function; at somewhere\); this is a bug in Runnel/);
    for (const weird of [null, undefined, 42, "text", { code: 7 }, { name: 5 }]) expect(describeFailure(weird).exitCode).toBe(1);
  });
});

describe("runnel worker failures (in-process)", () => {
  beforeEach(() => {
    vi.stubEnv("RUNNEL_LOG_FORMAT", "json");
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  const dir = mkdtempSync(join(tmpdir(), "runnel-worker-cli-"));
  const lines = (text: string): string[] => text.trim().split("\n").filter(Boolean);

  it.each([
    [["--job", "x.yaml", "--ordinal", "0", "--generation", "G_1"], /--generation \(or \$RUNNEL_GENERATION\) must be lowercase letters/],
    [["--job", "x.yaml", "--ordinal", "0", "--savepoint-timeout", "soon"], /--savepoint-timeout must be a duration such as 90s/],
    [["--job", "x.yaml", "--ordinal", "3", "--workers", "2"], /--ordinal 3 is not below --workers 2/],
    [["--job", "x.yaml", "--frobnicate"], /Unknown option '--frobnicate'/],
    [[], /--job <streamjob.yaml> is required/],
  ])("%j: one line, exit 2", async (args, message) => {
    const io = captureOutput();
    expect(await main(["worker", ...args])).toBe(EXIT_CODES.usage);
    const err = lines(io.err());
    expect(err).toHaveLength(1);
    const line = JSON.parse(err[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({ level: "error", logger: "worker", errorClass: "usage", exitCode: 2 });
    expect(line.msg).toMatch(message);
    expect(line.msg).toMatch(/see `runnel worker --help`$/);
  });

  it("a missing or invalid manifest is a configuration error (78), one line, no stack trace", async () => {
    let io = captureOutput();
    expect(await main(["worker", "--job", join(dir, "missing.yaml"), "--ordinal", "0"])).toBe(EXIT_CODES.configuration);
    expect(lines(io.err())).toHaveLength(1);
    expect(io.err()).toMatch(/missing\.yaml: no such file/);
    vi.restoreAllMocks();
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "apiVersion: runnel.dev/v1alpha1\nkind: StreamJob\nmetadata: { name: bad }\nspec: { parallelism: 0 }\n");
    io = captureOutput();
    expect(await main(["worker", "--job", bad, "--ordinal", "0"])).toBe(EXIT_CODES.configuration);
    const err = lines(io.err());
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/bad\.yaml is not a valid StreamJob: \.spec/);
    expect(io.err()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });

  it("documents the exit codes in its help", async () => {
    const io = captureOutput();
    expect(await main(["worker", "--help"])).toBe(0);
    expect(io.out()).toMatch(/Exit codes: 0 stopped.*\n.*75 transient.*\n?.*78 configuration.*79 fenced/);
  });
});

describe("runnel savepoint failures", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("a folder without a savepoint is a configuration error (78); a bad action is a usage error (2); one line each", async () => {
    let io = captureOutput();
    expect(await main(["savepoint", "inspect", join(tmpdir(), "no-savepoint-here")])).toBe(EXIT_CODES.configuration);
    expect(io.err()).toMatch(/^runnel savepoint: .*no-savepoint-here holds no savepoint/);
    expect(io.err().trim().split("\n")).toHaveLength(1);
    vi.restoreAllMocks();
    io = captureOutput();
    expect(await main(["savepoint", "restore", "/x"])).toBe(EXIT_CODES.usage);
    expect(io.err()).toBe(
      "runnel savepoint: expected inspect or dispose and one savepoint folder, e.g. runnel savepoint inspect /savepoints/upgrade-1; see `runnel savepoint --help`",
    );
  });
});
