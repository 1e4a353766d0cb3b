/**
 * Verifier of the short-video analytics example: recomputes every output from the input
 * (expected.ts, plain TypeScript) and compares it with what the job wrote — the folders of a
 * local run, or Kafka (read committed) and Redis on a cluster.
 *
 *   node examples/analytics/verify.ts --input examples/analytics/data --output out
 *   node examples/analytics/verify.ts --kafka kafka:9092 --redis redis:6379 --wait 5m
 */
import { join } from "node:path";
import { parseOptions, runMain, usage, type OptionSpec } from "../common/cli.ts";
import { compareBag, compareKeyed, type OutputCheck, type Report } from "../common/compare.ts";
import { deadLettersByReason } from "../common/dead-letters.ts";
import { sinkTarget, sourceTopics, stepOf, text } from "../common/manifest.ts";
import { readInput, readOutput, readRedis, replayRedisWrites } from "../common/records.ts";
import { runVerification, VERIFY_OPTIONS, verifyContext, type VerifyContext } from "../common/verify-cli.ts";
import { expectedAnalytics, expectedLtv } from "./expected.ts";
import { USERS_FILE } from "./generator.ts";

const JOB = join(import.meta.dirname, "job.yaml");
const LTV_JOB = join(import.meta.dirname, "ltv.yaml");

/** The user dimension the job looked up: the local file, or the Redis hashes. */
async function users(ctx: VerifyContext): Promise<Map<string, Record<string, unknown>>> {
  if (ctx.loc.kind === "files") {
    const rows = await readInput({ ...ctx.loc }, USERS_FILE);
    return new Map(rows.flatMap((r) => (r.value ? [[String(r.value.key), r.value] as const] : [])));
  }
  if (!ctx.redis) throw new Error("a cluster run needs --redis (the user dimension and the profiles live there)");
  const prefix = text((stepOf(ctx.job, "features").lookupJoin as Record<string, unknown>).redis as Record<string, unknown>, "keyPrefix");
  const hashes = await readRedis(ctx.redis, prefix, "hash");
  return new Map([...hashes].map(([k, v]) => [k, v.value as Record<string, unknown>]));
}

/** Checks every output of the job against the recomputed results. */
export async function verifyAnalytics(ctx: VerifyContext): Promise<Report> {
  const topic = sourceTopics(ctx.job).get("behaviour") as string;
  const input = await readInput(ctx.loc, topic);
  const expected = expectedAnalytics(input, await users(ctx));
  const out = async (id: string) => readOutput(ctx.loc, sinkTarget(ctx.job, id));
  const checks: OutputCheck[] = [];
  const v = (r: { value: Record<string, unknown> }) => r.value;

  checks.push(
    compareKeyed(
      "minute-metrics",
      expected.minuteMetrics,
      (await out("minute-metrics")).map((r) => ({ key: `${String(r.value.type)}@${String(r.value.windowStart)}`, value: r.value })),
      { updates: true },
    ),
  );
  checks.push(
    compareKeyed(
      "late",
      expected.late,
      (await out("late")).map((r) => ({ key: String(r.value.eventId), value: r.value })),
    ),
  );
  checks.push(compareBag("profile-updates", expected.profileUpdates, (await out("profile-updates")).map(v)));
  const profilesSink = sinkTarget(ctx.job, "profiles");
  const wantProfiles = new Map([...expected.profiles].map(([u, p]) => [u, { fields: p.fields, version: p.version }]));
  if (ctx.loc.kind === "files") {
    const state = replayRedisWrites(await out("profiles"), profilesSink.redisPrefix ?? "");
    checks.push(
      compareKeyed(
        "profiles (Redis writes)",
        wantProfiles,
        [...state].map(([key, s]) => ({ key, value: { fields: s.value, version: s.version } })),
      ),
    );
  } else if (ctx.redis) {
    const state = await readRedis(ctx.redis, profilesSink.redisPrefix ?? "", "hash");
    const check = compareKeyed(
      "profiles (Redis)",
      wantProfiles,
      [...state].map(([key, s]) => ({ key, value: { fields: s.value, version: Number(s.version) } })),
    );
    for (const [key, s] of state) if (!(s.ttlMs > 0)) check.different.push(`${key}: no expiry (pttl ${s.ttlMs})`);
    checks.push(check);
  }
  checks.push(
    compareKeyed(
      "engagement",
      expected.sessions,
      (await out("engagement")).map((r) => ({ key: `${String(r.value.userId)}@${String(r.value.start)}`, value: r.value })),
    ),
  );
  checks.push(
    compareKeyed(
      "ml-features",
      expected.features,
      (await out("ml-features")).map((r) => ({ key: String(r.value.eventId), value: r.value })),
    ),
  );
  checks.push(
    compareKeyed(
      "realtime",
      expected.realtime,
      (await out("realtime")).map((r) => ({ key: `${String(r.value.type)}/${String(r.value.region)}@${String(r.value.windowStart)}`, value: r.value })),
    ),
  );
  checks.push(compareKeyed("dead", expected.deadLetters, deadLettersByReason(await out("dead"), ["valid"])));
  const problems: string[] = [];
  if (expected.ambiguous > 0)
    problems.push(`${expected.ambiguous} input events are late in a way whose outcome depends on timing (the generator never makes such events)`);
  return { checks, problems };
}

/** Checks the lifetime-value query's output (ltv.yaml) against the recomputed values. */
export async function verifyLtv(ctx: VerifyContext): Promise<Report> {
  const input = await readInput(ctx.loc, sourceTopics(ctx.job).get("history") as string);
  const expected = expectedLtv(input);
  const out = async (id: string) => readOutput(ctx.loc, sinkTarget(ctx.job, id));
  return {
    checks: [
      compareKeyed(
        "ltv",
        expected.ltv,
        (await out("ltv")).map((r) => ({ key: String(r.value.userId), value: r.value })),
      ),
      compareKeyed("dead", expected.deadLetters, deadLettersByReason(await out("dead"), ["valid"])),
    ],
    problems: [],
  };
}

const OPTIONS: Record<string, OptionSpec> = {
  ...VERIFY_OPTIONS,
  ltv: { type: "boolean", description: "verify the lifetime-value query (ltv.yaml) instead of the streaming job" },
};
const HELP = usage(
  "node examples/analytics/verify.ts",
  "Recomputes the analytics example's results from its input and compares them with what the job wrote.",
  OPTIONS,
);

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  const ltv = values.ltv === true;
  const ctx = verifyContext(values, ltv ? LTV_JOB : JOB);
  return runVerification(values, ctx, ltv ? verifyLtv : verifyAnalytics);
}

if (import.meta.main) await runMain("node examples/analytics/verify.ts", HELP, main);
