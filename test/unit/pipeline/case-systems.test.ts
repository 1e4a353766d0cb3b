/**
 * The three case-system manifests (local copies with a `local` section for every Kafka source)
 * compile and run in local mode on generated data, and every sink gets records of the right shape.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { anyString, anyNumber, anyArray, matching } from "./helpers.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { compilePipeline, type CompiledPipeline } from "../../../runtime/pipeline/compile.ts";
import { manifestGenerator } from "../../../runtime/pipeline/generator.ts";
import { loadManifestJob } from "../../../runtime/pipeline/load.ts";
import { DEFAULT_START_TIME } from "../../../runtime/pipeline/sources.ts";
import { plain, toJson } from "../../../runtime/pipeline/values.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";
import { parseStreamJob } from "../../../runtime/spec/validate.ts";
import type { GeneratorSource } from "../../../runtime/spec/generated/types.ts";

const dir = join(dirname(fileURLToPath(import.meta.url)), "../../fixtures/streamjobs");

type Row = Record<string, unknown>;

/** Runs with a processing-time clock that moves 1 s per reading, so 5-minute processing timers fire. */
async function run(c: CompiledPipeline, batchSize = 4096): Promise<Record<string, Row[]>> {
  let t = DEFAULT_START_TIME;
  const clock = { now: () => (t += 1000) };
  await createEngine({ graph: c.graph, idleSleepMs: 0, clock, batchSize }).run();
  return Object.fromEntries([...c.collected].map(([id, s]) => [id, s.values().map((v) => plain(v) as Row)]));
}

/** Every generated record of a manifest's source, read directly (to check sums against). */
async function generated(spec: GeneratorSource, max: number): Promise<Row[]> {
  const src = manifestGenerator(spec, { startTime: DEFAULT_START_TIME, throttle: false, maxRecords: max });
  const out: Row[] = [];
  for (let p = 0; p < src.partitions; p++) out.push(...(await (await src.open(p)).read(1e9)).records);
  return out;
}

describe("case-system manifests in local mode", () => {
  it("analytics: per-minute counts add up to the input per type; every other sink has records", async () => {
    const n = 4000;
    const c = await loadManifestJob(join(dir, "analytics.yaml"), { sinkOverride: "collect", maxRecordsPerSource: n });
    const out = await run(c);
    const job = parseStreamJob(parseManifests(readFileSync(join(dir, "analytics.yaml"), "utf8"))[0]).value;
    const input = await generated(job.spec.pipeline?.sources[0]?.local?.generator as GeneratorSource, n);
    const perType = new Map<string, number>();
    for (const r of input) perType.set(r.type as string, (perType.get(r.type as string) ?? 0) + 1);
    const counted = new Map<string, number>();
    for (const m of out["minute-metrics"] ?? []) {
      expect(m).toEqual({ key: anyString, windowStart: anyNumber, windowEnd: anyNumber, events: anyNumber, users: anyNumber, avgDuration: anyNumber });
      expect((m.windowEnd as number) - (m.windowStart as number)).toBe(60_000);
      counted.set(m.key as string, (counted.get(m.key as string) ?? 0) + (m.events as number));
    }
    expect(counted).toEqual(perType);
    expect((out["five-seconds"] ?? out.realtime ?? []).reduce((s, r) => s + (r.events as number), 0)).toBe(n);
    expect(out.realtime?.[0]?.key).toEqual([anyString, anyString]);
    expect(out.profiles).toHaveLength(n);
    expect(out.profiles?.[0]).toMatchObject({
      op: "hset",
      key: matching(/^profile:u\d+$/),
      fields: { views: anyString, likes: anyString, watchTime: anyString },
      ttlMs: 86_400_000,
    });
    expect(out.engagement?.length).toBeGreaterThan(0);
    expect(out.engagement?.every((s) => s.engagement === "HIGH_ENGAGEMENT" || s.engagement === "NORMAL")).toBe(true);
    expect(out["ml-features"]).toHaveLength(n);
    expect(new Set(out["ml-features"]?.map((f) => f.ageGroup))).toEqual(new Set(["18-24", "25-34", "35-44", "45+", "unknown"]));
    // Clean generated data: nothing late, nothing dead-lettered.
    expect(out.late).toEqual([]);
    expect(out.dead).toEqual([]);
  });

  it("analytics gives the same results with LevelDB state (tiny cache: state is evicted and read back)", async () => {
    const outputs: string[][] = [];
    for (const level of [false, true]) {
      const c = await loadManifestJob(join(dir, "analytics.yaml"), { sinkOverride: "collect", maxRecordsPerSource: 2000 });
      const stateDir = await mkdtemp(join(tmpdir(), "runnel-pipeline-level-"));
      try {
        await createEngine({
          graph: c.graph,
          idleSleepMs: 0,
          batchSize: 250,
          ...(level ? { state: { kind: "level", dir: stateDir, maxCachedEntries: 50 } } : {}),
        }).run();
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
      outputs.push([...c.collected].flatMap(([id, sink]) => sink.values().map((v) => `${id} ${toJson(plain(v))}`)).sort());
    }
    expect(outputs[0]?.length).toBeGreaterThan(4000);
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it("risk: decisions, CEP takeover alerts and dead letters", async () => {
    const job = parseStreamJob(parseManifests(readFileSync(join(dir, "risk.yaml"), "utf8"))[0]).value;
    // A few users and mostly failed logins and IP changes, so account-takeover patterns occur.
    const behaviour = job.spec.pipeline?.sources.find((s) => s.id === "behaviour")?.local?.generator as GeneratorSource;
    behaviour.fields.userId = { kind: "key", prefix: "u", cardinality: 4 };
    behaviour.fields.type = { kind: "choice", values: ["login_fail", "ip_change", "login_ok"], weights: [5, 4, 1] };
    const c = compilePipeline(job, { mode: "local", baseDir: dir, sinkOverride: "collect", maxRecordsPerSource: 2000 });
    // Several rounds, so the rules (read in the first) are in place before the windows fire.
    const out = await run(c, 256);
    const decisions = out["decisions-out"] ?? [];
    expect(decisions.length).toBeGreaterThan(0);
    for (const d of decisions) expect(["BLOCK", "ALLOW"]).toContain(d.decision);
    // Rules from the broadcast source apply as they arrive: each decision names the first matching rule.
    const ruled = decisions.filter((d) => d.rule !== undefined);
    expect(ruled.length).toBeGreaterThan(0);
    for (const d of ruled)
      expect(
        d.rule === "block-risky" ? (d.risk as number) >= 0.8 && d.action === "BLOCK" : d.rule === "review-many-fails" && (d.loginFails30m as number) >= 3,
      ).toBe(true);
    expect(decisions.some((d) => d.rule === "old-rule")).toBe(false); // deleted at run time
    const alerts = out["alerts-out"] ?? [];
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect(a).toEqual({ userId: matching(/^u\d$/), alert: "ACCOUNT_TAKEOVER", fails: anyNumber, ipChanges: anyNumber });
      expect(a.fails as number).toBeGreaterThanOrEqual(6);
      expect(a.ipChanges as number).toBeGreaterThanOrEqual(4);
    }
    expect(out["dead-letters"]?.length).toBeGreaterThan(0);
  });

  it("recommendation: ranked lists to Redis and Kafka, profiles from a processing-time timer", async () => {
    const c = await loadManifestJob(join(dir, "recommendation.yaml"), { sinkOverride: "collect", maxRecordsPerSource: 400 });
    const out = await run(c, 50);
    const redis = out["redis-recs"] ?? [];
    expect(redis.length).toBeGreaterThan(0);
    expect(redis[0]).toMatchObject({ op: "zreplace", key: matching(/^recs:u\d+$/), ttlMs: 3_600_000 });
    expect((redis[0]?.members as unknown[]).length).toBeLessThanOrEqual(20);
    expect(out["kafka-recs"]?.length).toBe(redis.length);
    expect(out["kafka-recs"]?.[0]).toEqual({ userId: anyString, items: anyArray });
    const profiles = out.profiles ?? [];
    expect(profiles.length).toBeGreaterThan(0);
    expect(profiles[0]).toEqual({ userId: anyString, clicks: anyNumber, purchases: anyNumber, topTag: anyString });
    expect(profiles.some((p) => ["shoes", "phones", "books", "garden"].includes(p.topTag as string))).toBe(true);
  });
});
