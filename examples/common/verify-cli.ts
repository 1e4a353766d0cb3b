/**
 * The command line every example verifier shares: which manifest (for topics, sinks and key
 * prefixes), where the input and the job's output are (folders of a local run, or Kafka and
 * Redis), and how long to keep checking while the job catches up. Exit 0 when every output equals
 * the independently computed result, 1 when not, 2 for a bad command line.
 */
import { Redis } from "ioredis";
import { durationOption, UsageError, type OptionSpec, type Values } from "./cli.ts";
import { formatReport, passed, type Report } from "./compare.ts";
import { kafkaClient } from "./kafka.ts";
import { readManifest } from "./manifest.ts";
import type { Location } from "./records.ts";

/** Options of every verifier. */
export const VERIFY_OPTIONS: Record<string, OptionSpec> = {
  job: { type: "string", description: "the StreamJob manifest that ran (its topics, sinks and Redis key prefixes)", placeholder: "file" },
  input: { type: "string", description: "local run: the folder the generator wrote (--out of the generator)", placeholder: "dir" },
  output: { type: "string", description: "local run: the folder `runnel run --out` wrote", placeholder: "dir" },
  kafka: { type: "string", description: "cluster run: read input and output topics from these brokers (output read committed)", placeholder: "brokers" },
  redis: { type: "string", description: "cluster run: read the Redis outputs (and lookups) from here", placeholder: "host:port" },
  wait: { type: "string", description: "keep checking this long while outputs are still missing (the job catching up)", default: "0s" },
  limit: { type: "integer", description: "problems shown per output", default: 5 },
};

/** What a verification reads from. */
export interface VerifyContext {
  job: Record<string, unknown>;
  loc: Location;
  redis?: Redis;
}

/** Builds the context from the options; `defaultJob` is the example's manifest. */
export function verifyContext(values: Values, defaultJob: string): VerifyContext {
  const job = readManifest((values.job as string | undefined) ?? defaultJob);
  const files = values.input !== undefined || values.output !== undefined;
  if (files === (values.kafka !== undefined))
    throw new UsageError("give either --input <dir> and --output <dir> (a local run) or --kafka <brokers> (a cluster run)");
  if (files && (values.input === undefined || values.output === undefined)) throw new UsageError("a local run needs both --input <dir> and --output <dir>");
  const loc: Location = files
    ? { kind: "files", inputDir: values.input as string, outputDir: values.output as string }
    : {
        kind: "kafka",
        kafka: kafkaClient(
          String(values.kafka)
            .split(",")
            .map((b) => b.trim()),
          "runnel-verify",
        ),
        topicPrefix: "",
      };
  let redis: Redis | undefined;
  if (values.redis !== undefined) {
    const m = /^(.+):(\d+)$/.exec(String(values.redis));
    if (!m) throw new UsageError(`--redis must be host:port, got '${String(values.redis)}'`);
    redis = new Redis({ host: m[1], port: Number(m[2]), lazyConnect: true, maxRetriesPerRequest: 2 });
  }
  return { job, loc, ...(redis ? { redis } : {}) };
}

/** Runs `verify` until it passes or --wait is over, prints the report; returns the exit code. */
export async function runVerification(values: Values, ctx: VerifyContext, verify: (ctx: VerifyContext) => Promise<Report>): Promise<number> {
  const deadline = Date.now() + durationOption(values, "wait");
  try {
    if (ctx.redis) await ctx.redis.connect();
    for (;;) {
      const report = await verify(ctx);
      if (passed(report) || Date.now() >= deadline) {
        process.stdout.write(formatReport(report, values.limit as number));
        return passed(report) ? 0 : 1;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    await ctx.redis?.quit().catch(() => undefined);
  }
}
