// vitest globalSetup for the integration and e2e tiers: reuses a running test environment, or
// brings one up (test/env/up) and takes it down again when the tier ends.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot, runDir } from "../env/lib/layout.ts";
import { envRunning } from "../env/lib/processes.ts";

/** Brings the environment up unless it already runs; returns the teardown. */
export default function setup(): () => void {
  if (envRunning(runDir())) return () => undefined;
  const result = spawnSync(join(repoRoot, "test/env/up"), { stdio: "inherit" });
  if (result.status !== 0) throw new Error(`test/env/up failed (exit ${result.status}); see the logs in ${runDir()}/logs`);
  return () => {
    spawnSync(join(repoRoot, "test/env/down"), { stdio: "inherit" });
  };
}
