/** Captures what the CLI prints, for tests that call `main()` in-process. Undo with vi.restoreAllMocks(). */
import { vi } from "vitest";

/** What was printed: `out` (console.log and stdout writes), `err` (console.error and stderr writes). */
export interface Captured {
  out: () => string;
  err: () => string;
}

/**
 * Mocks console.log/error and process.stdout/stderr writes. Stream writes call their callback, as a
 * real stream does, so sinks that wait for it (the stdout sink) keep going.
 */
export function captureOutput(): Captured {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
  const write = (_chunk: unknown, cb?: unknown): boolean => {
    if (typeof cb === "function") (cb as () => void)();
    return true;
  };
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation(write);
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(write);
  const lines = (spy: { mock: { calls: unknown[][] } }): string => spy.mock.calls.map((c) => c.join(" ")).join("\n");
  const chunks = (spy: { mock: { calls: unknown[][] } }): string => spy.mock.calls.map((c) => String(c[0])).join("");
  return { out: () => [lines(log), chunks(stdout)].filter(Boolean).join("\n"), err: () => [lines(error), chunks(stderr)].filter(Boolean).join("\n") };
}
