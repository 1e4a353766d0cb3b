/**
 * Runs the Argo CD health scripts (examples/argocd/health/*.lua) the way Argo CD does — a Lua 5.1
 * chunk with the object in the global `obj`, returning {status, message} — in Debian's lua5.1.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
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

/** Health samples captured from the operator's real status (test/unit/delivery/argocd.test.ts judges them). */
export const HEALTH_FIXTURES = join(repoRoot, "test/fixtures/argocd");

/** Drops what changes on every run and says nothing about health. */
function fixtureOf(obj: { metadata?: object }): unknown {
  const { managedFields: _m, uid: _u, resourceVersion: _r, creationTimestamp: _c, ...metadata } = (obj.metadata ?? {}) as Record<string, unknown>;
  return { ...obj, metadata };
}

/** Checks the Argo CD verdict on a live object, and writes it as a sample when RUNNEL_WRITE_FIXTURES=1. */
export function judgeHealth(kind: "StreamJob" | "StreamSavepoint", obj: { metadata?: object }, expected: string, fixture: string): void {
  const health = evaluateHealth(kind, obj);
  expect(health.status, `${fixture}: ${health.message}`).toBe(expected);
  if (process.env.RUNNEL_WRITE_FIXTURES !== "1") return;
  mkdirSync(HEALTH_FIXTURES, { recursive: true });
  writeFileSync(
    join(HEALTH_FIXTURES, `${fixture}.json`),
    `${JSON.stringify({ expected: { status: expected, message: health.message }, object: fixtureOf(obj) }, null, 2)}\n`,
  );
}
