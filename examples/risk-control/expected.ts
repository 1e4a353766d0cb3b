/**
 * The risk-control example's results computed from its input alone, in plain TypeScript — a
 * second, independent implementation of examples/risk-control/job.yaml: the features of every
 * user and slide, each order's decision (the logistic model, then the rules), and the
 * account-takeover alerts (Flink CEP's semantics for this pattern, written out by hand). Rule
 * conditions are CEL, evaluated with the CEL library itself.
 */
import { evaluate } from "@marcbachmann/cel-js";
import { cleanStreams, type CleanRule } from "../common/event-time.ts";
import type { InputRecord } from "../common/records.ts";
import { BEHAVIOUR_TYPES, BOUNDS } from "./generator.ts";

const SLIDE = 300_000;
const WINDOW = 1_800_000;
const WITHIN = 600_000;

/** A risk rule as it arrives on the rules topic. */
export interface Rule {
  id: string;
  condition: string;
  action: string;
}

/** The model of the job's `scored` step. */
export const MODEL = {
  intercept: -7.0,
  features: [
    { weight: 0.5, value: (d: Decision) => d.amount / 100.0 },
    { weight: 0.1, value: (d: Decision) => d.orders30m },
    { weight: 0.2, value: (d: Decision) => d.amount30m / 500.0 },
    { weight: 0.6, value: (d: Decision) => d.loginFails30m },
    { weight: 0.7, value: (d: Decision) => d.ipChanges30m },
    { weight: 0.6, value: (d: Decision) => d.devices30m },
  ],
  threshold: 0.5,
};

/** A decision as the job writes it (rule only when a rule decided). */
export interface Decision {
  orderId: string;
  userId: string;
  amount: number;
  ts: number;
  slot: number;
  orders30m: number;
  amount30m: number;
  loginFails30m: number;
  ipChanges30m: number;
  devices30m: number;
  risk: number;
  decision: string;
  rule?: string;
}

/** What the job should write. */
export interface RiskExpected {
  /** Decisions by orderId. */
  decisions: Map<string, Decision>;
  /** Alerts by `userId@detectedAt`. */
  alerts: Map<string, Record<string, unknown>>;
  /** Dead letters by `step/reason`. */
  deadLetters: Map<string, number>;
  ambiguous: number;
}

const USER = /^u[0-9]+$/;
const RULES: Record<string, CleanRule[]> = {
  orders: [
    ["bad_user_id", (v) => typeof v.userId === "string" && USER.test(v.userId)],
    ["bad_order_id", (v) => typeof v.orderId === "string" && v.orderId !== ""],
    ["non_positive_amount", (v) => typeof v.amount === "number" && v.amount > 0],
    ["invalid_coordinates", (v) => typeof v.lat === "number" && typeof v.lon === "number" && v.lat >= -90 && v.lat <= 90 && v.lon >= -180 && v.lon <= 180],
  ],
  behaviour: [
    ["bad_user_id", (v) => typeof v.userId === "string" && USER.test(v.userId)],
    ["unknown_type", (v) => typeof v.type === "string" && (BEHAVIOUR_TYPES as readonly string[]).includes(v.type)],
  ],
  devices: [
    ["bad_user_id", (v) => typeof v.userId === "string" && USER.test(v.userId)],
    ["bad_fingerprint", (v) => typeof v.fingerprint === "string" && /^fp[0-9]+$/.test(v.fingerprint)],
  ],
};

/** The rules in force after reading a rules topic (a later message with an id replaces the rule; `deleted` removes it). */
export function ruleSet(records: readonly InputRecord[]): Rule[] {
  const rules = new Map<string, Rule>();
  for (const r of records) {
    const v = r.value;
    if (!v || typeof v.id !== "string") continue;
    if (v.deleted === true) rules.delete(v.id);
    else rules.set(v.id, v as unknown as Rule);
  }
  return [...rules.values()];
}

interface Features {
  orders30m: number;
  amount30m: number;
  loginFails30m: number;
  ipChanges30m: number;
  devices30m: number;
}

/** The account-takeover alerts of one user's behaviour events (valid, on time), in event-time order. */
function takeovers(userId: string, events: { type: string; ts: number }[]): Record<string, unknown>[] {
  const alerts: Record<string, unknown>[] = [];
  // Flink CEP for fails{6,} followedBy ipChanges{4,} within 10m, skip past last event: every
  // failed login starts a run; a run takes every failed login until it moves on at an IP change
  // (it may also wait for more failures); it completes at its 4th IP change. At the first event
  // where any run completes, the run that started first is the match, and every run started up
  // to that event is dropped.
  let from = 0;
  for (let j = 0; j < events.length; j++) {
    const e = events[j] as { type: string; ts: number };
    if (e.type !== "ip_change") continue;
    let found: { s: number; fails: number } | undefined;
    for (let s = from; s < j && !found; s++) {
      const start = events[s] as { type: string; ts: number };
      if (start.type !== "login_fail" || e.ts - start.ts >= WITHIN) continue;
      // The run must move on at the 4th IP change before (and including) this one.
      const ips: number[] = [];
      for (let x = s + 1; x <= j; x++) if ((events[x] as { type: string }).type === "ip_change") ips.push(x);
      if (ips.length < 4) continue;
      const p = ips[ips.length - 4] as number;
      let fails = 0;
      for (let x = s; x < p; x++) if ((events[x] as { type: string }).type === "login_fail") fails++;
      if (fails >= 6) found = { s, fails };
    }
    if (!found) continue;
    alerts.push({ userId, alert: "ACCOUNT_TAKEOVER", fails: found.fails, ipChanges: 4, firstFailAt: (events[found.s] as { ts: number }).ts, detectedAt: e.ts });
    from = j + 1;
  }
  return alerts;
}

/**
 * The results for the three streams (each partition's records in order). `rulesFor` gives the
 * rules in force when an order is decided (default: the same rules for every order).
 */
export function expectedRisk(
  streams: { orders: readonly InputRecord[]; behaviour: readonly InputRecord[]; devices: readonly InputRecord[] },
  rulesFor: (order: { orderId: string; ts: number }) => readonly Rule[],
  thresholdFor: (order: { orderId: string; ts: number }) => number = () => MODEL.threshold,
): RiskExpected {
  const { valid, deadLetters, ambiguous } = cleanStreams(streams, RULES, BOUNDS);

  // Features per user and slide end, from every on-time event.
  const features = new Map<string, Map<number, Features & { devices: Set<string> }>>();
  const add = (userId: string, ts: number, f: (x: Features & { devices: Set<string> }) => void): void => {
    const byEnd = features.get(userId) ?? new Map<number, Features & { devices: Set<string> }>();
    features.set(userId, byEnd);
    for (let end = Math.floor(ts / SLIDE) * SLIDE + SLIDE; end - WINDOW <= ts; end += SLIDE) {
      const x = byEnd.get(end) ?? { orders30m: 0, amount30m: 0, loginFails30m: 0, ipChanges30m: 0, devices30m: 0, devices: new Set<string>() };
      f(x);
      byEnd.set(end, x);
    }
  };
  for (const { v, late } of valid.orders ?? [])
    if (!late) add(v.userId as string, v.ts as number, (x) => ((x.orders30m += 1), (x.amount30m += v.amount as number)));
  for (const { v, late } of valid.behaviour ?? []) {
    if (late) continue;
    if (v.type === "login_fail") add(v.userId as string, v.ts as number, (x) => void (x.loginFails30m += 1));
    else if (v.type === "ip_change") add(v.userId as string, v.ts as number, (x) => void (x.ipChanges30m += 1));
    else add(v.userId as string, v.ts as number, () => undefined);
  }
  for (const { v, late } of valid.devices ?? []) if (!late) add(v.userId as string, v.ts as number, (x) => void x.devices.add(v.fingerprint as string));

  // Every order, decided with its user's features of the slide that ended at its 5-minute boundary.
  const decisions = new Map<string, Decision>();
  for (const { v } of valid.orders ?? []) {
    const ts = v.ts as number;
    const slot = Math.floor(ts / SLIDE) * SLIDE;
    const f = features.get(v.userId as string)?.get(slot);
    const d: Decision = {
      orderId: v.orderId as string,
      userId: v.userId as string,
      amount: v.amount as number,
      ts,
      slot,
      orders30m: f?.orders30m ?? 0,
      amount30m: f?.amount30m ?? 0,
      loginFails30m: f?.loginFails30m ?? 0,
      ipChanges30m: f?.ipChanges30m ?? 0,
      devices30m: f?.devices.size ?? 0,
      risk: 0,
      decision: "",
    };
    let z = MODEL.intercept;
    for (const feature of MODEL.features) z += feature.weight * feature.value(d);
    d.risk = 1 / (1 + Math.exp(-z));
    d.decision = d.risk >= thresholdFor(d) ? "BLOCK" : "ALLOW";
    const rules = [...rulesFor(d)].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const rule = rules.find((r) => evaluate(r.condition, { record: d, key: d.userId, rule: r }) === true);
    decisions.set(d.orderId, rule ? { ...d, decision: rule.action, rule: rule.id } : d);
  }

  const alerts = new Map<string, Record<string, unknown>>();
  const byUser = new Map<string, { type: string; ts: number; i: number }[]>();
  (valid.behaviour ?? []).forEach(({ v, late }, i) => {
    if (late) return;
    const list = byUser.get(v.userId as string) ?? [];
    list.push({ type: v.type as string, ts: v.ts as number, i });
    byUser.set(v.userId as string, list);
  });
  for (const [userId, events] of byUser) {
    events.sort((a, b) => a.ts - b.ts || a.i - b.i);
    for (const a of takeovers(userId, events)) alerts.set(`${userId}@${String(a.detectedAt)}`, a);
  }
  return { decisions, alerts, deadLetters, ambiguous };
}
