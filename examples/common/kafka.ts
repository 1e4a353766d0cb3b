/**
 * Kafka for the example generators and verifiers: an idempotent producer (a retried send never
 * duplicates input) keyed with Kafka's default partitioner, topic creation, and reading a topic
 * to its current end — committed records only, through Runnel's own read-committed filter
 * (kafkajs alone lets records of aborted transactions through).
 */
import { Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import { CommittedFilter, rawMessages } from "../../runtime/connectors/kafka/read-committed.ts";

/** One record read back. */
export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** A client for brokers given as host:port strings. */
export function kafkaClient(brokers: string[], clientId: string): Kafka {
  return new Kafka({ brokers, clientId, logLevel: logLevel.NOTHING, retry: { retries: 8 } });
}

/** Creates the topics that do not exist yet (partitions as given, 1 replica unless told). */
export async function ensureTopics(kafka: Kafka, topics: { topic: string; partitions: number; compacted?: boolean }[], replicationFactor = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions,
        replicationFactor,
        configEntries: t.compacted ? [{ name: "cleanup.policy", value: "compact" }] : [{ name: "retention.ms", value: "-1" }],
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Number of partitions of a topic. */
export async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    return meta.topics[0]?.partitions.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** An idempotent producer with Kafka's default (murmur2) partitioner, so keys land where Runnel's keyBy expects them. */
export async function inputProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return producer;
}

/**
 * Every record of `topic` up to its end offsets as of the call, in offset order per partition.
 * With `committed`, records of aborted or still-open transactions are left out (a transaction
 * still open at the end stops the read after `idleMs` without progress).
 */
export async function readTopic(kafka: Kafka, topic: string, options: { committed: boolean; idleMs?: number }): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, number>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const reached = new Map<number, number>([...ends.keys()].map((p) => [p, 0]));
  const done = (): boolean => [...ends].every(([p, high]) => (reached.get(p) ?? 0) >= high);
  const out: ReadRecord[] = [];
  if (done()) return out;
  const consumer = kafka.consumer({ groupId: `runnel-verify-${process.pid}-${Date.now().toString(36)}`, readUncommitted: !options.committed });
  const filters = new Map<number, CommittedFilter>();
  let lastProgress = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const raw = rawMessages(batch);
        const filter = filters.get(batch.partition) ?? new CommittedFilter();
        filters.set(batch.partition, filter);
        const records = options.committed ? filter.accept(raw) : raw.filter((m) => !m.isControlRecord);
        const high = ends.get(batch.partition) ?? 0;
        for (const m of records) {
          if (Number(m.offset) >= high) continue;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
          out.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString("utf8") ?? null, value: m.value, headers });
        }
        if (raw.length > 0) {
          const last = Number((raw[raw.length - 1] as { offset: string }).offset) + 1;
          const through = options.committed ? Math.min(last, filter.through) : last;
          if (through > (reached.get(batch.partition) ?? 0)) {
            reached.set(batch.partition, through);
            lastProgress = Date.now();
          }
        }
      },
    });
    while (!done() && Date.now() - lastProgress < (options.idleMs ?? 15_000)) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
