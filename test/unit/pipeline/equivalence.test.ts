/** Declarative pipelines and hand-written typed-API jobs give the same output on the same input. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  avg,
  collect,
  collectSink,
  combine,
  count,
  countDistinct,
  job,
  session,
  sliding,
  sum,
  tumbling,
  type KeyedBroadcastProcessFunction,
  type KeyedProcessFunction,
} from "../../../runtime/api/index.ts";
import { collectionSource } from "../../../runtime/connectors/memory.ts";
import { compileDoc, eventsSource, eventsSourceSpec, runGraph, runPipeline, sortedLines, streamJob, type Event } from "./helpers.ts";

const source = eventsSourceSpec;
const wm = { timestamp: (e: Event) => e.ts, maxOutOfOrdernessMs: 2000 };

/** Runs the declarative pipeline and returns the `out` sink's records. */
async function declarative(name: string, steps: object[], extra: { sources?: object[] } = {}): Promise<string[]> {
  const c = await compileDoc(
    streamJob(name, {
      sources: [source, ...(extra.sources ?? [])],
      steps,
      sinks: [{ id: "out", input: (steps.at(-1) as { id: string }).id, kafka: { topic: "out" } }],
    }),
  );
  const out = await runPipeline(c);
  return sortedLines(out.out ?? []);
}

/** Runs a typed job built on the same generated events. */
async function typed(
  build: (events: ReturnType<ReturnType<typeof job>["source"]>, j: ReturnType<typeof job>) => { sink(s: ReturnType<typeof collectSink<unknown>>): unknown },
): Promise<string[]> {
  const j = job("typed");
  const sink = collectSink<unknown>();
  build(j.source(eventsSource(), { watermarks: wm as never }), j).sink(sink);
  await runGraph(j.build());
  return sortedLines(sink.values());
}

describe("declarative = typed API", () => {
  it("filter + project with arithmetic", async () => {
    const d = await declarative("q-filter", [
      { id: "big", input: "events", filter: { condition: "record.amount > 50.0 && record.type != 'share'" } },
      { id: "shaped", input: "big", project: { fields: { user: "record.user", cents: "int(record.amount * 100.0)", kind: "record.type.upperAscii()" } } },
    ]);
    const t = await typed((s) =>
      s
        .filter((e) => (e as Event).amount > 50 && (e as Event).type !== "share")
        .map((e) => ({ user: (e as Event).user, cents: Math.trunc((e as Event).amount * 100), kind: (e as Event).type.toUpperCase() })),
    );
    expect(d.length).toBeGreaterThan(500);
    expect(d).toEqual(t);
  });

  it("keyed tumbling count, sum, avg and countDistinct", async () => {
    const d = await declarative("q-tumbling", [
      { id: "by-type", input: "events", keyBy: { key: "record.type" } },
      {
        id: "per-10s",
        input: "by-type",
        window: {
          type: "tumbling",
          size: "10s",
          aggregations: [
            { name: "events", fn: "count" },
            { name: "total", fn: "sum", of: "record.amount" },
            { name: "mean", fn: "avg", of: "record.amount" },
            { name: "users", fn: "countDistinct", of: "record.user" },
          ],
        },
      },
    ]);
    const t = await typed((s) =>
      s
        .keyBy((e) => (e as Event).type)
        .window(tumbling({ sizeMs: 10_000 }))
        .aggregate(
          combine({
            events: count<Event>(),
            total: sum((e: Event) => e.amount),
            mean: avg((e: Event) => e.amount),
            users: countDistinct((e: Event) => e.user),
          }),
          (r: Record<string, unknown>, i) => ({ key: i.key, windowStart: i.window.start, windowEnd: i.window.end, ...r }),
        ),
    );
    expect(d.length).toBeGreaterThan(10);
    expect(d).toEqual(t);
  });

  it("sliding window count per user", async () => {
    const d = await declarative("q-sliding", [
      { id: "by-user", input: "events", keyBy: { key: "record.user" } },
      {
        id: "hot",
        input: "by-user",
        window: {
          type: "sliding",
          size: "20s",
          slide: "5s",
          aggregations: [{ name: "n", fn: "count" }],
          select: { user: "key", end: "window.end", n: "record.n" },
        },
      },
    ]);
    const t = await typed((s) =>
      s
        .keyBy((e) => (e as Event).user)
        .window(sliding({ sizeMs: 20_000, slideMs: 5_000 }))
        .aggregate(count(), (n, i) => ({ user: i.key, end: i.window.end, n })),
    );
    expect(d.length).toBeGreaterThan(100);
    expect(d).toEqual(t);
  });

  it("session windows with a classification", async () => {
    const d = await declarative("q-session", [
      { id: "by-user", input: "events", keyBy: { key: "record.user" } },
      {
        id: "sessions",
        input: "by-user",
        window: {
          type: "session",
          gap: "1s",
          aggregations: [
            { name: "types", fn: "collect", of: "record.type", distinct: true },
            { name: "events", fn: "count" },
          ],
          select: {
            user: "key",
            start: "window.start",
            events: "record.events",
            engagement: "['view', 'like', 'share'].all(t, t in record.types) ? 'HIGH' : 'NORMAL'",
          },
        },
      },
    ]);
    const t = await typed((s) =>
      s
        .keyBy((e) => (e as Event).user)
        .window(session({ gapMs: 1000 }))
        .aggregate(combine({ types: collect((e: Event) => e.type), events: count<Event>() }), (r: { types: string[]; events: number }, i) => ({
          user: i.key,
          start: i.window.start,
          events: r.events,
          engagement: ["view", "like", "share"].every((x) => r.types.includes(x)) ? "HIGH" : "NORMAL",
        })),
    );
    expect(d.some((l) => l.includes("HIGH"))).toBe(true);
    expect(d).toEqual(t);
  });

  it("dedup per key within a time span", async () => {
    const d = await declarative("q-dedup", [
      { id: "by-user", input: "events", keyBy: { key: "record.user" } },
      { id: "first-type", input: "by-user", dedup: { key: "record.type", within: "30s" } },
    ]);
    const t = await typed((s) =>
      s
        .keyBy((e) => `${(e as Event).user}\u0000${(e as Event).type}`)
        .process((rt): KeyedProcessFunction<string, unknown, unknown> => {
          const seen = rt.valueState<number>({ name: "seen" });
          return {
            processElement(e, c, out) {
              const first = seen.value();
              if (first !== undefined && c.timestamp() >= first && c.timestamp() - first < 30_000) return;
              seen.update(c.timestamp());
              out.collect(e);
            },
          };
        }),
    );
    expect(d.length).toBeLessThan(3000);
    expect(d.length).toBeGreaterThan(100);
    expect(d).toEqual(t);
  });

  it("OVER aggregation over the preceding range", async () => {
    const d = await declarative("q-over", [
      { id: "by-user", input: "events", keyBy: { key: "record.user" } },
      {
        id: "features",
        input: "by-user",
        over: {
          range: "30s",
          aggregations: [
            { name: "n30s", fn: "count" },
            { name: "spent30s", fn: "sum", of: "record.amount" },
          ],
        },
      },
    ]);
    const t = await typed((s) =>
      s
        .keyBy((e) => (e as Event).user)
        .over({
          rangeMs: 30_000,
          aggregate: combine({ n30s: count<Event>(), spent30s: sum((e: Event) => e.amount) }),
          select: (e, r) => ({ ...(e as Event), ...(r as object) }),
        }),
    );
    expect(d.length).toBe(3000);
    expect(d).toEqual(t);
  });

  it("broadcast rules filter records with rules given at run time", async () => {
    const rules = [
      { id: "r1", type: "share", min: 20, action: "FLAG" },
      { id: "r2", type: "like", min: 90, action: "REVIEW" },
    ];
    const rulesSource = { id: "rules", mode: "broadcast", kafka: { topic: "rules" }, local: { file: { path: "rules.ndjson" } } };
    const dir = await mkdtemp(join(tmpdir(), "runnel-rules-"));
    try {
      await writeFile(join(dir, "rules.ndjson"), rules.map((r) => JSON.stringify(r)).join("\n"));
      const doc = streamJob("q-rules", {
        sources: [source, rulesSource],
        steps: [
          { id: "by-user", input: "events", keyBy: { key: "record.user" } },
          {
            id: "flagged",
            input: "by-user",
            broadcastRules: {
              rules: "rules",
              condition: "record.type == rule.type && record.amount >= double(rule.min)",
              emit: { user: "key", rule: "rule.id", action: "rule.action", amount: "record.amount" },
            },
          },
        ],
        sinks: [{ id: "out", input: "flagged", kafka: { topic: "out" } }],
      });
      // Small batches: the rules (read in the first round) apply from the second round on, in both jobs.
      const out = await runPipeline(await compileDoc(doc, dir), 64);
      const d = sortedLines(out.out ?? []);
      const j = job("typed-rules");
      const sink = collectSink<unknown>();
      const ev = j.source(eventsSource(), { watermarks: wm as never });
      const rs = j.source(collectionSource({ partitions: [rules] }), { watermarks: { timestamp: () => Date.now() } });
      ev.keyBy((e) => (e as Event).user)
        .connect(rs.broadcast())
        .process((): KeyedBroadcastProcessFunction<string, unknown, (typeof rules)[number], unknown> => ({
          processElement(e, c, o) {
            const x = e as Event;
            const sorted = [...c.broadcastState<(typeof rules)[number]>("rules")].sort((a, b) => (a[0] < b[0] ? -1 : 1));
            const hit = sorted.find(([, r]) => x.type === r.type && x.amount >= r.min);
            if (hit) o.collect({ user: x.user, rule: hit[1].id, action: hit[1].action, amount: x.amount });
          },
          processBroadcastElement(r, c) {
            c.broadcastState<(typeof rules)[number]>("rules").set(r.id, r);
          },
        }))
        .sink(sink);
      await runGraph(j.build(), 64);
      const t = sortedLines(sink.values());
      expect(d.length).toBeGreaterThan(20);
      expect(d).toEqual(t);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
