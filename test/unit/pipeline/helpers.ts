/** Helpers of the pipeline compiler tests: manifests from pipeline objects, running, comparing. */
import { expect } from "vitest";
import type { JobGraph } from "../../../runtime/graph/graph.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { compilePipeline, type CompiledPipeline } from "../../../runtime/pipeline/compile.ts";
import { checkDocument } from "../../../runtime/spec/check.ts";
import { parseStreamJob } from "../../../runtime/spec/validate.ts";
import { plain, toJson } from "../../../runtime/pipeline/values.ts";
import { manifestGenerator } from "../../../runtime/pipeline/generator.ts";
import { DEFAULT_START_TIME } from "../../../runtime/pipeline/sources.ts";
import type { GeneratorSource } from "../../../runtime/spec/generated/types.ts";
import type { Source } from "../../../runtime/connectors/types.ts";

/** A StreamJob document around a pipeline. */
export function streamJob(name: string, pipeline: object): object {
  return { apiVersion: "runnel.dev/v1alpha1", kind: "StreamJob", metadata: { name }, spec: { pipeline } };
}

/** Validates (as runnel validate does) and compiles with collecting sinks. */
export async function compileDoc(doc: object, baseDir = "."): Promise<CompiledPipeline> {
  const report = await checkDocument(doc);
  expect(report.findings.filter((f) => f.severity === "error")).toEqual([]);
  return compilePipeline(parseStreamJob(doc).value, { mode: "local", baseDir, sinkOverride: "collect" });
}

/** Runs a bounded job to its end. */
export async function runGraph(graph: JobGraph, batchSize?: number): Promise<void> {
  await createEngine({ graph, idleSleepMs: 0, ...(batchSize === undefined ? {} : { batchSize }) }).run();
}

/** Runs a compiled pipeline; returns each sink's records as plain values. */
export async function runPipeline(c: CompiledPipeline, batchSize?: number): Promise<Record<string, unknown[]>> {
  await runGraph(c.graph, batchSize);
  return Object.fromEntries([...c.collected].map(([id, s]) => [id, s.values().map(plain)]));
}

/** Records as sorted JSON lines (order across tasks is not part of the contract). */
export function sortedLines(values: readonly unknown[]): string[] {
  return values.map((v) => toJson(plain(v))).sort();
}

/** A generator spec for the equivalence queries: users, event types, amounts, event time. */
export const eventsGenerator: GeneratorSource = {
  count: 3000,
  rate: 50,
  seed: 3,
  partitions: 3,
  outOfOrderness: "2s",
  fields: {
    user: { kind: "key", prefix: "u", cardinality: 40 },
    type: { kind: "choice", values: ["view", "like", "share"], weights: [6, 3, 1] },
    amount: { kind: "double", min: 0, max: 100 },
    ts: { kind: "eventTime" },
  },
};

/** A pipeline source of those records: topic `events` on a cluster, the generator locally; event time `ts`, 2 s out of order. */
export const eventsSourceSpec = {
  id: "events",
  kafka: { topic: "events" },
  timestamp: { field: "ts" },
  watermark: { outOfOrderness: "2s" },
  fields: { user: "string", type: "string", amount: "double", ts: "int" },
  local: { generator: eventsGenerator },
};

/** The same generated records as a typed-API source. */
export function eventsSource(): Source<unknown> {
  return manifestGenerator(eventsGenerator, { startTime: DEFAULT_START_TIME, throttle: false });
}

/** One generated event. */
export interface Event {
  user: string;
  type: string;
  amount: number;
  ts: number;
}

/** Asymmetric matchers typed as unknown (vitest types them any). */
export const anyString = expect.any(String) as unknown;
/** See anyString. */
export const anyNumber = expect.any(Number) as unknown;
/** See anyString. */
export const anyArray = expect.any(Array) as unknown;
/** A string matching `re`, typed as unknown. */
export function matching(re: RegExp): unknown {
  return expect.stringMatching(re) as unknown;
}
