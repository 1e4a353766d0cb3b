/**
 * The analytics system's five statements and the lifetime-value batch query, as written for
 * Flink with only their tables' connector options pointed at local files, give exactly what an
 * independent computation over the same input gives.
 */
import { describe, expect, it } from "vitest";
import {
  fileTable,
  analyticsReference,
  behaviourEvents,
  fixture,
  ltvReference,
  normalise,
  purchases,
  sorted,
  userRows,
  withOptions,
} from "../../helpers/sql-analytics.ts";
import { findings, runSql } from "./helpers.ts";

const file = fileTable;

/** The analytics script over local files: only WITH options differ from the Flink script. */
function localAnalytics(): string {
  return withOptions(fixture("analytics.sql"), {
    user_behaviors: file("behaviours.ndjson", { "json.timestamp-format.standard": "ISO-8601" }),
    user_dim: file("users.ndjson"),
    user_behavior_stats: file("out/stats"),
    user_profiles: { connector: "upsert-kafka", topic: "user-profiles", "key.format": "raw", "value.format": "json" },
    user_sessions: file("out/sessions"),
    ml_features: file("out/features"),
    realtime_metrics: file("out/metrics"),
  });
}

describe("the analytics statements (local files)", () => {
  const { events, times } = behaviourEvents(3000);
  const dim = userRows();

  it("validates", async () => {
    expect(await findings(localAnalytics())).toEqual([]);
  });

  it("every statement's output equals the independent computation", async () => {
    const out = await runSql(localAnalytics(), { "behaviours.ndjson": events, "users.ndjson": dim });
    const ref = analyticsReference(events, times, dim);
    expect(ref.stats.length).toBeGreaterThan(100);
    expect(sorted((out.user_behavior_stats ?? []).map((r) => normalise("stats", r)))).toEqual(sorted(ref.stats));
    // The upsert table: the last value per key is what a reader of the compacted topic keeps.
    const last = new Map<string, unknown>();
    for (const r of out.user_profiles ?? []) last.set(r.key as string, r.value === null ? null : normalise("profiles", r.value as Record<string, unknown>));
    expect(sorted([...last.values()])).toEqual(sorted(ref.profiles));
    expect(ref.sessions.some((s) => s.engagement === "HIGH_ENGAGEMENT") && ref.sessions.some((s) => s.engagement === "NORMAL")).toBe(true);
    expect(sorted((out.user_sessions ?? []).map((r) => normalise("sessions", r)))).toEqual(sorted(ref.sessions));
    expect(new Set(ref.features.map((f) => f.age_group))).toContain("unknown");
    expect(sorted((out.ml_features ?? []).map((r) => normalise("features", r)))).toEqual(sorted(ref.features));
    expect(sorted((out.realtime_metrics ?? []).map((r) => normalise("metrics", r)))).toEqual(sorted(ref.metrics));
    expect(out["dead-letter"] ?? []).toEqual([]);
  });

  it("a malformed event goes to the dead-letter output with its reason, and the rest is unaffected", async () => {
    const bad = [{ ...events[0], ts: "yesterday" }, "{not json", { ...events[1], properties: "oops" }];
    const out = await runSql(localAnalytics(), { "behaviours.ndjson": [...events, ...bad], "users.ndjson": dim });
    const dead = out["dead-letter"] ?? [];
    expect(dead.map((d) => d.reason)).toEqual(["invalid-row", "invalid-row", "invalid-row"]);
    expect(dead.map((d) => d.error)).toEqual([
      expect.stringMatching(/column ts: "yesterday" is not a timestamp/),
      expect.stringMatching(/not JSON/),
      expect.stringMatching(/column properties: "oops" is not a MAP<STRING, STRING>/),
    ]);
    const ref = analyticsReference(events, times, dim);
    expect(sorted((out.user_behavior_stats ?? []).map((r) => normalise("stats", r)))).toEqual(sorted(ref.stats));
  });
});

describe("the lifetime-value query (bounded: runs as a batch and ends)", () => {
  const history = purchases(300);

  it("gives each qualifying user's final row once, equal to the independent computation", async () => {
    const sql = withOptions(fixture("ltv.sql"), { purchases: file("purchases.ndjson"), user_ltv: file("out/ltv") });
    const out = await runSql(sql, { "purchases.ndjson": history });
    const ref = ltvReference(history);
    expect(ref.length).toBeGreaterThan(10);
    expect(ref.length).toBeLessThan(60);
    const rows = (out.user_ltv ?? []).map((r) => normalise("ltv", r));
    // Batch: one row per user (no updates), only users past the HAVING threshold.
    expect(rows).toHaveLength(ref.length);
    expect(sorted(rows)).toEqual(sorted(ref));
  });
});
