/**
 * Names and creation of a job's internal topics. Every internal name starts with the job's
 * prefix `runnel.<namespace>.<job>`, which is also its consumer group (offsets for lag) and the
 * stem of its tasks' transactional ids, so two jobs never share anything on the cluster. The
 * changelog and repartition topics belong to one generation of the job
 * (`runnel.<namespace>.<job>.<generation>.…`, ADR 16); the generations topic belongs to the job.
 */
import { ConnectorError } from "../errors.ts";
import type { KafkaAdmin } from "../kafka/index.ts";

/** The job's identity on the Kafka cluster. */
export function jobPrefix(namespace: string, job: string): string {
  return `runnel.${namespace}.${job}`.replace(/[^a-zA-Z0-9._-]/g, "_");
}

/** The prefix of one generation's internal topics (changelog, repartition topics). */
export function generationPrefix(jobPrefix: string, generation: string): string {
  return `${jobPrefix}.${generation}`;
}

/** The job's compacted topic recording every generation ever started and the current one (ADR 16). */
export function generationsTopic(jobPrefix: string): string {
  return `${jobPrefix}.generations`;
}

/** The compacted topic holding every task's state changes (partition = task). */
export function changelogTopic(prefix: string): string {
  return `${prefix}.changelog`;
}

/** The topic carrying a keyBy's records to the task that owns their key (partition = task). */
export function repartitionTopic(prefix: string, operatorUid: string): string {
  return `${prefix}.${operatorUid.replace(/[^a-zA-Z0-9._-]/g, "_")}.repartition`;
}

/** Transactional id of one task's producer: a restarted (or duplicate) worker fences the old one per task. */
export function transactionalId(prefix: string, task: number): string {
  return `${prefix}.${task}`;
}

/** An internal topic to create. */
export interface InternalTopic {
  topic: string;
  partitions: number;
  /** Compacted (changelogs: the latest value per key is kept for good). */
  compacted: boolean;
  /**
   * Records stay until their reader purged them (repartition topics): no time-based retention,
   * since their timestamps are event times that may be old already when written.
   */
  purged?: boolean;
}

/** Largest message of internal topics: a checkpoint's task metadata carries the task's timers. */
const MAX_MESSAGE_BYTES = String(64 * 1024 * 1024);

/** The topic configs of an internal topic. */
export function internalTopicConfigs(t: InternalTopic): Record<string, string> {
  return {
    "cleanup.policy": t.compacted ? "compact" : "delete",
    "max.message.bytes": MAX_MESSAGE_BYTES,
    ...(t.purged ? { "retention.ms": "-1", "retention.bytes": "-1" } : {}),
  };
}

/**
 * Creates the topics that do not exist yet and checks the partition count of those that do
 * (a changelog with another partition count belongs to a job with another parallelism). Only
 * the creator (worker 0) creates; the others wait a while for the topics, then create them too.
 * The creator also brings purged topics made before they were purged to unlimited retention.
 */
export async function ensureTopics(admin: KafkaAdmin, topics: InternalTopic[], replicationFactor: number, creator = true): Promise<void> {
  let existing = new Set(await admin.listTopics());
  for (let waited = 0; !creator && waited < 15_000 && topics.some((t) => !existing.has(t.topic)); waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
    existing = new Set(await admin.listTopics());
  }
  const missing = topics.filter((t) => !existing.has(t.topic));
  await admin.createTopics(missing.map((t) => ({ topic: t.topic, partitions: t.partitions, replicationFactor, configs: internalTopicConfigs(t) })));
  if (creator) {
    for (const t of topics.filter((x) => x.purged && existing.has(x.topic))) {
      if ((await admin.topicConfigs(t.topic))["retention.ms"] !== "-1") await admin.setTopicConfigs(t.topic, internalTopicConfigs(t));
    }
  }
  const present = missing.length > 0 ? topics : topics.filter((t) => existing.has(t.topic));
  if (present.length === 0) return;
  const counts = await admin.partitionCounts(present.map((t) => t.topic));
  for (const t of present) {
    const n = counts.get(t.topic) ?? 0;
    if (n !== t.partitions) {
      throw new ConnectorError(
        `internal topic '${t.topic}' has ${n} partitions but the job runs ${t.partitions} tasks: the job's input partition count changed; restore from a savepoint into a new job name, or delete the job's internal topics`,
        false,
      );
    }
  }
}
