/** Small helpers shared by the runtime unit tests. */
import type { JobGraph } from "../../../runtime/graph/graph.ts";
import { createEngine, type Engine, type EngineOptions } from "../../../runtime/exec/engine.ts";
import { levelStore } from "../../../runtime/state/store.ts";
import { join } from "node:path";

/** Runs a bounded job to the end and returns its progress. */
export async function runToEnd(graph: JobGraph, options: Omit<EngineOptions, "graph"> = {}) {
  const engine = createEngine({ graph, idleSleepMs: 0, ...options });
  return engine.run();
}

/** Opens an engine for step-by-step driving with round(). */
export async function stepper(graph: JobGraph, options: Omit<EngineOptions, "graph"> = {}): Promise<Engine> {
  const engine = createEngine({ graph, idleSleepMs: 0, ...options });
  await engine.open();
  return engine;
}

/** An event of the tests: key, event time, value. */
export interface Ev {
  k: string;
  t: number;
  v: number;
}

/** Shorthand for an event. */
export function ev(k: string, t: number, v = 1): Ev {
  return { k, t, v };
}

/** Event-time watermarks on Ev.t with the given out-of-orderness bound. */
export function evTime(maxOutOfOrdernessMs = 0, idleTimeoutMs?: number) {
  return { timestamp: (e: Ev) => e.t, maxOutOfOrdernessMs, ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }) };
}

/**
 * Puts an entry of an operator no job has into the LevelDB stores of tasks 0..tasks-1 under
 * `dir`: each store then holds state, so its caches do not cover it and batches are read as
 * after a restore (ADR 39). For tests that count reads.
 */
export async function seedForeignState(dir: string, tasks: number): Promise<void> {
  for (let task = 0; task < tasks; task++) {
    const store = await levelStore({ path: join(dir, `task-${task}`) });
    await store.write([["gone-operator\u0000n\u0000sx", Buffer.of(1)]], []);
    await store.close();
  }
}
