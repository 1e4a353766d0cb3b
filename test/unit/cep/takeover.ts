/** The risk system's account-takeover pattern and a small login-event vocabulary for the CEP tests. */
import { collectSink, collectionSource, job, type OutputTag } from "../../../runtime/api/index.ts";
import { AfterMatchSkipStrategy, CEP, Pattern, patternFromSpec, type TimedOutMatch } from "../../../runtime/cep/index.ts";
import type { JobBuilder } from "../../../runtime/api/job.ts";
import type { CollectSink } from "../../../runtime/connectors/memory.ts";

/** A login-related event of a user. */
export interface Login {
  user: string;
  type: "fail" | "ok" | "ip";
  t: number;
  /** Readable id, e.g. "f3" (third failure), "i2" (second IP change). */
  id: string;
}

/** Ten minutes, the pattern's bound. */
export const TEN_MINUTES = 600_000;

/**
 * "More than 5 login failures, then more than 3 IP changes, within 10 minutes": at least 6
 * failures followed (relaxed) by at least 4 IP changes. After a match the user's partial
 * matches are discarded (skip past last event): one alert per attack, not one per subset.
 */
export function accountTakeover(conditions: "ts" | "cel" | "spec" = "ts"): Pattern<Login> {
  if (conditions === "spec") {
    // The same pattern as a declarative pipeline's cep step.
    return patternFromSpec<Login>({
      stages: [
        { name: "fails", where: "record.type == 'fail'", timesOrMore: 6 },
        { name: "ipChanges", contiguity: "followedBy", where: "record.type == 'ip'", timesOrMore: 4 },
      ],
      within: "10m",
      afterMatchSkip: { strategy: "skipPastLastEvent" },
    });
  }
  const fail = conditions === "ts" ? (e: Login) => e.type === "fail" : "record.type == 'fail'";
  const ip = conditions === "ts" ? (e: Login) => e.type === "ip" : "record.type == 'ip'";
  return Pattern.begin<Login>("fails", AfterMatchSkipStrategy.skipPastLastEvent())
    .where(fail)
    .timesOrMore(6)
    .followedBy("ipChanges")
    .where(ip)
    .timesOrMore(4)
    .within(TEN_MINUTES);
}

/** An attack on `user` starting at `t0`: `fails` failures 1 s apart, then `ips` IP changes ending at `lastAt`. */
export function attack(user: string, t0: number, fails: number, ips: number, lastAt: number): Login[] {
  const out: Login[] = [];
  for (let i = 0; i < fails; i++) out.push({ user, type: "fail", t: t0 + i * 1000, id: `f${i + 1}` });
  for (let i = 0; i < ips; i++) out.push({ user, type: "ip", t: lastAt - (ips - 1 - i) * 1000, id: `i${i + 1}` });
  return out;
}

/** A match as "user: f1 f2 … | i1 …". */
export function describeMatch(user: string, m: Map<string, Login[]>): string {
  return `${user}: ${(m.get("fails") ?? []).map((e) => e.id).join(" ")} | ${(m.get("ipChanges") ?? []).map((e) => e.id).join(" ")}`;
}

/** A job running the pattern over fixed partitions of logins into collecting sinks. */
export function takeoverJob(
  partitions: Login[][],
  options: { outOfOrderMs?: number; conditions?: "ts" | "cel" | "spec"; timedOut?: OutputTag<TimedOutMatch<Login>> } = {},
): { job: JobBuilder; alerts: CollectSink<string>; timedOut: CollectSink<TimedOutMatch<Login>> } {
  const alerts = collectSink<string>();
  const timedOut = collectSink<TimedOutMatch<Login>>();
  const j = job("takeover");
  const logins = j
    .source(collectionSource({ partitions }), { watermarks: { timestamp: (e: Login) => e.t, maxOutOfOrdernessMs: options.outOfOrderMs ?? 0 } })
    .keyBy((e) => e.user);
  const out = CEP.pattern(logins, accountTakeover(options.conditions ?? "ts"), {
    uid: "takeover",
    ...(options.timedOut ? { timedOut: options.timedOut } : {}),
  }).process<string>((m, ctx, o) => o.collect(describeMatch(String(ctx.key()), m)));
  out.sink(alerts);
  if (options.timedOut) out.getSideOutput(options.timedOut).sink(timedOut);
  return { job: j, alerts, timedOut };
}

/** A deterministic pseudo-random login stream over `users` users (mostly noise, some attacks). */
export function randomLogins(options: { users: number; events: number; seed: number; outOfOrderMs: number }): Login[] {
  let s = options.seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return ((s ^ (s >>> 13)) >>> 0) / 4294967296;
  };
  const out: Login[] = [];
  const counts = new Map<string, number>();
  for (let i = 0; i < options.events; i++) {
    // A few "hot" users under attack get most failures and IP changes.
    const hot = rnd() < 0.3;
    const user = `u${hot ? Math.floor(rnd() * 5) : Math.floor(rnd() * options.users)}`;
    const r = rnd();
    const type = hot ? (r < 0.6 ? "fail" : r < 0.9 ? "ip" : "ok") : r < 0.2 ? "fail" : r < 0.25 ? "ip" : "ok";
    const n = (counts.get(user) ?? 0) + 1;
    counts.set(user, n);
    const t = i * 2000 - Math.floor(rnd() * options.outOfOrderMs);
    out.push({ user, type, t, id: `${type[0]}${n}` });
  }
  return out;
}
