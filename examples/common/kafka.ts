/**
 * Kafka for the example generators and verifiers, through Runnel's Kafka adapter (runtime/kafka):
 * an idempotent producer placing keyed records on their key's murmur2 partition (where the jobs'
 * `partitionedBy` expects them), topic creation, and reading a topic to its current end with the
 * adapter's read-committed reader (records of aborted or still open transactions never show).
 */
import { createKafkaClient, readCommitted, type KafkaClient, type KafkaProducer, type KafkaRecord, type TopicSpec } from "../../runtime/kafka/index.ts";

/** One record read back. */
export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** The record's Kafka timestamp (ms). */
  timestamp: number;
}

/** A client for brokers given as host:port strings. */
export function kafkaClient(brokers: string[], clientId: string): { client: KafkaClient; brokers: string[] } {
  return { client: createKafkaClient({ brokers, clientId }, { logLevel: "error" }), brokers };
}

/** A Kafka cluster as the examples use it. */
export type Cluster = ReturnType<typeof kafkaClient>;

/** Creates the topics that do not exist yet (partitions as given, 1 replica unless told); inputs keep their records. */
export async function ensureTopics(kafka: Cluster, topics: { topic: string; partitions: number; compacted?: boolean }[], replicationFactor = 1): Promise<void> {
  const admin = kafka.client.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    await admin.createTopics(
      missing.map((t): TopicSpec => ({
        topic: t.topic,
        partitions: t.partitions,
        replicationFactor,
        configs: t.compacted ? { "cleanup.policy": "compact" } : { "retention.ms": "-1" },
      })),
    );
  } finally {
    await admin.disconnect();
  }
}

/** Number of partitions of a topic. */
export async function partitionCount(kafka: Cluster, topic: string): Promise<number> {
  const admin = kafka.client.admin();
  await admin.connect();
  try {
    return (await admin.partitionCounts([topic])).get(topic) ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** An idempotent producer (a retried send never duplicates input). */
export async function inputProducer(kafka: Cluster): Promise<KafkaProducer> {
  const producer = kafka.client.producer();
  await producer.connect();
  return producer;
}

const text = (v: Buffer | string | (Buffer | string)[] | undefined): string | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? String(v[0]) : String(v);

/**
 * Every record of `topic` up to its end offsets as of the call, in offset order per partition,
 * committed only (non-transactional records count as committed). A transaction still open at
 * the end stops the read after `idleMs` without progress.
 */
export async function readTopic(kafka: Cluster, topic: string, options: { idleMs?: number } = {}): Promise<ReadRecord[]> {
  const admin = kafka.client.admin();
  await admin.connect();
  let ends: Map<number, number>;
  try {
    ends = new Map((await admin.offsets(topic)).map((o) => [o.partition, o.high]));
  } finally {
    await admin.disconnect();
  }
  const out: ReadRecord[] = [];
  const done = (positions: Map<number, number>): boolean => [...ends].every(([p, high]) => (positions.get(p) ?? 0) >= high);
  const reader = await readCommitted({
    brokers: kafka.brokers,
    topic,
    startFrom: "earliest",
    eachBatch: (records: KafkaRecord[], partition: number) => {
      const high = ends.get(partition) ?? 0;
      for (const r of records) {
        if (r.offset >= high) continue;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) {
          const t = text(v);
          if (t !== undefined) headers[k] = t;
        }
        out.push({ partition, offset: r.offset, key: r.key?.toString("utf8") ?? null, value: r.value, headers, timestamp: r.timestamp });
      }
    },
  });
  try {
    let last = "";
    let lastProgress = Date.now();
    for (;;) {
      const positions = reader.positions();
      if (done(positions)) break;
      const now = JSON.stringify([...positions]);
      if (now !== last) {
        last = now;
        lastProgress = Date.now();
      } else if (Date.now() - lastProgress > (options.idleMs ?? 15_000)) break;
      await Promise.race([reader.failed, new Promise((r) => setTimeout(r, 100))]);
    }
  } finally {
    await reader.stop();
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
