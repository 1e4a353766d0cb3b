/**
 * The recommendation example's results computed from its input alone, in plain TypeScript — a
 * second, independent implementation of examples/recommendation/job.yaml to check the job against:
 * the profiles, the ranked top-10 lists (Kafka) and the last list of every user (Redis).
 */
import { cleanStreams, type CleanRule } from "../common/event-time.ts";
import type { InputRecord } from "../common/records.ts";
import { BOUNDS, TAGS } from "./generator.ts";

const FIVE_MINUTES = 300_000;
const HOUR = 3_600_000;
const LIMIT = 10;

/** A valid user event as the job unifies them. */
interface UserEvent {
  userId: string;
  kind: "click" | "browse" | "purchase";
  itemId: string;
  tag: string;
  seconds: number;
  weight: number;
  ts: number;
}

/** A ranked list. */
export interface Ranked {
  userId: string;
  windowEnd: number;
  items: { itemId: string; score: number }[];
}

/** What the job should write. */
export interface RecommendationExpected {
  /** Ranked lists by `userId@windowEnd`. */
  ranked: Map<string, Ranked>;
  /** The last list of each user (the Redis sorted set): members best first, and the version. */
  redis: Map<string, { members: [string, number][]; version: number }>;
  /** Profiles by `userId@refreshedAt`. */
  profiles: Map<string, Record<string, unknown>>;
  /** Dead letters by `step/reason`. */
  deadLetters: Map<string, number>;
  ambiguous: number;
}

const USER = /^u[0-9]+$/;
const ITEM = /^i[0-9]+$/;
const isTag = (v: unknown): boolean => typeof v === "string" && (TAGS as readonly string[]).includes(v);

/** The clean rules of each stream, in order, as the job's clean steps. */
const RULES: Record<string, CleanRule[]> = {
  clicks: [
    ["bad_user_id", (v) => typeof v.userId === "string" && USER.test(v.userId)],
    ["unknown_tag", (v) => isTag(v.tag)],
    ["bad_item_id", (v) => typeof v.itemId === "string" && ITEM.test(v.itemId)],
  ],
  browse: [
    ["bad_user_id", (v) => typeof v.userId === "string" && USER.test(v.userId)],
    ["unknown_tag", (v) => isTag(v.tag)],
    ["bad_seconds", (v) => typeof v.seconds === "number" && v.seconds > 0],
  ],
  purchases: [
    ["bad_user_id", (v) => typeof v.userId === "string" && USER.test(v.userId)],
    ["unknown_tag", (v) => isTag(v.tag)],
    ["bad_item_id", (v) => typeof v.itemId === "string" && ITEM.test(v.itemId)],
    ["non_positive_price", (v) => typeof v.price === "number" && v.price > 0],
  ],
};

/** CEL's `int / int` and `int(double)`: truncation toward zero. */
const trunc = Math.trunc;

/** Ranks `a` before `b`: higher score first; equal scores by the value's JSON (the pipeline's topN rule). */
function ranking<T>(score: (t: T) => number): (a: T, b: T) => number {
  return (a, b) => {
    const d = score(b) - score(a);
    if (d !== 0) return d;
    const ja = JSON.stringify(a);
    const jb = JSON.stringify(b);
    return ja < jb ? -1 : ja > jb ? 1 : 0;
  };
}

/** The results for the three streams (each partition's records in order) and the item features by category. */
export function expectedRecommendation(
  streams: { clicks: readonly InputRecord[]; browse: readonly InputRecord[]; purchases: readonly InputRecord[] },
  items: ReadonlyMap<string, { itemId: string; score: number }[]>,
): RecommendationExpected {
  const { valid, deadLetters, ambiguous } = cleanStreams(streams, RULES, BOUNDS);
  const events: UserEvent[] = [];
  for (const [name, records] of Object.entries(valid)) {
    for (const { v, late } of records) {
      // Windows drop late events; nothing else in this job keeps them.
      if (late) continue;
      const kind = name === "clicks" ? "click" : name === "browse" ? "browse" : "purchase";
      const seconds = kind === "browse" ? trunc(v.seconds as number) : 0;
      events.push({
        userId: v.userId as string,
        kind,
        itemId: v.itemId as string,
        tag: v.tag as string,
        seconds,
        weight: kind === "click" ? 1 : kind === "purchase" ? 5 : 1 + trunc(seconds / 60),
        ts: v.ts as number,
      });
    }
  }

  // Activity per user and 5 minutes (bought: distinct items in purchase order).
  const activity = new Map<string, { clicks: number; purchases: number; browseSeconds: number; bought: string[] }>();
  // Interest weight per user, category and sliding window end.
  const affinity = new Map<string, Map<number, Map<string, number>>>();
  for (const e of events) {
    const end = Math.floor(e.ts / FIVE_MINUTES) * FIVE_MINUTES + FIVE_MINUTES;
    const k = `${e.userId}@${end}`;
    const a = activity.get(k) ?? { clicks: 0, purchases: 0, browseSeconds: 0, bought: [] };
    if (e.kind === "click") a.clicks++;
    if (e.kind === "purchase") {
      a.purchases++;
      if (!a.bought.includes(e.itemId)) a.bought.push(e.itemId);
    }
    if (e.kind === "browse") a.browseSeconds += e.seconds;
    activity.set(k, a);
    const byEnd = affinity.get(e.userId) ?? new Map<number, Map<string, number>>();
    affinity.set(e.userId, byEnd);
    // Every 1 h window sliding by 5 min that holds ts: ends from the next slide up to 1 h later.
    for (let windowEnd = end; windowEnd < e.ts + HOUR + FIVE_MINUTES && windowEnd - HOUR <= e.ts; windowEnd += FIVE_MINUTES) {
      if (windowEnd - HOUR > e.ts) break;
      const tags = byEnd.get(windowEnd) ?? new Map<string, number>();
      tags.set(e.tag, (tags.get(e.tag) ?? 0) + e.weight);
      byEnd.set(windowEnd, tags);
    }
  }

  const ranked = new Map<string, Ranked>();
  const redis = new Map<string, { members: [string, number][]; version: number }>();
  const profiles = new Map<string, Record<string, unknown>>();
  const users = new Set([...affinity.keys()]);
  for (const userId of [...users].sort()) {
    const byEnd = affinity.get(userId) ?? new Map<number, Map<string, number>>();
    const ends = new Set<number>(byEnd.keys());
    for (const k of activity.keys()) if (k.startsWith(`${userId}@`)) ends.add(Number(k.slice(userId.length + 1)));
    let clicks = 0;
    let purchases = 0;
    let browseSeconds = 0;
    let purchased: string[] = [];
    for (const end of [...ends].sort((a, b) => a - b)) {
      const tagWeights = byEnd.get(end);
      let top: { tag: string; weight: number }[] | null = null;
      if (tagWeights) {
        const total = [...tagWeights.values()].reduce((s, w) => s + w, 0);
        top = [...tagWeights]
          .map(([tag, weight]) => ({ tag, weight }))
          .sort(ranking((t) => t.weight))
          .slice(0, 3);
        const candidates = top.flatMap((t) => (items.get(t.tag) ?? []).map((it) => ({ itemId: it.itemId, score: it.score * (t.weight / total) })));
        const list = candidates.sort(ranking((c) => c.score)).slice(0, LIMIT);
        ranked.set(`${userId}@${end}`, { userId, windowEnd: end, items: list });
        redis.set(userId, { members: list.map((c) => [c.itemId, c.score]), version: end });
      }
      const a = activity.get(`${userId}@${end}`);
      clicks += a?.clicks ?? 0;
      purchases += a?.purchases ?? 0;
      browseSeconds += a?.browseSeconds ?? 0;
      if (a) purchased = [...purchased, ...a.bought.filter((i) => !purchased.includes(i))];
      profiles.set(`${userId}@${end}`, { userId, clicks, purchases, browseSeconds, purchased, interests: top ? top.map((t) => t.tag) : [], refreshedAt: end });
    }
  }
  // Redis orders members of equal score by member, descending.
  for (const v of redis.values()) v.members.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
  return { ranked, redis, profiles, deadLetters, ambiguous };
}
