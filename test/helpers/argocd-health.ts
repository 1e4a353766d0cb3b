/**
 * Runs the Argo CD health scripts (examples/argocd/health/*.lua) the way Argo CD does — a Lua 5.1
 * chunk with the object in the global `obj`, returning {status, message} — in Debian's lua5.1.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../env/lib/layout.ts";

/** The health scripts, by the kind they judge. */
export const HEALTH_SCRIPTS = {
  StreamJob: join(repoRoot, "examples/argocd/health/streamjob.lua"),
  StreamSavepoint: join(repoRoot, "examples/argocd/health/streamsavepoint.lua"),
  Application: join(repoRoot, "examples/argocd/health/application.lua"),
} as const;

/** Argo CD's verdict on an object. */
export interface Health {
  status: string;
  message: string;
}

/** A JSON value as a Lua 5.1 table constructor (nulls disappear, as they do when Argo CD converts an object). */
export function toLua(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return JSON.stringify(value).replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => `\\${parseInt(hex, 16)}`);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(", ")}}`;
  return `{${Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`)
    .join(", ")}}`;
}

/** Evaluates a health script against an object in lua5.1. */
export function evaluateHealth(kind: keyof typeof HEALTH_SCRIPTS, obj: unknown): Health {
  const program = [
    `obj = ${toLua(obj)}`,
    `local hs = dofile(${JSON.stringify(HEALTH_SCRIPTS[kind])})`,
    `io.write(tostring(hs.status), "\\n", tostring(hs.message))`,
  ].join("\n");
  const result = spawnSync("lua5.1", ["-"], { input: program, encoding: "utf8" });
  if (result.error) throw new Error(`lua5.1 is needed for the Argo CD health checks (apt-get install lua5.1): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`lua5.1 failed on the ${kind} health script: ${result.stderr}`);
  const [status = "", ...message] = result.stdout.split("\n");
  return { status, message: message.join("\n") };
}
