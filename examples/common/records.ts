/**
 * What a verifier reads: the generated input (files or topics, in each partition's order) and
 * what a job wrote — `runnel run --out` folders (one per sink, committed part files only), Kafka
 * topics read committed, and Redis keys.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { readTopic, type Cluster } from "./kafka.ts";

/** One input record in its partition's order. */
export interface InputRecord {
  partition: number;
  /** The parsed object; undefined when the bytes are not a JSON object (a poison record). */
  value: Record<string, unknown> | undefined;
  raw: string;
}

/** One record a job wrote. */
export interface OutputRecord {
  /** Kafka partition (files: the task's part files, in order). */
  partition: number;
  key: string | null;
  value: Record<string, unknown>;
  headers: Record<string, string>;
  /** Raw value (dead letters keep the original bytes). */
  raw: string;
}

/** Where the data lives. */
export type Location = { kind: "files"; inputDir: string; outputDir: string } | { kind: "kafka"; kafka: Cluster; topicPrefix: string };

function parseObject(raw: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The records of an input topic (file `<inputDir>/<topic>.ndjson`: one partition). */
export async function readInput(loc: Location, topic: string): Promise<InputRecord[]> {
  if (loc.kind === "files") {
    const file = join(loc.inputDir, `${topic}.ndjson`);
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.trim().length > 0)
      .map((raw) => ({ partition: 0, raw, value: parseObject(raw) }));
  }
  const records = await readTopic(loc.kafka, loc.topicPrefix + topic, { idleMs: 5_000 });
  return records.map((r) => {
    const raw = r.value?.toString("utf8") ?? "";
    return { partition: r.partition, raw, value: parseObject(raw) };
  });
}

/** What a sink wrote: its `--out` folder (by sink id) or its topic, read committed. */
export async function readOutput(loc: Location, sink: { id: string; topic?: string }): Promise<OutputRecord[]> {
  if (loc.kind === "files") {
    const dir = join(loc.outputDir, sink.id);
    if (!existsSync(dir)) return [];
    // part-<uid>-<task>-<epoch>.ndjson: by name is by task, then epoch.
    const files = readdirSync(dir)
      .filter((f) => f.startsWith("part-") && f.endsWith(".ndjson"))
      .sort();
    const out: OutputRecord[] = [];
    for (const f of files) {
      const task = Number(/-(\d+)-\d+\.ndjson$/.exec(f)?.[1] ?? 0);
      for (const raw of readFileSync(join(dir, f), "utf8").split("\n")) {
        if (raw.trim().length === 0) continue;
        out.push({ partition: task, key: null, value: parseObject(raw) ?? {}, headers: {}, raw });
      }
    }
    return out;
  }
  if (sink.topic === undefined) throw new Error(`sink ${sink.id} writes no Kafka topic`);
  const records = await readTopic(loc.kafka, loc.topicPrefix + sink.topic);
  return records.map((r) => {
    const raw = r.value?.toString("utf8") ?? "";
    return { partition: r.partition, key: r.key, value: parseObject(raw) ?? {}, headers: r.headers, raw };
  });
}

/** Every key under a prefix (without the `#version` companions) with its type's contents. */
export async function readRedis(
  redis: Redis,
  prefix: string,
  kind: "hash" | "zset",
): Promise<Map<string, { value: Record<string, string> | [string, number][]; ttlMs: number; version: string | null }>> {
  const out = new Map<string, { value: Record<string, string> | [string, number][]; ttlMs: number; version: string | null }>();
  let cursor = "0";
  const keys: string[] = [];
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch.filter((k) => !k.endsWith("#version")));
  } while (cursor !== "0");
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const pipe = redis.pipeline();
    for (const k of chunk) {
      if (kind === "hash") pipe.hgetall(k);
      else pipe.zrevrange(k, 0, -1, "WITHSCORES");
      pipe.pttl(k);
      pipe.get(`${k}#version`);
    }
    const res = (await pipe.exec()) ?? [];
    chunk.forEach((k, j) => {
      const [, v] = res[3 * j] as [Error | null, unknown];
      const [, ttl] = res[3 * j + 1] as [Error | null, number];
      const [, version] = res[3 * j + 2] as [Error | null, string | null];
      let value: Record<string, string> | [string, number][];
      if (kind === "hash") value = v as Record<string, string>;
      else {
        const flat = v as string[];
        const pairs: [string, number][] = [];
        for (let x = 0; x < flat.length; x += 2) pairs.push([flat[x] as string, Number(flat[x + 1])]);
        value = pairs;
      }
      out.set(k.slice(prefix.length), { value, ttlMs: ttl, version });
    });
  }
  return out;
}

/**
 * The state a Redis sink leaves, from the writes `runnel run` logged for it ({op, key, …, version}
 * per line): each write applied in order with the sink's version guard.
 */
export function replayRedisWrites(
  writes: OutputRecord[],
  prefix: string,
): Map<string, { value: Record<string, string> | [string, number][]; version: number | null }> {
  const state = new Map<string, { value: Record<string, string> | [string, number][]; version: number | null }>();
  for (const { value: w } of writes) {
    const key = String(w.key);
    if (!key.startsWith(prefix)) continue;
    const k = key.slice(prefix.length);
    const cur = state.get(k);
    const version = typeof w.version === "number" ? w.version : null;
    if (version !== null && cur?.version !== null && cur?.version !== undefined && cur.version > version) continue;
    if (w.op === "hset") {
      const fields = { ...((cur?.value as Record<string, string> | undefined) ?? {}), ...(w.fields as Record<string, string>) };
      state.set(k, { value: fields, version: version ?? cur?.version ?? null });
    } else {
      const members = (w.members as { member: string; score: number }[]).map((m): [string, number] => [m.member, m.score]);
      const base = w.op === "zreplace" ? [] : ((cur?.value as [string, number][] | undefined) ?? []).filter(([m]) => !members.some(([x]) => x === m));
      const all = [...base, ...members].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
      const max = typeof w.maxSize === "number" ? w.maxSize : undefined;
      state.set(k, { value: max === undefined ? all : all.slice(0, max), version: version ?? cur?.version ?? null });
    }
  }
  return state;
}
