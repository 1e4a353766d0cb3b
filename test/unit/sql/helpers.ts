/** Helpers of the SQL tests: a StreamJob around a script, validated and compiled with collecting sinks, run to its end. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine } from "../../../runtime/exec/engine.ts";
import type { CompiledPipeline } from "../../../runtime/pipeline/compile.ts";
import { plain } from "../../../runtime/pipeline/values.ts";
import { checkDocument } from "../../../runtime/spec/check.ts";
import type { Finding } from "../../../runtime/spec/findings.ts";
import { parseStreamJob } from "../../../runtime/spec/validate.ts";
import { compileSql } from "../../../runtime/sql/compile.ts";

/** A StreamJob document whose spec holds only `sql`. */
export function sqlJob(sql: string, name = "sql-test"): object {
  return { apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name }, spec: { sql } };
}

/** What `runnel validate` finds in a script. */
export async function findings(sql: string): Promise<Finding[]> {
  return (await checkDocument(sqlJob(sql))).findings;
}

/** Compiles a script for local mode with collecting sinks (files relative to baseDir). */
export function compile(sql: string, baseDir = "."): CompiledPipeline {
  return compileSql(parseStreamJob(sqlJob(sql)).value, { mode: "local", baseDir, sinkOverride: "collect" });
}

/** Runs a compiled script to its end; each sink's records. */
export async function run(c: CompiledPipeline, batchSize = 500): Promise<Record<string, Record<string, unknown>[]>> {
  await createEngine({ graph: c.graph, idleSleepMs: 0, batchSize }).run();
  return Object.fromEntries([...c.collected].map(([id, s]) => [id, s.values().map((v) => plain(v) as Record<string, unknown>)]));
}

/** A temporary folder holding ndjson files (name → records). */
export function dataDir(files: Record<string, unknown[]>): string {
  const dir = mkdtempSync(join(tmpdir(), "runnel-sql-"));
  for (const [name, rows] of Object.entries(files))
    writeFileSync(join(dir, name), rows.map((r) => (typeof r === "string" ? r : JSON.stringify(r))).join("\n") + "\n");
  return dir;
}

/** Compiles and runs a script over ndjson files; each sink's records. */
export async function runSql(sql: string, files: Record<string, unknown[]> = {}, batchSize?: number): Promise<Record<string, Record<string, unknown>[]>> {
  return run(compile(sql, dataDir(files)), batchSize);
}
