/** Runs the test environment's command-line tools (kubectl, helm) against its apiserver. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { testEnv } from "./env.ts";

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `tool args…` from the environment's bin dir with its KUBECONFIG; never throws on exit code. */
export function runTool(tool: "kubectl" | "helm", args: string[], opts: { input?: string; timeoutMs?: number } = {}): ToolResult {
  const env = testEnv();
  const result = spawnSync(join(env.binDir, tool), args, {
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    env: {
      ...process.env,
      KUBECONFIG: env.kubeconfig,
      PATH: `${env.binDir}:${process.env.PATH ?? ""}`,
      HELM_CACHE_HOME: join(env.runDir, "helm", "cache"),
      HELM_CONFIG_HOME: join(env.runDir, "helm", "config"),
      HELM_DATA_HOME: join(env.runDir, "helm", "data"),
    },
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Like runTool, but fails with the tool's stderr when it exits non-zero; returns stdout. */
export function mustRun(tool: "kubectl" | "helm", args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const result = runTool(tool, args, opts);
  if (result.status !== 0) {
    throw new Error(`${tool} ${args.join(" ")} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}
