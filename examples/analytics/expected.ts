/**
 * The analytics example's results computed from its input alone, in plain TypeScript — a second,
 * independent implementation of what examples/analytics/job.yaml means, to check the job against.
 */
import { classifyLateness } from "../common/event-time.ts";
import type { InputRecord } from "../common/records.ts";
import { BOUNDS, TYPES } from "./generator.ts";

const MINUTE = 60_000;
const FIVE_SECONDS = 5_000;
const SESSION_GAP = 30 * MINUTE;
const HOUR = 3_600_000;

/** A valid behaviour event. */
export interface Behaviour {
  eventId: string;
  userId: string;
  videoId: string;
  type: string;
  region: string;
  duration: number;
  ts: number;
}

/** What the job should write, by output. */
export interface AnalyticsExpected {
  /** per-minute windows by `type@windowStart`. */
  minuteMetrics: Map<string, Record<string, unknown>>;
  /** Late events sent to the late output, by eventId. */
  late: Map<string, Record<string, unknown>>;
  /** Every running-profile update. */
  profileUpdates: Record<string, unknown>[];
  /** The last profile of each user (the Redis hash) with its version. */
  profiles: Map<string, { fields: Record<string, string>; version: number }>;
  /** Sessions by `userId@start`. */
  sessions: Map<string, Record<string, unknown>>;
  /** 1-hour features by eventId. */
  features: Map<string, Record<string, unknown>>;
  /** 5-second metrics by `type/region@windowStart`. */
  realtime: Map<string, Record<string, unknown>>;
  /** Dead letters by `step/reason` (`poison` for bytes that are not a JSON object). */
  deadLetters: Map<string, number>;
  /** Events whose lateness could go either way (the input is then not exactly verifiable). */
  ambiguous: number;
  /** Counts for the summary line. */
  counts: { input: number; valid: number; late: number };
}

/** The reason the job's `valid` step rejects a record, or undefined when it is valid. */
export function invalidReason(v: Record<string, unknown>): string | undefined {
  if (typeof v.userId !== "string" || !/^u[0-9]+$/.test(v.userId)) return "bad_user_id";
  if (typeof v.type !== "string" || !(TYPES as readonly string[]).includes(v.type)) return "unknown_type";
  if (typeof v.duration !== "number" || !(v.duration >= 0)) return "negative_duration";
  return undefined;
}

function group<T>(items: Iterable<T>, key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const l = m.get(k);
    if (l) l.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/** The results for `behaviour` (each partition's records in order) and the user dimension rows. */
export function expectedAnalytics(behaviour: readonly InputRecord[], users: ReadonlyMap<string, Record<string, unknown>>): AnalyticsExpected {
  const lateness = classifyLateness(behaviour, { watermarkBoundMs: BOUNDS.watermarkBoundMs, lateByMs: 1.5 * BOUNDS.longestWindowMs });
  const deadLetters = new Map<string, number>();
  const valid: { e: Behaviour; late: boolean }[] = [];
  behaviour.forEach((r, i) => {
    const v = r.value;
    if (v === undefined) return void deadLetters.set("poison", (deadLetters.get("poison") ?? 0) + 1);
    if (v.tick === true) return;
    const reason = invalidReason(v);
    if (reason) return void deadLetters.set(`valid/${reason}`, (deadLetters.get(`valid/${reason}`) ?? 0) + 1);
    valid.push({ e: v as unknown as Behaviour, late: lateness.late[i] === true });
  });
  const onTime = valid.filter((x) => !x.late).map((x) => x.e);
  // A late event joins a session still open (however late it is): the generator sends late events
  // only from users inactive since well before them; an input where that fails is not verifiable.
  let joinsSession = 0;
  const seen = new Map<string, number>();
  for (const { e, late } of valid) {
    if (late && (seen.get(e.userId) ?? Number.NEGATIVE_INFINITY) >= e.ts - SESSION_GAP) joinsSession++;
    if (!late) seen.set(e.userId, Math.max(seen.get(e.userId) ?? Number.NEGATIVE_INFINITY, e.ts));
  }

  // Per minute and type (late events go to the late output instead).
  const minuteMetrics = new Map<string, Record<string, unknown>>();
  for (const [k, evs] of group(onTime, (e) => `${e.type}@${Math.floor(e.ts / MINUTE) * MINUTE}`)) {
    const start = Math.floor((evs[0] as Behaviour).ts / MINUTE) * MINUTE;
    const sum = evs.reduce((s, e) => s + e.duration, 0);
    minuteMetrics.set(k, {
      type: (evs[0] as Behaviour).type,
      windowStart: start,
      windowEnd: start + MINUTE,
      events: evs.length,
      users: new Set(evs.map((e) => e.userId)).size,
      avgDuration: sum / evs.length,
    });
  }
  const late = new Map(valid.filter((x) => x.late).map((x) => [x.e.eventId, x.e as unknown as Record<string, unknown>]));

  // Running profile per user, in arrival order (late events included: nothing waits for the watermark).
  const profileUpdates: Record<string, unknown>[] = [];
  const profiles = new Map<string, { fields: Record<string, string>; version: number }>();
  const running = new Map<string, { events: number; views: number; likes: number; shares: number; watchTime: number }>();
  for (const { e } of valid) {
    const p = running.get(e.userId) ?? { events: 0, views: 0, likes: 0, shares: 0, watchTime: 0 };
    p.events++;
    if (e.type === "view") p.views++;
    if (e.type === "like") p.likes++;
    if (e.type === "share") p.shares++;
    p.watchTime += e.duration;
    running.set(e.userId, p);
    profileUpdates.push({ userId: e.userId, ...p, ts: e.ts });
    profiles.set(e.userId, {
      fields: { events: String(p.events), views: String(p.views), likes: String(p.likes), shares: String(p.shares), watchTime: String(p.watchTime) },
      version: p.events,
    });
  }

  const byUser = group(onTime, (e) => e.userId);
  const sessions = new Map<string, Record<string, unknown>>();
  const features = new Map<string, Record<string, unknown>>();
  for (const [userId, evs] of byUser) {
    // Event-time order; equal timestamps keep their arrival order.
    const sorted = evs
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.ts - b.e.ts || a.i - b.i)
      .map((x) => x.e);
    // Sessions: consecutive events at most the gap apart (windows [ts, ts + gap) that touch merge).
    let cur: Behaviour[] = [];
    const close = (): void => {
      if (cur.length === 0) return;
      const start = (cur[0] as Behaviour).ts;
      const end = (cur.at(-1) as Behaviour).ts + SESSION_GAP;
      const types = new Set(cur.map((e) => e.type));
      sessions.set(`${userId}@${start}`, {
        userId,
        start,
        end,
        events: cur.length,
        watchTime: cur.reduce((s, e) => s + e.duration, 0),
        engagement: types.has("view") && types.has("like") && types.has("share") ? "HIGH_ENGAGEMENT" : "NORMAL",
      });
      cur = [];
    };
    for (const e of sorted) {
      if (cur.length > 0 && e.ts > (cur.at(-1) as Behaviour).ts + SESSION_GAP) close();
      cur.push(e);
    }
    close();
    // 1-hour OVER range: each event with the aggregates of the user's events in [ts - 1h, ts]
    // (events of equal timestamp included: they share one result). A window over the sorted events.
    const row = users.get(userId);
    let lo = 0;
    let hi = 0;
    let views = 0;
    let duration = 0;
    const videos = new Map<string, number>();
    for (const e of sorted) {
      for (; hi < sorted.length && (sorted[hi] as Behaviour).ts <= e.ts; hi++) {
        const x = sorted[hi] as Behaviour;
        if (x.type === "view") views++;
        duration += x.duration;
        videos.set(x.videoId, (videos.get(x.videoId) ?? 0) + 1);
      }
      for (; (sorted[lo] as Behaviour).ts < e.ts - HOUR; lo++) {
        const x = sorted[lo] as Behaviour;
        if (x.type === "view") views--;
        duration -= x.duration;
        const n = (videos.get(x.videoId) ?? 0) - 1;
        if (n === 0) videos.delete(x.videoId);
        else videos.set(x.videoId, n);
      }
      features.set(e.eventId, {
        eventId: e.eventId,
        userId,
        ts: e.ts,
        views1h: views,
        events1h: hi - lo,
        avgDuration1h: duration / (hi - lo),
        videos1h: videos.size,
        ageGroup: row ? String(row.ageGroup) : "unknown",
        country: row ? String(row.country) : "unknown",
      });
    }
  }

  const realtime = new Map<string, Record<string, unknown>>();
  for (const [k, evs] of group(onTime, (e) => `${e.type}/${e.region}@${Math.floor(e.ts / FIVE_SECONDS) * FIVE_SECONDS}`)) {
    const first = evs[0] as Behaviour;
    const start = Math.floor(first.ts / FIVE_SECONDS) * FIVE_SECONDS;
    realtime.set(k, { type: first.type, region: first.region, windowStart: start, windowEnd: start + FIVE_SECONDS, events: evs.length });
  }

  return {
    minuteMetrics,
    late,
    profileUpdates,
    profiles,
    sessions,
    features,
    realtime,
    deadLetters,
    ambiguous: lateness.ambiguous + joinsSession,
    counts: { input: behaviour.length, valid: valid.length, late: late.size },
  };
}

/** Lifetime value per user from the revenue history (ltv.yaml), and its dead letters by reason. */
export function expectedLtv(history: readonly InputRecord[]): { ltv: Map<string, Record<string, unknown>>; deadLetters: Map<string, number> } {
  const deadLetters = new Map<string, number>();
  const per = new Map<string, { revenue: number; purchases: number; first: number; last: number }>();
  for (const r of history) {
    const v = r.value;
    if (v === undefined) {
      deadLetters.set("poison", (deadLetters.get("poison") ?? 0) + 1);
      continue;
    }
    if (v.tick === true) continue;
    const reason =
      typeof v.userId !== "string" || !/^u[0-9]+$/.test(v.userId)
        ? "bad_user_id"
        : typeof v.amount !== "number" || !(v.amount > 0)
          ? "non_positive_amount"
          : undefined;
    if (reason) {
      deadLetters.set(`valid/${reason}`, (deadLetters.get(`valid/${reason}`) ?? 0) + 1);
      continue;
    }
    const ts = v.ts as number;
    const p = per.get(v.userId as string) ?? { revenue: 0, purchases: 0, first: ts, last: ts };
    p.revenue += v.amount as number;
    p.purchases++;
    p.first = Math.min(p.first, ts);
    p.last = Math.max(p.last, ts);
    per.set(v.userId as string, p);
  }
  const ltv = new Map<string, Record<string, unknown>>();
  for (const [userId, p] of per)
    ltv.set(userId, {
      userId,
      revenue: p.revenue,
      purchases: p.purchases,
      firstPurchase: p.first,
      lastPurchase: p.last,
      avgOrder: p.revenue / p.purchases,
      tier: p.revenue >= 500 ? "HIGH" : p.revenue >= 100 ? "MEDIUM" : "LOW",
    });
  return { ltv, deadLetters };
}
