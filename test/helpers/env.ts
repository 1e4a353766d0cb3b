/** The running test environment as tests see it (from test/env's env.json). */
import { readEnvInfo, runDir, type TestEnvInfo } from "../env/lib/layout.ts";

export type { TestEnvInfo };

/** Returns the running environment; fails with how to start one when there is none. */
export function testEnv(): TestEnvInfo {
  const info = readEnvInfo(runDir());
  if (!info) {
    throw new Error(`No test environment at ${runDir()}: run the integration tier (npm run test:integration) or test/env/up first.`);
  }
  return info;
}

/** A name unique to this test run, for topics, namespaces and keys that tests create. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}
