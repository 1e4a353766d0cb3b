/**
 * The analytics statements and the lifetime-value batch query on the real broker, run by
 * `runnel worker` processes from a StreamJob whose spec is the SQL script (with its tables' WITH
 * options pointed at this test's topics, nothing else changed). Every output topic is read with
 * Kafka's own Java consumer in read_committed isolation and compared with the independent
 * computation of test/helpers/sql-analytics.ts over the same input.
 */
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Partitioners } from "kafkajs";
import { afterAll, describe, expect, it } from "vitest";
import { logTail, startWorker, stopGracefully, testJobName, type CountJob, type WorkerProcess } from "../helpers/distributed.ts";
import { testEnv } from "../helpers/env.ts";
import { readCommittedWithJava, type JavaRecord } from "../helpers/java-consumer.ts";
import { KEEP_TEST_DATA, kafkaAdminHooks } from "../helpers/kafka.ts";
import {
  analyticsReference,
  behaviourEvents,
  fixture,
  iso,
  ltvReference,
  normalise,
  purchases,
  sorted,
  userRows,
  withOptions,
} from "../helpers/sql-analytics.ts";

const brokers = (): string => testEnv().kafkaBrokers.join(",");
const kafkaTable = (topic: string, extra: Record<string, string> = {}): Record<string, string> => ({
  connector: "kafka",
  topic,
  "properties.bootstrap.servers": brokers(),
  "scan.startup.mode": "earliest-offset",
  format: "json",
  ...extra,
});
const upsertTable = (topic: string): Record<string, string> => ({
  connector: "upsert-kafka",
  topic,
  "properties.bootstrap.servers": brokers(),
  "key.format": "raw",
  "value.format": "json",
});

/** Writes a manifest whose spec is `spec` (YAML lines) into a fresh folder. */
function manifest(name: string, spec: string): Pick<CountJob, "dir" | "manifest"> {
  const dir = mkdtempSync(join(tmpdir(), `runnel-${name.slice(0, 8)}-`));
  const path = join(dir, "job.yaml");
  writeFileSync(path, `apiVersion: runnel.dev/v1alpha1\nkind: StreamJob\nmetadata: { name: ${name} }\nspec:\n${spec}`);
  return { dir, manifest: path };
}

/** The YAML block scalar of a script. */
function block(sql: string): string {
  return `  sql: |\n${sql
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}\n`;
}

/** Reads a topic with the Java consumer until `done` accepts its records (missing records arrive later; nothing is ever removed). */
async function readUntil(topic: string, done: (records: JavaRecord[]) => boolean, workers: WorkerProcess[], timeoutMs = 600_000): Promise<JavaRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await readCommittedWithJava(topic, { idleMs: 4000 });
    if (done(records)) return records;
    if (Date.now() > deadline) throw new Error(`${topic}: ${records.length} records after ${timeoutMs} ms\n${workers.map((w) => logTail(w)).join("\n---\n")}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

const values = (records: JavaRecord[]): Record<string, unknown>[] => records.map((r) => JSON.parse(r.value) as Record<string, unknown>);

describe("the analytics SQL on Kafka (runnel worker processes, real broker)", () => {
  const k = kafkaAdminHooks();
  const workers: WorkerProcess[] = [];
  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) await stopGracefully(w);
  });

  it("the five statements: every output topic equals the independent computation", async () => {
    const { kafka, admin } = k;
    const name = testJobName("sqlan");
    const t = (s: string): string => `${name}-${s}`;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: t("behaviors"), numPartitions: 2, configEntries: KEEP_TEST_DATA },
        { topic: t("users"), numPartitions: 1, configEntries: [{ name: "cleanup.policy", value: "compact" }] },
        ...["stats", "sessions", "features", "metrics"].map((s) => ({ topic: t(s), numPartitions: 2, configEntries: KEEP_TEST_DATA })),
        { topic: t("profiles"), numPartitions: 2, configEntries: [{ name: "cleanup.policy", value: "compact" }] },
      ],
    });
    const { events, times } = behaviourEvents(1500, { spanMin: 120 });
    // One event per partition two hours later: the watermark moves past every real window.
    const sentinelTs = Math.max(...times) + 2 * 3_600_000;
    const sentinels = [0, 1].map((p) => ({ user_id: `sentinel-${p}`, video_id: "v0", event_type: "view", properties: {}, ts: iso(sentinelTs) }));
    const dim = userRows();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    await producer.send({ topic: t("users"), messages: dim.map((d) => ({ key: d.user_id, value: JSON.stringify(d) })) });
    await producer.send({ topic: t("behaviors"), messages: events.map((e, i) => ({ partition: i % 2, value: JSON.stringify(e) })) });
    await producer.send({ topic: t("behaviors"), messages: sentinels.map((e, p) => ({ partition: p, value: JSON.stringify(e) })) });
    await producer.disconnect();

    const sql = withOptions(fixture("analytics.sql"), {
      user_behaviors: kafkaTable(t("behaviors"), { "json.timestamp-format.standard": "ISO-8601", "properties.group.id": "video-analytics" }),
      user_dim: upsertTable(t("users")),
      user_behavior_stats: kafkaTable(t("stats")),
      user_profiles: upsertTable(t("profiles")),
      user_sessions: kafkaTable(t("sessions")),
      ml_features: kafkaTable(t("features")),
      realtime_metrics: kafkaTable(t("metrics")),
    });
    const job = manifest(name, `  parallelism: 2\n${block(sql)}`);
    workers.push(startWorker(job, 0, 2), startWorker(job, 1, 2));

    const allEvents = [...events, ...sentinels];
    const allTimes = [...times, sentinelTs, sentinelTs];
    const ref = analyticsReference(allEvents, allTimes, dim, sentinelTs - 5001);
    const check = async (topic: string, table: string, expected: unknown[]): Promise<void> => {
      const got = await readUntil(t(topic), (r) => r.length >= expected.length, workers);
      expect(sorted(values(got).map((r) => normalise(table, r)))).toEqual(sorted(expected));
    };
    await check("stats", "stats", ref.stats);
    await check("sessions", "sessions", ref.sessions);
    await check("features", "features", ref.features);
    await check("metrics", "metrics", ref.metrics);
    // The upsert topic: what a reader keeps per key (the latest record, as compaction leaves it).
    const profiles = await readUntil(
      t("profiles"),
      (r) => {
        const last = new Map(r.map((x) => [x.key, x.value]));
        return ref.profiles.every((p) => {
          const v = last.get(p.user_id);
          return v !== undefined && (JSON.parse(v) as { total_events: number }).total_events === p.total_events;
        });
      },
      workers,
    );
    const latest = new Map<string | null, string>();
    for (const r of profiles) latest.set(r.key, r.value);
    expect(sorted([...latest.values()].map((v) => normalise("profiles", JSON.parse(v) as Record<string, unknown>)))).toEqual(sorted(ref.profiles));
    // Each key's records are in one partition, in update order: counts only grow.
    const byKey = new Map<string | null, number[]>();
    for (const r of profiles) byKey.set(r.key, [...(byKey.get(r.key) ?? []), (JSON.parse(r.value) as { total_events: number }).total_events]);
    for (const counts of byKey.values()) expect(counts).toEqual([...counts].sort((a, b) => a - b));
  }, 900_000);

  it("the lifetime-value query over a topic range runs as a batch, ends, and equals the independent computation", async () => {
    const { kafka, admin } = k;
    const name = testJobName("sqlltv");
    const [input, output] = [`${name}-purchases`, `${name}-ltv`];
    await admin.createTopics({ waitForLeaders: true, topics: [input, output].map((topic) => ({ topic, numPartitions: 1, configEntries: KEEP_TEST_DATA })) });
    const history = purchases(300);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: input, messages: history.map((p) => ({ value: JSON.stringify(p) })) });
    await producer.disconnect();
    const sql = withOptions(fixture("ltv.sql"), {
      purchases: kafkaTable(input, { "scan.bounded.mode": "latest-offset" }),
      user_ltv: kafkaTable(output),
    });
    // A spec holding only the SQL: brokers come from the tables' options.
    const job = manifest(name, block(sql));
    const w = startWorker(job, 0, 1);
    workers.push(w);
    const code = await Promise.race([w.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 480_000))]);
    expect(code, logTail(w)).toBe(0);
    const ref = ltvReference(history);
    const got = await readUntil(output, (r) => r.length >= ref.length, workers);
    expect(got).toHaveLength(ref.length);
    expect(sorted(values(got).map((r) => normalise("ltv", r)))).toEqual(sorted(ref));
  }, 600_000);
});
