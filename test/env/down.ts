/** Stops exactly the processes `up` started (recorded in the run directory's pid files). */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { runDir } from "./lib/layout.ts";
import { stopAll } from "./lib/processes.ts";

/** Stops the environment in reverse start order and removes env.json so nothing reuses it. */
export async function down(dir = runDir()): Promise<string[]> {
  rmSync(join(dir, "env.json"), { force: true });
  return stopAll(dir);
}

if (import.meta.main) {
  const stopped = await down();
  console.error(`[testenv] stopped: ${stopped.length ? stopped.join(", ") : "nothing was running"}`);
}
