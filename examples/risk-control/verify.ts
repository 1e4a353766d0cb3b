/**
 * Verifier of the risk-control example: recomputes every decision and alert from the input
 * (expected.ts, plain TypeScript) and compares them with what the job wrote — the folders of a
 * local run, or Kafka read committed on a cluster. The rules are those on the rules input at the
 * end (a run whose rules changed midway is checked by its test, which knows when they changed);
 * the decision threshold is the manifest's (step `scored`), the model's weights the verifier's own.
 *
 *   node examples/risk-control/verify.ts --input examples/risk-control/data --output out
 *   node examples/risk-control/verify.ts --kafka kafka:9092 --wait 5m
 */
import { join } from "node:path";
import { parseOptions, runMain, usage } from "../common/cli.ts";
import { compareKeyed, type Report } from "../common/compare.ts";
import { deadLettersByReason } from "../common/dead-letters.ts";
import { sinkTarget, sourceTopics, stepOf } from "../common/manifest.ts";
import { readInput, readOutput } from "../common/records.ts";
import { runVerification, VERIFY_OPTIONS, verifyContext, type VerifyContext } from "../common/verify-cli.ts";
import { expectedRisk, MODEL, ruleSet, type Rule } from "./expected.ts";

const JOB = join(import.meta.dirname, "job.yaml");

/** The BLOCK threshold of the manifest's `scored` step (the verifier's own when the manifest has none). */
export function manifestThreshold(job: Record<string, unknown>): number {
  const score = stepOf(job, "scored").score as { threshold?: { value?: unknown } } | undefined;
  const value = score?.threshold?.value;
  return typeof value === "number" ? value : MODEL.threshold;
}

/** An order, as the overrides below see it. */
type Order = { orderId: string; ts: number };

/**
 * Checks the job's outputs. `rulesFor` overrides which rules decided an order (default: the rules
 * topic's final state), `thresholdFor` which threshold (default: the manifest's) — for a run whose
 * rules or model changed midway.
 */
export async function verifyRisk(ctx: VerifyContext, rulesFor?: (order: Order) => readonly Rule[], thresholdFor?: (order: Order) => number): Promise<Report> {
  const topics = sourceTopics(ctx.job);
  const read = (id: string) => readInput(ctx.loc, topics.get(id) as string);
  const rules = ruleSet(await read("rules"));
  const threshold = manifestThreshold(ctx.job);
  const expected = expectedRisk(
    { orders: await read("orders"), behaviour: await read("behaviour"), devices: await read("devices") },
    rulesFor ?? (() => rules),
    thresholdFor ?? (() => threshold),
  );
  const out = async (id: string) => readOutput(ctx.loc, sinkTarget(ctx.job, id));
  return {
    checks: [
      compareKeyed(
        "decisions",
        expected.decisions,
        (await out("decisions-out")).map((r) => ({ key: String(r.value.orderId), value: r.value })),
      ),
      compareKeyed(
        "alerts",
        expected.alerts,
        (await out("alerts-out")).map((r) => ({ key: `${String(r.value.userId)}@${String(r.value.detectedAt)}`, value: r.value })),
      ),
      compareKeyed("dead-letters", expected.deadLetters, deadLettersByReason(await out("dead-letters"), ["clean-orders", "clean-behaviour", "clean-devices"])),
    ],
    problems:
      expected.ambiguous > 0
        ? [`${expected.ambiguous} input events are late by less than the generator's late events: whether they count depends on timing`]
        : [],
  };
}

const HELP = usage(
  "node examples/risk-control/verify.ts",
  "Recomputes the risk-control example's decisions and alerts from its input and compares them with what the job wrote.",
  VERIFY_OPTIONS,
);

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, VERIFY_OPTIONS);
  return runVerification(values, verifyContext(values, JOB), (ctx) => verifyRisk(ctx));
}

if (import.meta.main) await runMain("node examples/risk-control/verify.ts", HELP, main);
