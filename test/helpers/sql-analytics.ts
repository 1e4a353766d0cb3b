/**
 * The analytics system's SQL (test/fixtures/sql) with its input and an independent reference:
 * deterministic user-behaviour events, a user dimension table and purchase history, and what
 * each statement must produce, computed here in plain TypeScript (never through the runtime).
 * The scripts run as written for Flink; only their tables' WITH options are swapped
 * (`withOptions`) for local files or the test broker's topics.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES = join(import.meta.dirname, "../fixtures/sql");

/** Event time of the first event. */
export const T0 = Date.UTC(2026, 0, 1);

/** A seeded generator (mulberry32): the same seed gives the same data everywhere. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A user-behaviour event as it travels in JSON. */
export interface BehaviourEvent {
  user_id: string;
  video_id: string;
  event_type: string;
  properties: Record<string, string>;
  ts: string;
}

/** A dimension row. */
export interface UserRow {
  user_id: string;
  age_group: string;
  region: string;
  vip: boolean;
}

const TYPES = ["view", "view", "view", "like", "share", "comment"];

/** ISO-8601 text of epoch ms, as 'json.timestamp-format.standard' = 'ISO-8601' reads it. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "");
}

/** Parses a timestamp a sink wrote ('2026-01-01 00:01:00.5' or ISO-8601) back to epoch ms. */
export function ms(text: unknown): number {
  return Date.parse(`${String(text).replace(" ", "T")}Z`);
}

/**
 * `n` events over about `spanMin` minutes for `users` users, with up to 3 s of disorder (less
 * than the 5 s watermark delay, so nothing is late) and bursts with gaps, so sessions split.
 */
export function behaviourEvents(n: number, options: { users?: number; spanMin?: number; seed?: number } = {}): { events: BehaviourEvent[]; times: number[] } {
  const rnd = random(options.seed ?? 7);
  const users = options.users ?? 40;
  const span = (options.spanMin ?? 150) * 60_000;
  const step = span / n;
  const events: BehaviourEvent[] = [];
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    // Skewed activity (low ids often, high ids rarely), and each user idle in every third
    // 40-minute slice, so sessions end and start again.
    const base = T0 + Math.floor(i * step);
    const slice = Math.floor((base - T0) / 2_400_000);
    let u = Math.floor(users * rnd() ** 3);
    while ((slice + u) % 3 === 0) u = (u + 1) % users;
    const ts = Math.max(T0, base - Math.floor(rnd() * 3000));
    const type = TYPES[Math.floor(rnd() * TYPES.length)] as string;
    const properties: Record<string, string> = {};
    if (type === "view" || rnd() < 0.3) properties.duration = (Math.round(rnd() * 3000) / 10).toFixed(1);
    if (rnd() < 0.2) properties.device = rnd() < 0.5 ? "ios" : "android";
    events.push({ user_id: `u${u}`, video_id: `v${Math.floor(rnd() * 200)}`, event_type: type, properties, ts: iso(ts) });
    times.push(ts);
  }
  return { events, times };
}

/** The dimension table: users u0..u(known-1) (later users have no row). */
export function userRows(known = 32): UserRow[] {
  const ages = ["18-24", "25-34", "35-44", "45+"];
  const regions = ["north", "south", "east", "west"];
  return Array.from({ length: known }, (_, i) => ({
    user_id: `u${i}`,
    age_group: ages[i % 4] as string,
    region: regions[(i * 7) % 4] as string,
    vip: i % 5 === 0,
  }));
}

/** Replaces the WITH (...) options of each named table in a script; nothing else changes. */
export function withOptions(sql: string, options: Record<string, Record<string, string>>): string {
  return sql.replace(/(CREATE TABLE\s+(\w+)\s*\([\s\S]*?\)\s*WITH\s*)\(([^)]*)\)/g, (whole, head: string, name: string) => {
    const o = options[name];
    if (!o) return whole;
    return `${head}(\n${Object.entries(o)
      .map(([k, v]) => `  '${k}' = '${v}'`)
      .join(",\n")}\n)`;
  });
}

/** WITH options of a table over a local ndjson file (or folder of files, for a sink). */
export function fileTable(path: string, extra: Record<string, string> = {}): Record<string, string> {
  return { connector: "filesystem", path, format: "json", ...extra };
}

/** The fixture scripts. */
export function fixture(name: "analytics.sql" | "ltv.sql"): string {
  return readFileSync(join(FIXTURES, name), "utf8");
}

// ---------------------------------------------------------------------------------------------
// The reference: each statement computed directly over the input events.

const round = (x: number, d = 6): number => Math.round(x * 10 ** d) / 10 ** d;
const duration = (e: BehaviourEvent): number | null => (e.properties.duration === undefined ? null : Number(e.properties.duration));

/** What the analytics statements must produce; results whose window closes after `watermark` are left out. */
export function analyticsReference(events: BehaviourEvent[], times: number[], dim: UserRow[], watermark = Number.POSITIVE_INFINITY) {
  const dimOf = new Map(dim.map((d) => [d.user_id, d]));
  const rows = events.map((e, i) => ({ e, t: times[i] as number }));

  // 1. Per minute and type.
  const perMinute = new Map<string, { start: number; type: string; n: number; users: Set<string>; dSum: number; dN: number }>();
  for (const { e, t } of rows) {
    const start = t - (t % 60_000);
    const k = `${start}|${e.event_type}`;
    const s = perMinute.get(k) ?? { start, type: e.event_type, n: 0, users: new Set(), dSum: 0, dN: 0 };
    s.n++;
    s.users.add(e.user_id);
    const d = duration(e);
    if (d !== null) {
      s.dSum += d;
      s.dN++;
    }
    perMinute.set(k, s);
  }
  const stats = [...perMinute.values()]
    .filter((s) => s.start + 60_000 - 1 <= watermark)
    .map((s) => ({
      window_start: s.start,
      window_end: s.start + 60_000,
      event_type: s.type,
      event_count: s.n,
      unique_users: s.users.size,
      avg_duration: s.dN ? round(s.dSum / s.dN) : null,
    }));

  // 2. Profiles: each user's final row.
  const profiles = new Map<
    string,
    { user_id: string; total_events: number; view_count: number; like_count: number; share_count: number; total_duration: number; last_active: number }
  >();
  for (const { e, t } of rows) {
    const p = profiles.get(e.user_id) ?? {
      user_id: e.user_id,
      total_events: 0,
      view_count: 0,
      like_count: 0,
      share_count: 0,
      total_duration: 0,
      last_active: 0,
    };
    p.total_events++;
    if (e.event_type === "view") p.view_count++;
    if (e.event_type === "like") p.like_count++;
    if (e.event_type === "share") p.share_count++;
    p.total_duration += duration(e) ?? 0;
    p.last_active = Math.max(p.last_active, t);
    profiles.set(e.user_id, p);
  }
  for (const p of profiles.values()) p.total_duration = round(p.total_duration);

  // 3. Sessions: a user's events within 30 minutes of each other (in time order) form one.
  const byUser = new Map<string, { e: BehaviourEvent; t: number }[]>();
  for (const r of rows) byUser.set(r.e.user_id, [...(byUser.get(r.e.user_id) ?? []), r]);
  const sessions: { user_id: string; session_start: number; session_end: number; event_count: number; engagement: string }[] = [];
  const gap = 30 * 60_000;
  for (const [user, list] of byUser) {
    const sorted = [...list].sort((a, b) => a.t - b.t);
    let cur: { start: number; last: number; n: number; types: Set<string> } | undefined;
    const close = (): void => {
      if (!cur) return;
      const end = cur.last + gap;
      if (end - 1 <= watermark) {
        const high = ["view", "like", "share"].every((x) => cur?.types.has(x));
        sessions.push({ user_id: user, session_start: cur.start, session_end: end, event_count: cur.n, engagement: high ? "HIGH_ENGAGEMENT" : "NORMAL" });
      }
    };
    for (const { e, t } of sorted) {
      if (cur && t < cur.last + gap) {
        cur.last = t;
        cur.n++;
        cur.types.add(e.event_type);
      } else {
        close();
        cur = { start: t, last: t, n: 1, types: new Set([e.event_type]) };
      }
    }
    close();
  }

  // 4. One-hour OVER features (rows up to the watermark are emitted), joined with the dimension.
  const features = rows
    .filter(({ t }) => t <= watermark)
    .map(({ e, t }) => {
      const win = (byUser.get(e.user_id) ?? []).filter((r) => r.t >= t - 3_600_000 && r.t <= t);
      const ds = win.map((r) => duration(r.e)).filter((d): d is number => d !== null);
      const d = dimOf.get(e.user_id);
      return {
        user_id: e.user_id,
        ts: t,
        events_1h: win.length,
        views_1h: win.filter((r) => r.e.event_type === "view").length,
        avg_duration_1h: ds.length ? round(ds.reduce((a, b) => a + b, 0) / ds.length) : null,
        age_group: d?.age_group ?? "unknown",
        vip: d?.vip ?? false,
      };
    });

  // 5. Five seconds by type and region.
  const five = new Map<string, { start: number; type: string; region: string; n: number; users: Set<string>; vip: number }>();
  for (const { e, t } of rows) {
    const start = t - (t % 5000);
    const d = dimOf.get(e.user_id);
    const region = d?.region ?? "unknown";
    const k = `${start}|${e.event_type}|${region}`;
    const m = five.get(k) ?? { start, type: e.event_type, region, n: 0, users: new Set(), vip: 0 };
    m.n++;
    m.users.add(e.user_id);
    if (d?.vip) m.vip++;
    five.set(k, m);
  }
  const metrics = [...five.values()]
    .filter((m) => m.start + 5000 - 1 <= watermark)
    .map((m) => ({
      window_start: m.start,
      window_end: m.start + 5000,
      event_type: m.type,
      region: m.region,
      event_count: m.n,
      unique_users: m.users.size,
      vip_events: m.vip,
    }));

  return { stats, profiles: [...profiles.values()], sessions, features, metrics };
}

/** A purchase of the history table. */
export interface Purchase {
  order_id: string;
  user_id: string;
  amount: number;
  order_time: string;
}

/** Purchase history: amounts with cents, over several days (timestamps in Flink's 'SQL' text form). */
export function purchases(n: number, seed = 11): Purchase[] {
  const rnd = random(seed);
  return Array.from({ length: n }, (_, i) => {
    const t = T0 + Math.floor(rnd() * 30 * 86_400_000);
    return { order_id: `o${i}`, user_id: `u${Math.floor(rnd() * 60)}`, amount: Math.round(rnd() * 30000) / 100, order_time: iso(t).replace("T", " ") };
  });
}

/** The LTV query's result: users whose purchases add up to more than 500. */
export function ltvReference(history: Purchase[]) {
  const by = new Map<string, { cents: number; n: number; first: number; last: number }>();
  for (const p of history) {
    const t = ms(p.order_time);
    const u = by.get(p.user_id) ?? { cents: 0, n: 0, first: t, last: t };
    u.cents += Math.round(p.amount * 100);
    u.n++;
    u.first = Math.min(u.first, t);
    u.last = Math.max(u.last, t);
    by.set(p.user_id, u);
  }
  return [...by.entries()]
    .filter(([, u]) => u.cents > 50_000)
    .map(([user, u]) => {
      // AVG of DECIMAL(10, 2) is DECIMAL(38, 6) (half up), then written to DECIMAL(12, 2) (half up).
      const micro = Math.round((u.cents * 10_000) / u.n);
      return { user_id: user, orders: u.n, total_spent: u.cents / 100, avg_order: Math.round(micro / 10_000) / 100, first_order: u.first, last_order: u.last };
    });
}

/** Sorts records by their JSON text (order-insensitive comparison). */
export function sorted<T>(xs: T[]): T[] {
  return [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));
}

/** Output records of the statements, normalised for comparison with the reference (timestamps as ms, doubles rounded). */
export function normalise(table: string, r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...r };
  for (const k of ["window_start", "window_end", "session_start", "session_end", "ts", "last_active", "first_order", "last_order"])
    if (k in out) out[k] = ms(out[k]);
  for (const k of ["avg_duration", "avg_duration_1h", "total_duration"]) if (typeof out[k] === "number") out[k] = round(out[k]);
  void table;
  return out;
}
