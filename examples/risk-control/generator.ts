/**
 * Data generator of the ride-hailing risk-control example: order, behaviour and device streams of
 * skewed users, with injected account takeovers (a run of failed logins, then IP changes, then
 * large orders from new devices), bursts, out-of-order, late and malformed events; and the initial
 * risk rules. Deterministic for a seed.
 *
 *   node examples/risk-control/generator.ts --out examples/risk-control/data --count 30000
 *   node examples/risk-control/generator.ts --kafka kafka:9092 --rate 2000 --realtime --count 0
 */
import { parseOptions, runMain, usage, type OptionSpec } from "../common/cli.ts";
import { GENERATOR_OPTIONS, generatorSettings, outputOf, stopSignal, type GeneratorSettings } from "../common/generator-options.ts";
import type { Output } from "../common/output.ts";
import { seededRandom, zipf, type Random } from "../common/random.ts";
import { timeline } from "../common/timeline.ts";

/** Topics (files) of the example. */
export const TOPICS = { orders: "orders", behaviour: "behaviour", devices: "device-fingerprints", rules: "risk-rules" } as const;
export const BEHAVIOUR_TYPES = ["login_ok", "login_fail", "ip_change", "browse", "logout"] as const;

/** The job's watermark bound and longest window (30 min sliding features). */
export const BOUNDS = { watermarkBoundMs: 2_000, longestWindowMs: 1_800_000 };

/** The rules the job starts with (the rules topic is compacted, keyed by rule id). */
export const INITIAL_RULES = [
  { id: "block-large-new-device", condition: "record.amount >= 1500 && record.devices30m >= 2", action: "BLOCK" },
  { id: "review-many-fails", condition: "record.loginFails30m >= 3 && record.decision == 'ALLOW'", action: "REVIEW" },
];

/** Options of this generator beyond the shared ones. */
export const OPTIONS: Record<string, OptionSpec> = {
  ...GENERATOR_OPTIONS,
  // Riders: many, and less skewed than shoppers or viewers.
  users: { ...(GENERATOR_OPTIONS.users as OptionSpec), default: 5000 },
  skew: { ...(GENERATOR_OPTIONS.skew as OptionSpec), default: 0.6 },
  "takeovers-per-hour": { type: "number", description: "account takeovers injected per hour of event time", default: 6 },
  "no-rules": { type: "boolean", description: "do not write the initial rules" },
};

/** Everything the example's data is drawn from. */
export interface RiskSettings extends GeneratorSettings {
  takeoversPerHour: number;
  rules: boolean;
}

/** A record waiting for its time in the stream (a takeover's steps). */
interface Scheduled {
  at: number;
  stream: string;
  record: Record<string, unknown>;
}

function ip(r: Random): string {
  return `10.${r.int(256)}.${r.int(256)}.${r.int(256)}`;
}

/** A malformed record of a stream (JSON unless `bytes` allows otherwise). */
function dirty(r: Random, good: Record<string, unknown>, stream: string, bytes: boolean): unknown {
  const kind = r.int(bytes ? 4 : 3);
  if (kind === 0) return { ...good, userId: "" };
  if (kind === 3) return `{"userId": "${String(good.userId)}", "ts": `; // cut off: not JSON
  if (stream === TOPICS.orders) return kind === 1 ? { ...good, amount: -r.int(100) } : { ...good, lat: 91 + r.next() * 10 };
  if (stream === TOPICS.behaviour) return { ...good, type: "hack" };
  return { ...good, fingerprint: "none" };
}

/** Writes the rules, then the three streams; returns when `count` events are written or `stop` is set. */
export async function generate(s: RiskSettings, out: Output, stop: { stopped: boolean } = { stopped: false }): Promise<void> {
  if (s.rules) for (const rule of INITIAL_RULES) await out.write(TOPICS.rules, rule.id, rule);
  const r = seededRandom(s.seed).fork("events");
  const user = zipf(s.users, s.skew, r.fork("user-pick"));
  const attack = r.fork("takeovers");
  const next = timeline(s.timeline, r.fork("time"));
  const scheduled: Scheduled[] = [];
  let nextTakeover = s.timeline.start + (s.takeoversPerHour > 0 ? Math.floor((-Math.log(1 - attack.next()) * 3_600_000) / s.takeoversPerHour) : Infinity);
  let order = 0;
  let last = s.timeline.start;
  let written = 0;
  const emit = async (stream: string, rec: Record<string, unknown>): Promise<void> => {
    written++;
    await out.write(stream, rec.userId as string, r.chance(s.dirtyShare) ? dirty(r, rec, stream, s.kafka) : rec);
  };
  while (s.count === 0 || written < s.count) {
    if (stop.stopped) break;
    const t = next();
    last = Math.max(last, t.now);
    // A takeover: failed logins, then IP changes, then large orders from new devices, within 5 minutes.
    if (t.now >= nextTakeover) {
      const victim = `u${attack.int(s.users)}`;
      let at = t.now;
      for (let i = 0, n = attack.between(6, 9); i < n; i++)
        scheduled.push({ at: (at += attack.between(3_000, 15_000)), stream: TOPICS.behaviour, record: { userId: victim, type: "login_fail", ip: ip(attack) } });
      for (let i = 0, n = attack.between(4, 6); i < n; i++)
        scheduled.push({ at: (at += attack.between(5_000, 25_000)), stream: TOPICS.behaviour, record: { userId: victim, type: "ip_change", ip: ip(attack) } });
      for (let i = 0, n = attack.between(1, 3); i < n; i++) {
        scheduled.push({
          at: (at += attack.between(2_000, 10_000)),
          stream: TOPICS.devices,
          record: { userId: victim, fingerprint: `fp${90000 + attack.int(10000)}` },
        });
        scheduled.push({
          at: (at += attack.between(2_000, 10_000)),
          stream: TOPICS.orders,
          record: { userId: victim, amount: attack.between(800, 2000), lat: 52.37 + attack.next() * 0.1, lon: 4.89 + attack.next() * 0.1 },
        });
      }
      nextTakeover = t.now + Math.floor((-Math.log(1 - attack.next()) * 3_600_000) / s.takeoversPerHour);
    }
    scheduled.sort((a, b) => a.at - b.at);
    while (scheduled.length > 0 && (scheduled[0] as Scheduled).at <= t.now && (s.count === 0 || written < s.count)) {
      const sc = scheduled.shift() as Scheduled;
      const rec = { ...sc.record, ts: sc.at };
      if (sc.stream === TOPICS.orders) Object.assign(rec, { orderId: `${s.idPrefix}o${order++}` });
      else Object.assign(rec, { eventId: `${s.idPrefix}x${written}` });
      await emit(sc.stream, rec);
    }
    if (s.count !== 0 && written >= s.count) break;
    const u = user();
    const userId = `u${u}`;
    // Late events are behaviour events: the densest stream is the one furthest behind in event
    // time while the job reads, so the job's watermark follows it.
    const stream = t.kind === "late" ? TOPICS.behaviour : r.weighted([TOPICS.behaviour, TOPICS.orders, TOPICS.devices], [60, 25, 15]);
    if (stream === TOPICS.behaviour) {
      const type = r.weighted(["browse", "login_ok", "logout", "login_fail", "ip_change"], [57, 25, 13, 3, 2]);
      await emit(stream, {
        eventId: `${s.idPrefix}x${written}`,
        userId,
        type,
        ip: type === "ip_change" ? ip(r) : `10.0.${u % 256}.${(u >> 8) % 256}`,
        ts: t.ts,
      });
    } else if (stream === TOPICS.orders) {
      const amount = 5 + Math.floor(Math.pow(r.next(), 3) * 600);
      await emit(stream, { orderId: `${s.idPrefix}o${order++}`, userId, amount, lat: 52.3 + r.next() * 0.2, lon: 4.8 + r.next() * 0.2, ts: t.ts });
    } else {
      // One or two usual devices per user, sometimes another.
      const fp = r.chance(0.05) ? 50000 + r.int(40000) : u * 2 + r.int(2);
      await emit(stream, { eventId: `${s.idPrefix}x${written}`, userId, fingerprint: `fp${fp}`, ts: t.ts });
    }
  }
  // Past the 30 min features and the 10 min pattern: every window closes, every order is decided.
  if (s.endTick)
    for (const stream of [TOPICS.orders, TOPICS.behaviour, TOPICS.devices])
      await out.tick(stream, () => ({ tick: true, ts: last + 2 * BOUNDS.longestWindowMs }));
}

const HELP = usage(
  "node examples/risk-control/generator.ts",
  "Generates the risk-control example's input: orders, behaviour and device fingerprints with injected account takeovers, and the initial risk rules.",
  OPTIONS,
  "Writes orders, behaviour, device-fingerprints and risk-rules (files <topic>.ndjson with --out, topics with --kafka;\nrisk-rules is created compacted, keyed by rule id). Change rules later with examples/risk-control/rules.ts.",
);

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  const s: RiskSettings = {
    ...generatorSettings(values, BOUNDS),
    takeoversPerHour: Math.max(0, values["takeovers-per-hour"] as number),
    rules: values["no-rules"] !== true,
  };
  const out = await outputOf(values, "risk-control generator", [TOPICS.rules]);
  try {
    await generate(s, out, stopSignal());
  } finally {
    await out.close();
  }
  return 0;
}

if (import.meta.main) await runMain("node examples/risk-control/generator.ts", HELP, main);
