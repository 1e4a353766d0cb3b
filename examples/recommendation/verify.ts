/**
 * Verifier of the recommendation example: recomputes the ranked lists, the profiles and the
 * final Redis state from the input (expected.ts, plain TypeScript) and compares them with what the
 * job wrote — the folders of a local run, or Kafka (read committed) and Redis on a cluster.
 *
 *   node examples/recommendation/verify.ts --input examples/recommendation/data --output out
 *   node examples/recommendation/verify.ts --kafka kafka:9092 --redis redis:6379 --wait 5m
 */
import { join } from "node:path";
import { parseOptions, runMain, usage } from "../common/cli.ts";
import { compareKeyed, type OutputCheck, type Report } from "../common/compare.ts";
import { deadLettersByReason } from "../common/dead-letters.ts";
import { sinkTarget, sourceTopics } from "../common/manifest.ts";
import { readInput, readOutput, readRedis, replayRedisWrites } from "../common/records.ts";
import { runVerification, VERIFY_OPTIONS, verifyContext, type VerifyContext } from "../common/verify-cli.ts";
import { expectedRecommendation } from "./expected.ts";

const JOB = join(import.meta.dirname, "job.yaml");

/** Checks the job's outputs against the recomputed results. */
export async function verifyRecommendation(ctx: VerifyContext): Promise<Report> {
  const topics = sourceTopics(ctx.job);
  const read = (id: string) => readInput(ctx.loc, topics.get(id) as string);
  // The item features: the latest row per category (a compacted topic, or the local file).
  const items = new Map<string, { itemId: string; score: number }[]>();
  for (const r of await read("items-by-tag")) if (r.value) items.set(String(r.value.key ?? r.value.tag), r.value.items as { itemId: string; score: number }[]);
  const expected = expectedRecommendation({ clicks: await read("clicks"), browse: await read("browse"), purchases: await read("purchases") }, items);
  const out = async (id: string) => readOutput(ctx.loc, sinkTarget(ctx.job, id));
  const checks: OutputCheck[] = [];
  checks.push(
    compareKeyed(
      "kafka-recs",
      expected.ranked,
      (await out("kafka-recs")).map((r) => ({ key: `${String(r.value.userId)}@${String(r.value.windowEnd)}`, value: r.value })),
    ),
  );
  const redisSink = sinkTarget(ctx.job, "redis-recs");
  const prefix = redisSink.redisPrefix ?? "";
  const want = new Map([...expected.redis].map(([u, v]) => [u, { members: v.members, version: v.version }]));
  if (ctx.loc.kind === "files") {
    const state = replayRedisWrites(await out("redis-recs"), prefix);
    checks.push(
      compareKeyed(
        "redis-recs (Redis writes)",
        want,
        [...state].map(([key, s]) => ({ key, value: { members: s.value, version: s.version } })),
      ),
    );
  } else if (ctx.redis) {
    const state = await readRedis(ctx.redis, prefix, "zset");
    const check = compareKeyed(
      "redis-recs (Redis)",
      want,
      [...state].map(([key, s]) => ({ key, value: { members: s.value, version: Number(s.version) } })),
    );
    // A sorted set per user expires the sink's ttl after its last write (none without a ttl).
    const ttl = redisSink.redisTtlMs;
    for (const [key, s] of state) {
      const ok = ttl === undefined ? s.ttlMs === -1 : s.ttlMs > 0 && s.ttlMs <= ttl;
      if (!ok) check.different.push(`${key}: expiry ${s.ttlMs} ms, expected ${ttl === undefined ? "none" : `within ${ttl} ms`}`);
    }
    checks.push(check);
  }
  checks.push(
    compareKeyed(
      "profiles",
      expected.profiles,
      (await out("profiles")).map((r) => ({ key: `${String(r.value.userId)}@${String(r.value.refreshedAt)}`, value: r.value })),
    ),
  );
  checks.push(
    compareKeyed("dead-letters", expected.deadLetters, deadLettersByReason(await out("dead-letters"), ["clean-clicks", "clean-browse", "clean-purchases"])),
  );
  const problems =
    expected.ambiguous > 0
      ? [`${expected.ambiguous} input events are late by less than the generator's late events: whether they count depends on timing`]
      : [];
  return { checks, problems };
}

const HELP = usage(
  "node examples/recommendation/verify.ts",
  "Recomputes the recommendation example's ranked lists, profiles and Redis state from its input and compares them with what the job wrote.",
  VERIFY_OPTIONS,
);

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, VERIFY_OPTIONS);
  return runVerification(values, verifyContext(values, JOB), verifyRecommendation);
}

if (import.meta.main) await runMain("node examples/recommendation/verify.ts", HELP, main);
