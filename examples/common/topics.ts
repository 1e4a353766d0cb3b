/**
 * Creates the Kafka topics a StreamJob reads and writes, from its manifest: stream sources with
 * their declared partitions, table and broadcast sources compacted (one partition for broadcast
 * rules: every worker reads all of it), sinks with --partitions. Topics that exist are left as
 * they are. What the examples' charts run as their topic-creation Job, and what to run before
 * starting an example's workers by hand.
 *
 *   node examples/common/topics.ts --job examples/risk-control/job.yaml --kafka kafka:9092
 */
import { parseOptions, runMain, usage, UsageError, type OptionSpec } from "./cli.ts";
import { ensureTopics, kafkaClient } from "./kafka.ts";
import { readManifest } from "./manifest.ts";

type Obj = Record<string, unknown>;

/** One topic to create. */
export interface JobTopic {
  topic: string;
  partitions: number;
  compacted: boolean;
  /** What uses it: `source <id>` or `sink <id>`. */
  role: string;
}

/** The Kafka topics of a StreamJob's pipeline; `sinkPartitions` for sinks and for sources that declare none. */
export function jobTopics(job: Obj, sinkPartitions: number): JobTopic[] {
  const pipeline = (job.spec as Obj | undefined)?.pipeline as { sources?: Obj[]; sinks?: Obj[] } | undefined;
  if (!pipeline) throw new UsageError("the manifest's StreamJob has no spec.pipeline (a SQL job names its topics in its CREATE TABLE statements)");
  const topics = new Map<string, JobTopic>();
  for (const s of pipeline.sources ?? []) {
    const kafka = s.kafka as Obj | undefined;
    if (typeof kafka?.topic !== "string") continue;
    const mode = typeof s.mode === "string" ? s.mode : "stream";
    const declared = typeof kafka.partitions === "number" ? kafka.partitions : undefined;
    const partitions = declared ?? (mode === "broadcast" ? 1 : sinkPartitions);
    topics.set(kafka.topic, { topic: kafka.topic, partitions, compacted: mode !== "stream", role: `source ${String(s.id)}` });
  }
  for (const s of pipeline.sinks ?? []) {
    const kafka = s.kafka as Obj | undefined;
    if (typeof kafka?.topic !== "string" || topics.has(kafka.topic)) continue;
    topics.set(kafka.topic, { topic: kafka.topic, partitions: sinkPartitions, compacted: false, role: `sink ${String(s.id)}` });
  }
  return [...topics.values()];
}

const OPTIONS: Record<string, OptionSpec> = {
  job: { type: "string", description: "the StreamJob manifest", placeholder: "file" },
  kafka: { type: "string", description: "comma-separated host:port brokers (default: the manifest's spec.kafka.bootstrapServers)", placeholder: "brokers" },
  partitions: { type: "integer", description: "partitions of the output topics (and of sources that declare none)", default: 4 },
  "replication-factor": { type: "integer", description: "replicas of each topic", default: 1 },
  "dry-run": { type: "boolean", description: "print the topics without creating them" },
};

const HELP = usage("node examples/common/topics.ts", "Creates the Kafka topics a StreamJob reads and writes (those that do not exist yet).", OPTIONS);

/** The command line. */
export async function main(argv: string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.job === undefined) throw new UsageError("--job <file> is required: the StreamJob manifest whose topics to create");
  const partitions = values.partitions as number;
  if (partitions < 1) throw new UsageError("--partitions must be at least 1");
  const job = readManifest(values.job as string);
  const topics = jobTopics(job, partitions);
  for (const t of topics) process.stdout.write(`${t.topic}: ${t.partitions} partition(s)${t.compacted ? ", compacted" : ""} (${t.role})\n`);
  if (values["dry-run"] === true) return 0;
  const fromSpec = ((job.spec as Obj).kafka as { bootstrapServers?: string[] } | undefined)?.bootstrapServers;
  const brokers = values.kafka === undefined ? fromSpec : String(values.kafka).split(",");
  if (!brokers || brokers.length === 0) throw new UsageError("no brokers: pass --kafka host:port or set spec.kafka.bootstrapServers");
  await ensureTopics(
    kafkaClient(
      brokers.map((b) => b.trim()),
      "runnel-topics",
    ),
    topics,
    values["replication-factor"] as number,
  );
  process.stdout.write(`${topics.length} topics present on ${brokers.join(",")}\n`);
  return 0;
}

if (import.meta.main) await runMain("node examples/common/topics.ts", HELP, main);
