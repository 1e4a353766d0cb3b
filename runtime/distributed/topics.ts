/**
 * Names and creation of a job's internal topics. Every internal name starts with the job's
 * prefix `runnel.<namespace>.<job>`, which is also its consumer group (offsets for lag) and the
 * stem of its tasks' transactional ids, so two jobs never share anything on the cluster. The
 * changelog and repartition topics belong to one generation of the job
 * (`runnel.<namespace>.<job>.<generation>.…`, ADR 16); the generations topic belongs to the job.
 */
import type { Admin } from "kafkajs";
import { ConnectorError } from "../errors.ts";

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
  /** Compacted (changelogs) or deleted after retention (repartition topics). */
  compacted: boolean;
}

/** Largest message of internal topics: a checkpoint's task metadata carries the task's timers. */
const MAX_MESSAGE_BYTES = String(64 * 1024 * 1024);

/**
 * Creates the topics that do not exist yet and checks the partition count of those that do
 * (a changelog with another partition count belongs to a job with another parallelism). Only
 * the creator (worker 0) creates; the others wait a while for the topics, then create them too.
 */
export async function ensureTopics(admin: Admin, topics: InternalTopic[], replicationFactor: number, creator = true): Promise<void> {
  let existing = new Set(await admin.listTopics());
  for (let waited = 0; !creator && waited < 15_000 && topics.some((t) => !existing.has(t.topic)); waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
    existing = new Set(await admin.listTopics());
  }
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) {
    // Workers start together: another may create a topic first (TOPIC_ALREADY_EXISTS is fine).
    await admin
      .createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor,
          configEntries: [
            { name: "cleanup.policy", value: t.compacted ? "compact" : "delete" },
            { name: "max.message.bytes", value: MAX_MESSAGE_BYTES },
          ],
        })),
      })
      .catch((err: unknown) => {
        const errors = (err as { errors?: { type?: string }[] }).errors;
        if (!errors || !errors.every((e) => e.type === "TOPIC_ALREADY_EXISTS")) throw err;
      });
  }
  const present = missing.length > 0 ? topics : topics.filter((t) => existing.has(t.topic));
  if (present.length === 0) return;
  const meta = await ledMetadata(
    admin,
    present.map((t) => t.topic),
  );
  for (const t of present) {
    const n = meta.topics.find((m) => m.name === t.topic)?.partitions.length ?? 0;
    if (n !== t.partitions) {
      throw new ConnectorError(
        `internal topic '${t.topic}' has ${n} partitions but the job runs ${t.partitions} tasks: the job's input partition count changed; restore from a savepoint into a new job name, or delete the job's internal topics`,
        false,
      );
    }
  }
}

/** How long a just-created topic may take to be known with a leader for every partition. */
const LEADERS_TIMEOUT_MS = 30_000;

/**
 * The topics' metadata once every partition has a leader. Right after creation a broker may still
 * answer UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE (retriable): ask again rather than
 * let the worker's first send or read fail on it.
 */
async function ledMetadata(admin: Admin, topics: string[]): Promise<Awaited<ReturnType<Admin["fetchTopicMetadata"]>>> {
  const deadline = Date.now() + LEADERS_TIMEOUT_MS;
  for (;;) {
    let last: unknown;
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      const led = topics.every((name) => meta.topics.find((m) => m.name === name)?.partitions.every((p) => p.leader >= 0) === true);
      if (led) return meta;
    } catch (err) {
      if ((err as { retriable?: unknown }).retriable !== true) throw err;
      last = err;
    }
    if (Date.now() > deadline)
      throw new ConnectorError(
        `internal topics ${topics.join(", ")} have no leader for every partition after ${LEADERS_TIMEOUT_MS / 1000} s${last ? ` (${(last as Error).message})` : ""}; is the Kafka cluster healthy?`,
        true,
        last,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}
