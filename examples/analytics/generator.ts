/**
 * Data generator of the short-video analytics example: a user-behaviour stream (views, likes,
 * shares, comments of skewed users on skewed videos, with bursts, out-of-order, late and
 * malformed events), the user dimension (Redis hashes `user:<id>`, or users.ndjson for local runs)
 * and a revenue history for the lifetime-value query. Deterministic for a seed.
 *
 *   node examples/analytics/generator.ts --out examples/analytics/data --count 30000
 *   node examples/analytics/generator.ts --kafka kafka:9092 --redis redis:6379 --rate 2000 --realtime --count 0
 */
import { Redis } from "ioredis";
import { runMain, usage, parseOptions, type OptionSpec } from "../common/cli.ts";
import { GENERATOR_OPTIONS, generatorSettings, outputOf, stopSignal, type GeneratorSettings } from "../common/generator-options.ts";
import type { Output } from "../common/output.ts";
import { seededRandom, zipf } from "../common/random.ts";
import { timeline } from "../common/timeline.ts";

/** Topics (files) of the example. */
export const TOPICS = { behaviour: "user-behaviour", history: "revenue-history" } as const;
export const USERS_FILE = "users";
export const TYPES = ["view", "like", "share", "comment"] as const;
export const REGIONS = ["north", "south", "east", "west"] as const;
const AGE_GROUPS = ["18-24", "25-34", "35-44", "45+"] as const;
const COUNTRIES = ["NL", "DE", "FR", "ES", "PL"] as const;

/** The job's watermark bound and longest window (1 h OVER range): what disorder and lateness respect. */
export const BOUNDS = { watermarkBoundMs: 5_000, longestWindowMs: 3_600_000 };

/** How long before a late event's timestamp its user must have been inactive: the session gap and a margin. */
export const OFFLINE_MS = 30 * 60_000 + 10 * 60_000;

/** Options of this generator beyond the shared ones. */
export const OPTIONS: Record<string, OptionSpec> = {
  ...GENERATOR_OPTIONS,
  videos: { type: "integer", description: "number of videos", default: 5000 },
  history: { type: "integer", description: "revenue records of the 90 days before --start (the lifetime-value query's input)", default: 2000 },
  redis: { type: "string", description: "write the user dimension to this Redis (host:port) as hashes <prefix>user:<id>", placeholder: "host:port" },
  "redis-prefix": { type: "string", description: "prepended to the Redis keys", default: "" },
  "missing-users": { type: "number", description: "share of users without a dimension row", default: 0.1 },
};

/** A user's dimension row. */
export interface UserRow {
  key: string;
  ageGroup: string;
  country: string;
}

/** Everything the example's data is drawn from. */
export interface AnalyticsSettings extends GeneratorSettings {
  videos: number;
  history: number;
  missingUsers: number;
}

/** The dimension rows: most users have one, `missingUsers` of them none. */
export function userRows(s: AnalyticsSettings): UserRow[] {
  const r = seededRandom(s.seed).fork("users");
  const rows: UserRow[] = [];
  for (let i = 0; i < s.users; i++) {
    const missing = r.chance(s.missingUsers);
    const row = { key: `u${i}`, ageGroup: r.pick(AGE_GROUPS), country: r.pick(COUNTRIES) };
    if (!missing) rows.push(row);
  }
  return rows;
}

/** A malformed behaviour record (JSON unless `bytes` allows otherwise). */
function dirty(r: ReturnType<typeof seededRandom>, good: Record<string, unknown>, bytes: boolean): unknown {
  const kind = r.int(bytes ? 5 : 4);
  if (kind === 0) {
    const { userId: _drop, ...rest } = good;
    return rest;
  }
  if (kind === 1) return { ...good, userId: `user-${String(good.userId)}` };
  if (kind === 2) return { ...good, duration: -1 - r.int(100) };
  if (kind === 3) return { ...good, type: "skip" };
  return `{"userId": "${String(good.userId)}", "type": "view", "ts": `; // cut off: not JSON
}

/** Writes the behaviour stream (and, before it, the history); returns when `count` events are written or `stop` is set. */
export async function generate(s: AnalyticsSettings, out: Output, stop: { stopped: boolean } = { stopped: false }): Promise<void> {
  const root = seededRandom(s.seed);
  const hist = root.fork("history");
  const histUser = zipf(s.users, s.skew, hist);
  for (let i = 0; i < s.history; i++) {
    const ts = s.timeline.start - 90 * 86_400_000 + Math.floor((i * 90 * 86_400_000) / Math.max(1, s.history));
    const userId = `u${histUser()}`;
    const rec = hist.chance(s.dirtyShare) ? { userId, amount: -hist.between(0, 50), ts } : { userId, amount: hist.between(1, 100), ts };
    await out.write(TOPICS.history, userId, rec);
  }
  if (s.history > 0 && s.endTick) await out.tick(TOPICS.history, () => ({ tick: true, ts: s.timeline.start }));

  const r = root.fork("behaviour");
  const user = zipf(s.users, s.skew, r.fork("user-pick"));
  const video = zipf(s.videos, 1.0, r.fork("video-pick"));
  const next = timeline(s.timeline, r.fork("time"));
  let last = s.timeline.start;
  // When each user was last active: a late event comes from a device that was offline, so from a
  // user with no activity since well before its timestamp (it must not fall into a session that
  // is still open, which would take it in however late it is).
  const lastSeen = new Float64Array(s.users).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; s.count === 0 || i < s.count; i++) {
    if (stop.stopped) break;
    let t = next();
    last = Math.max(last, t.now);
    let u = user();
    if (t.kind === "late") {
      for (let tries = 0; tries < 50 && (lastSeen[u] as number) >= t.ts - OFFLINE_MS; tries++) u = user();
      if ((lastSeen[u] as number) >= t.ts - OFFLINE_MS) t = { now: t.now, ts: t.now, kind: "on-time" };
    }
    lastSeen[u] = Math.max(lastSeen[u] as number, t.now);
    const type = r.weighted(TYPES, [70, 15, 7, 8]);
    // Mostly the user's home region, sometimes travelling.
    const region = r.chance(0.9) ? (REGIONS[u % REGIONS.length] as string) : r.pick(REGIONS);
    const good = {
      eventId: `${s.idPrefix}e${i}`,
      userId: `u${u}`,
      videoId: `v${video()}`,
      type,
      region,
      duration: type === "view" ? r.between(3, 300) : r.between(0, 10),
      ts: t.ts,
    };
    const rec = r.chance(s.dirtyShare) ? dirty(r, good, s.kafka) : good;
    await out.write(TOPICS.behaviour, good.userId, rec);
  }
  // Far past the 1 h OVER range and 30 min sessions: every window of the job closes.
  if (s.endTick) await out.tick(TOPICS.behaviour, () => ({ tick: true, ts: last + 2 * BOUNDS.longestWindowMs }));
}

/** Writes the dimension rows as Redis hashes `<prefix>user:<id>` (in one pipeline per 1000 users). */
export async function writeUsersToRedis(rows: UserRow[], address: string, prefix: string): Promise<void> {
  const [host, port] = address.split(":");
  const redis = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    for (let i = 0; i < rows.length; i += 1000) {
      const pipe = redis.pipeline();
      for (const row of rows.slice(i, i + 1000)) pipe.hset(`${prefix}user:${row.key}`, { ageGroup: row.ageGroup, country: row.country });
      await pipe.exec();
    }
  } finally {
    await redis.quit();
  }
}

const HELP = usage(
  "node examples/analytics/generator.ts",
  "Generates the short-video analytics example's input: user behaviour, the user dimension and a revenue history.",
  OPTIONS,
  "Writes user-behaviour and revenue-history (files <topic>.ndjson with --out, topics with --kafka),\nand the user dimension (users.ndjson with --out; Redis hashes with --redis).",
);

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  const s: AnalyticsSettings = {
    ...generatorSettings(values, BOUNDS),
    videos: Math.max(1, values.videos as number),
    history: values.history as number,
    missingUsers: Math.min(1, Math.max(0, values["missing-users"] as number)),
  };
  const rows = userRows(s);
  const out = await outputOf(values, "analytics generator");
  try {
    if (values.out !== undefined) for (const row of rows) await out.write(USERS_FILE, row.key, row);
    if (values.redis !== undefined) await writeUsersToRedis(rows, values.redis as string, values["redis-prefix"] as string);
    await generate(s, out, stopSignal());
  } finally {
    await out.close();
  }
  return 0;
}

if (import.meta.main) await runMain("node examples/analytics/generator.ts", HELP, main);
