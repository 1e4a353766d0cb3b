/**
 * Data generator of the e-commerce recommendation example: click, browse and purchase streams of
 * skewed users (each with favourite categories) on skewed items, with bursts, out-of-order, late
 * and malformed events, and the item features by category (the compacted topic the job joins).
 * Deterministic for a seed.
 *
 *   node examples/recommendation/generator.ts --out examples/recommendation/data --count 40000
 *   node examples/recommendation/generator.ts --kafka kafka:9092 --rate 3000 --realtime --count 0
 */
import { parseOptions, runMain, usage, type OptionSpec } from "../common/cli.ts";
import { GENERATOR_OPTIONS, generatorSettings, outputOf, stopSignal, type GeneratorSettings } from "../common/generator-options.ts";
import type { Output } from "../common/output.ts";
import { seededRandom, zipf, type Random } from "../common/random.ts";
import { timeline } from "../common/timeline.ts";

/** Topics (files) of the example. */
export const TOPICS = { clicks: "clicks", browse: "browse", purchases: "purchases", items: "item-features" } as const;
export const TAGS = ["shoes", "phones", "books", "garden", "toys", "music", "sports", "beauty"] as const;
/** Items per category in the item features (the candidates of a category). */
export const ITEMS_PER_TAG = 25;

/** The job's watermark bound and longest window (1 h sliding features). */
export const BOUNDS = { watermarkBoundMs: 2_000, longestWindowMs: 3_600_000 };

/** Options of this generator beyond the shared ones. */
export const OPTIONS: Record<string, OptionSpec> = {
  ...GENERATOR_OPTIONS,
  items: { type: "integer", description: "number of items (spread over the 8 categories)", default: 2000 },
};

/** A row of the item features: the best items of a category with their scores. */
export interface ItemFeatures {
  key: string;
  tag: string;
  items: { itemId: string; score: number }[];
}

/** Everything the example's data is drawn from. */
export interface RecommendationSettings extends GeneratorSettings {
  items: number;
}

/** An item's score (0.100–0.999), fixed per item and seed. */
function itemScore(seed: number, item: number): number {
  return 100 + seededRandom(seed).fork(`item-${item}`).int(900);
}

/** The item features: per category, its ITEMS_PER_TAG best-scored items. */
export function itemFeatures(s: RecommendationSettings): ItemFeatures[] {
  return TAGS.map((tag, t) => {
    const items: { itemId: string; score: number }[] = [];
    for (let i = t; i < s.items; i += TAGS.length) items.push({ itemId: `i${i}`, score: itemScore(s.seed, i) / 1000 });
    items.sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : 1));
    return { key: tag, tag, items: items.slice(0, ITEMS_PER_TAG) };
  });
}

/** A malformed record of a stream (JSON unless `bytes` allows otherwise). */
function dirty(r: Random, good: Record<string, unknown>, stream: string, bytes: boolean): unknown {
  const kind = r.int(bytes ? 4 : 3);
  if (kind === 0) {
    const { userId: _drop, ...rest } = good;
    return rest;
  }
  if (kind === 1) return { ...good, tag: "unknown" };
  if (kind === 2) {
    if (stream === TOPICS.browse) return { ...good, seconds: -r.between(1, 60) };
    if (stream === TOPICS.purchases) return { ...good, price: 0 };
    return { ...good, itemId: "item?" };
  }
  return `{"userId": "${String(good.userId)}", "itemId": `; // cut off: not JSON
}

/** Writes the item features, then the three streams; returns when `count` events are written or `stop` is set. */
export async function generate(s: RecommendationSettings, out: Output, stop: { stopped: boolean } = { stopped: false }): Promise<void> {
  for (const row of itemFeatures(s)) await out.write(TOPICS.items, row.tag, row);
  const r = seededRandom(s.seed).fork("events");
  const user = zipf(s.users, s.skew, r.fork("user-pick"));
  const perTag = Math.max(1, Math.floor(s.items / TAGS.length));
  const itemInTag = zipf(perTag, 1.0, r.fork("item-pick"));
  const next = timeline(s.timeline, r.fork("time"));
  let last = s.timeline.start;
  for (let i = 0; s.count === 0 || i < s.count; i++) {
    if (stop.stopped) break;
    const t = next();
    last = Math.max(last, t.now);
    const u = user();
    // Two favourite categories per user get most of their attention.
    const fav = [u % TAGS.length, (u * 7 + 3) % TAGS.length];
    const tagIndex = r.chance(0.7) ? (fav[r.int(2)] as number) : r.int(TAGS.length);
    const tag = TAGS[tagIndex] as string;
    const itemId = `i${Math.min(s.items - 1, itemInTag() * TAGS.length + tagIndex)}`;
    // Late events are clicks: the densest stream is the one furthest behind in event time while
    // the job reads (every source gets the same number of records per read), so the job's
    // watermark follows it, and a click late for the clicks is late for the job.
    const drawn = r.weighted([TOPICS.clicks, TOPICS.browse, TOPICS.purchases], [60, 35, 5]);
    const stream = t.kind === "late" ? TOPICS.clicks : drawn;
    const base = { eventId: `${s.idPrefix}e${i}`, userId: `u${u}`, itemId, tag, ts: t.ts };
    const good: Record<string, unknown> =
      stream === TOPICS.browse ? { ...base, seconds: r.between(1, 600) } : stream === TOPICS.purchases ? { ...base, price: r.between(5, 500) } : base;
    await out.write(stream, good.userId as string, r.chance(s.dirtyShare) ? dirty(r, good, stream, s.kafka) : good);
  }
  // Past the 1 h sliding features: every window of the job closes.
  if (s.endTick)
    for (const stream of [TOPICS.clicks, TOPICS.browse, TOPICS.purchases])
      await out.tick(stream, () => ({ tick: true, ts: last + 2 * BOUNDS.longestWindowMs }));
}

const HELP = usage(
  "node examples/recommendation/generator.ts",
  "Generates the recommendation example's input: clicks, browse and purchase events, and the item features by category.",
  OPTIONS,
  "Writes clicks, browse, purchases and item-features (files <topic>.ndjson with --out, topics with --kafka;\nitem-features is created compacted, keyed by category).",
);

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  const s: RecommendationSettings = { ...generatorSettings(values, BOUNDS), items: Math.max(TAGS.length, values.items as number) };
  const out = await outputOf(values, "recommendation generator", [TOPICS.items]);
  try {
    await generate(s, out, stopSignal());
  } finally {
    await out.close();
  }
  return 0;
}

if (import.meta.main) await runMain("node examples/recommendation/generator.ts", HELP, main);
