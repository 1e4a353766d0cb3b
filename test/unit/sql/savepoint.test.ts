/**
 * Savepoint compatibility of SQL jobs: operator uids come from the statement (its INSERT target)
 * and the operator's position and state shape, so a savepoint taken mid-stream restores into a
 * job whose one statement changed its projection — every statement keeps its state, and the
 * outputs before and after the restore add up to the independent computation over all input.
 * Changing a statement's aggregates gives that operator a new uid: its old state is refused
 * unless dropped on purpose, while the other statements' state is still kept.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../../runtime/exec/engine.ts";
import type { CompiledPipeline } from "../../../runtime/pipeline/compile.ts";
import { plain } from "../../../runtime/pipeline/values.ts";
import { analyticsReference, behaviourEvents, fileTable, fixture, normalise, sorted, userRows, withOptions } from "../../helpers/sql-analytics.ts";
import { compile, dataDir } from "./helpers.ts";

const file = fileTable;

const V1 = withOptions(fixture("analytics.sql"), {
  user_behaviors: file("behaviours.ndjson", { "json.timestamp-format.standard": "ISO-8601" }),
  user_dim: file("users.ndjson"),
  user_behavior_stats: { connector: "print" },
  user_profiles: { connector: "print" },
  user_sessions: { connector: "print" },
  ml_features: { connector: "print" },
  realtime_metrics: { connector: "print" },
});

/** V1 with the sessions statement's projection changed (labels renamed), nothing else. */
const V2 = V1.replace("THEN 'HIGH_ENGAGEMENT'\n    ELSE 'NORMAL'", "THEN 'HIGH'\n    ELSE 'LOW'");
/** V1 with the sessions statement's aggregates changed (a state of another shape). */
const V3 = V1.replace("  COUNT(*) AS event_count,\n  CASE", "  COUNT(DISTINCT video_id) AS event_count,\n  CASE");

type Out = Record<string, Record<string, unknown>[]>;
const outputs = (c: CompiledPipeline): Out =>
  Object.fromEntries([...c.collected].map(([id, s]) => [id, s.values().map((v) => plain(v) as Record<string, unknown>)]));

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("SQL savepoints survive an edit of one statement", () => {
  const { events, times } = behaviourEvents(3000);
  const dim = userRows();
  const data = dataDir({ "behaviours.ndjson": events, "users.ndjson": dim });

  /** Runs v1 until `rounds` rounds, takes a savepoint and stops; returns its outputs and the savepoint folder. */
  async function firstHalf(rounds: number): Promise<{ out: Out; savepoint: string; graphUids: string[] }> {
    const savepoint = await mkdtemp(join(tmpdir(), "runnel-sql-sp-"));
    dirs.push(savepoint);
    const c = compile(V1, data);
    let n = 0;
    const engine: Engine = createEngine({
      graph: c.graph,
      idleSleepMs: 0,
      batchSize: 100,
      onRound: async () => {
        if (++n !== rounds) return;
        await engine.savepoint(savepoint);
        engine.stop();
      },
    });
    const p = await engine.run();
    expect(p.finished).toBe(false);
    return { out: outputs(c), savepoint, graphUids: c.graph.nodes.map((x) => x.uid) };
  }

  it("a changed projection: every statement keeps its state; before + after equals the computation over all input", async () => {
    const first = await firstHalf(12);
    expect(first.out.user_behavior_stats?.length).toBeGreaterThan(0);
    const c2 = compile(V2, data);
    // The edited statement's window operator keeps its uid: only its projection changed.
    const windowUids = (uids: string[]): string[] => uids.filter((u) => u.startsWith("user_sessions/window0#"));
    expect(windowUids(c2.graph.nodes.map((x) => x.uid))).toEqual(windowUids(first.graphUids));
    await createEngine({ graph: c2.graph, idleSleepMs: 0, batchSize: 100, restoreFrom: first.savepoint }).run();
    const second = outputs(c2);
    const ref = analyticsReference(events, times, dim);
    const both = (table: string): Record<string, unknown>[] => [...(first.out[table] ?? []), ...(second[table] ?? [])].map((r) => normalise(table, r));
    expect(sorted(both("user_behavior_stats"))).toEqual(sorted(ref.stats));
    expect(sorted(both("ml_features"))).toEqual(sorted(ref.features));
    expect(sorted(both("realtime_metrics"))).toEqual(sorted(ref.metrics));
    // Batch profiles are emitted once, at the end: after the restore, counting events from before it too.
    expect(first.out.user_profiles ?? []).toEqual([]);
    expect(sorted(both("user_profiles"))).toEqual(sorted(ref.profiles));
    // Sessions closed before the savepoint carry v1's labels; the rest v2's, with counts from both halves.
    const relabel = (s: Record<string, unknown>): Record<string, unknown> => ({
      ...s,
      engagement: s.engagement === "HIGH" ? "HIGH_ENGAGEMENT" : s.engagement === "LOW" ? "NORMAL" : s.engagement,
    });
    expect(second.user_sessions?.some((s) => s.engagement === "HIGH" || s.engagement === "LOW")).toBe(true);
    expect(sorted(both("user_sessions").map(relabel))).toEqual(sorted(ref.sessions));
  });

  it("changed aggregates start that operator afresh: refused unless its state is dropped, and the other statements keep theirs", async () => {
    const first = await firstHalf(12);
    const c3 = compile(V3, data);
    await expect(createEngine({ graph: c3.graph, idleSleepMs: 0, batchSize: 100, restoreFrom: first.savepoint }).run()).rejects.toThrow(
      /user_sessions\/window0#/,
    );
    const c3b = compile(V3, data);
    await createEngine({ graph: c3b.graph, idleSleepMs: 0, batchSize: 100, restoreFrom: first.savepoint, allowNonRestoredState: true }).run();
    const second = outputs(c3b);
    const ref = analyticsReference(events, times, dim);
    const both = (table: string): Record<string, unknown>[] => [...(first.out[table] ?? []), ...(second[table] ?? [])].map((r) => normalise(table, r));
    expect(sorted(both("user_behavior_stats"))).toEqual(sorted(ref.stats));
    expect(sorted(both("user_profiles"))).toEqual(sorted(ref.profiles));
  });
});
