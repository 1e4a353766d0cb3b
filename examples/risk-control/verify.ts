/**
 * Verifier of the risk-control example: recomputes every decision and alert from the input
 * (expected.ts, plain TypeScript) and compares them with what the job wrote — the folders of a
 * local run, or Kafka read committed on a cluster. The rules are those on the rules input at the
 * end (a run whose rules changed midway is checked by its test, which knows when they changed).
 *
 *   node examples/risk-control/verify.ts --input examples/risk-control/data --output out
 *   node examples/risk-control/verify.ts --kafka kafka:9092 --wait 5m
 */
import { join } from "node:path";
import { parseOptions, runMain, usage } from "../common/cli.ts";
import { compareKeyed, type Report } from "../common/compare.ts";
import { deadLettersByReason } from "../common/dead-letters.ts";
import { sinkTarget, sourceTopics } from "../common/manifest.ts";
import { readInput, readOutput } from "../common/records.ts";
import { runVerification, VERIFY_OPTIONS, verifyContext, type VerifyContext } from "../common/verify-cli.ts";
import { expectedRisk, ruleSet, type Rule } from "./expected.ts";

const JOB = join(import.meta.dirname, "job.yaml");

/** Checks the job's outputs; `rulesFor` overrides which rules decided an order (default: the rules topic's final state). */
export async function verifyRisk(ctx: VerifyContext, rulesFor?: (order: { orderId: string; ts: number }) => readonly Rule[]): Promise<Report> {
  const topics = sourceTopics(ctx.job);
  const read = (id: string) => readInput(ctx.loc, topics.get(id) as string);
  const rules = ruleSet(await read("rules"));
  const expected = expectedRisk(
    { orders: await read("orders"), behaviour: await read("behaviour"), devices: await read("devices") },
    rulesFor ?? (() => rules),
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
