/**
 * The module every thread of the `runnel` command starts with (`runnel run --threads`,
 * cli/run-thread.ts; `runnel worker` on threads, cli/worker-thread.ts). A thread loads the
 * runtime again, its own copy: Node's compile cache goes on first (as in main.ts), then the
 * thread's own module — its last argument, after a marker — is loaded and its `runThread` run; a
 * number it resolves to is the thread's exit code.
 */
import { enableCompileCache } from "node:module";
import { parentPort, workerData, type MessagePort } from "node:worker_threads";

/** What a thread's own module exports. */
export interface ThreadModule {
  runThread: (data: never, port: MessagePort) => Promise<number | void>;
}

/** Comes before the thread's module among its arguments. */
const MARKER = "--runnel-thread";

/** How to start a thread that runs `module` (a ThreadModule): the entry and its arguments, as coordinator.ts and pool.ts take them. */
export function threadEntry(module: URL): { entry: URL; argv: string[] } {
  return { entry: new URL(import.meta.url), argv: [MARKER, module.href] };
}

// Imported by the main thread's modules too (for threadEntry): only a thread started by threadEntry runs a module.
const module = parentPort && process.argv.at(-2) === MARKER ? process.argv.at(-1) : undefined;
if (parentPort && module !== undefined) {
  enableCompileCache();
  const { runThread } = (await import(module)) as ThreadModule;
  const code = await runThread(workerData as never, parentPort);
  if (typeof code === "number") process.exit(code);
}
