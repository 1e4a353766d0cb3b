/**
 * Adds, changes or deletes a risk rule on the rules topic: the running job applies it to the
 * orders it decides next, without a restart (docs/risk-control.md). A rule is
 * {id, condition (CEL over `record`, the scored order), action}; the topic is compacted, keyed by id.
 *
 *   node examples/risk-control/rules.ts --kafka kafka:9092 --set '{"id": "block-huge", "condition": "record.amount >= 1800", "action": "BLOCK"}'
 *   node examples/risk-control/rules.ts --kafka kafka:9092 --delete block-huge
 */
import { check } from "@marcbachmann/cel-js";
import { parseOptions, runMain, usage, UsageError, type OptionSpec } from "../common/cli.ts";
import { ensureTopics, inputProducer, kafkaClient } from "../common/kafka.ts";
import { TOPICS } from "./generator.ts";

const OPTIONS: Record<string, OptionSpec> = {
  kafka: { type: "string", description: "comma-separated host:port brokers", placeholder: "brokers" },
  topic: { type: "string", description: "the rules topic", default: TOPICS.rules },
  set: { type: "string", description: 'add or replace a rule: {"id", "condition", "action"}', placeholder: "json" },
  delete: { type: "string", description: "delete the rule with this id", placeholder: "id" },
};

const HELP = usage("node examples/risk-control/rules.ts", "Adds, changes or deletes a risk rule on the rules topic of a running risk-control job.", OPTIONS);

/** The message for --set, checked: an id, an action, and a condition that is valid CEL. */
export function ruleMessage(json: string): { id: string; condition: string; action: string } {
  let rule: unknown;
  try {
    rule = JSON.parse(json);
  } catch (err) {
    throw new UsageError(`--set must be a JSON object: ${(err as Error).message}`);
  }
  const r = rule as Record<string, unknown>;
  for (const f of ["id", "condition", "action"])
    if (typeof r[f] !== "string" || r[f] === "") throw new UsageError(`--set: the rule needs a non-empty string "${f}"`);
  const parsed = check(r.condition as string);
  if (!parsed.valid) throw new UsageError(`--set: the condition is not valid CEL: ${(parsed.error?.message ?? "unknown error").split("\n")[0] ?? ""}`);
  return { id: r.id as string, condition: r.condition as string, action: r.action as string };
}

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.kafka === undefined) throw new UsageError("--kafka <brokers> is required");
  if ((values.set === undefined) === (values.delete === undefined)) throw new UsageError("give exactly one of --set <json> and --delete <id>");
  const kafka = kafkaClient(
    String(values.kafka)
      .split(",")
      .map((b) => b.trim()),
    "risk-rules",
  );
  const topic = values.topic as string;
  const message = values.set !== undefined ? ruleMessage(values.set as string) : { id: values.delete as string, deleted: true };
  await ensureTopics(kafka, [{ topic, partitions: 1, compacted: true }]);
  const producer = await inputProducer(kafka);
  try {
    await producer.send(topic, [{ key: message.id, value: JSON.stringify(message) }]);
    process.stdout.write(`${values.set !== undefined ? "set" : "deleted"} rule ${message.id} on ${topic}\n`);
  } finally {
    await producer.disconnect();
  }
  return 0;
}

if (import.meta.main) await runMain("node examples/risk-control/rules.ts", HELP, main);
