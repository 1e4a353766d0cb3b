/**
 * Reading a Runnel topic from Node with read_committed semantics that hold. A plain kafkajs
 * consumer with `readUncommitted: false` was seen passing on 22–57 % of the records of aborted
 * transactions of a Runnel exactly-once output (duplicates, after worker crashes), where Kafka's
 * Java consumer saw every output once: kafkajs 2.2.4 matches aborted transactions to records by
 * offset alone. `readCommitted` reads through Runnel's own filter (read-committed.ts), which
 * decides every transactional record by its producer's commit or abort marker.
 *
 *     import { readCommitted } from "./runtime/kafka/index.ts";
 *     const reader = await readCommitted({
 *       brokers: ["kafka:9092"], topic: "decisions", groupId: "billing",
 *       eachBatch: async (records) => { for (const r of records) handle(JSON.parse(String(r.value))); },
 *     });
 *     // … later
 *     await reader.stop();
 *
 * With a `groupId`, a partition starts at the group's committed offset (else `startFrom`), and
 * the position after each handled batch is committed to the group, so lag tools see the reader;
 * the reader never joins `groupId` itself (it takes the partitions it is given, like Kafka's
 * `assign()`; kafkajs needs a group of its own for that, `<groupId>.reader.<random>`), so run one
 * reader per group, or give each its own `partitions`.
 */
import { randomUUID } from "node:crypto";
import { ConnectorError } from "../errors.ts";
import { createKafkaClient } from "./client.ts";
import type { KafkaConnection } from "./connection.ts";
import type { KafkaRecord } from "./messages.ts";

/** Options of readCommitted. */
export interface CommittedReaderOptions {
  /** host:port of one or more brokers. */
  brokers: string[];
  topic: string;
  /** Consumer group: its committed offsets are where reading starts, and it receives the positions reached. */
  groupId?: string;
  /** Where a partition without a committed offset starts (default earliest). */
  startFrom?: "earliest" | "latest";
  /** The partitions to read (default: all). */
  partitions?: number[];
  /** TLS, SASL and client id, as for the runtime's own clients. */
  connection?: Omit<KafkaConnection, "brokers">;
  /** Handles committed records of one partition, in offset order; the next batch waits for it. */
  eachBatch(records: KafkaRecord[], partition: number): Promise<void> | void;
}

/** A running reader. */
export interface CommittedReader {
  /** Per partition, the next offset not yet handled. */
  positions(): Map<number, number>;
  /** Rejects when reading failed (the consumer gave up, or eachBatch threw); reading has stopped then. */
  readonly failed: Promise<never>;
  /** Stops reading (after the batch being handled) and commits the positions reached. */
  stop(): Promise<void>;
}

/** Records queued per partition before its fetching pauses. */
const MAX_QUEUED = 10_000;

/** Starts reading `topic` committed (see the module comment). */
export async function readCommitted(options: CommittedReaderOptions): Promise<CommittedReader> {
  const { topic, groupId } = options;
  const client = createKafkaClient({ ...options.connection, brokers: options.brokers, clientId: options.connection?.clientId ?? "runnel-reader" });
  const admin = client.admin();
  await admin.connect();
  const positions = new Map<number, number>();
  try {
    const ends = await admin.offsets(topic);
    const committed = groupId === undefined ? new Map<number, number>() : await admin.groupOffsets(groupId, topic);
    for (const end of ends) {
      if (options.partitions && !options.partitions.includes(end.partition)) continue;
      positions.set(end.partition, committed.get(end.partition) ?? (options.startFrom === "latest" ? end.high : end.low));
    }
  } finally {
    await admin.disconnect();
  }
  if (positions.size === 0) throw new ConnectorError(`topic '${topic}' has none of the partitions ${JSON.stringify(options.partitions)}`, false);

  const queues = new Map<number, KafkaRecord[][]>([...positions.keys()].map((p) => [p, []]));
  const queued = new Map<number, number>([...positions.keys()].map((p) => [p, 0]));
  let fail: (err: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // observed through `failed` by callers who care
  let stopping = false;
  let wake: () => void = () => undefined;

  const consumer = client.partitionConsumer({
    topic,
    group: `${groupId ?? "runnel-reader"}.reader.${randomUUID().slice(0, 8)}`,
    onRecords(partition, records) {
      queues.get(partition)?.push(records);
      const n = (queued.get(partition) ?? 0) + records.length;
      queued.set(partition, n);
      if (n >= MAX_QUEUED) consumer.pause(partition);
      wake();
    },
    onFailure: (err) => fail(err),
  });
  const producer = groupId === undefined ? undefined : client.producer();
  const commit = async (): Promise<void> => {
    if (groupId === undefined || !producer) return;
    await producer.commitOffsets(
      groupId,
      [...positions].map(([partition, offset]) => ({ topic, partition, offset })),
    );
  };

  // One loop hands batches to eachBatch in order and moves the positions after each.
  const handle = async (): Promise<void> => {
    let lastCommit = Date.now();
    while (!stopping) {
      let any = false;
      for (const [partition, queue] of queues) {
        const records = queue.shift();
        if (!records) {
          // Markers and aborted records after the last handled record move the position too.
          positions.set(partition, Math.max(positions.get(partition) ?? 0, consumer.through(partition)));
          continue;
        }
        any = true;
        await options.eachBatch(records, partition);
        positions.set(partition, (records.at(-1)?.offset ?? -1) + 1);
        const n = (queued.get(partition) ?? 0) - records.length;
        queued.set(partition, n);
        if (n < MAX_QUEUED / 2) consumer.resume(partition);
      }
      if (Date.now() - lastCommit >= 1000) {
        await commit();
        lastCommit = Date.now();
      }
      if (!any) await new Promise<void>((r) => ((wake = r), setTimeout(r, 200)));
    }
  };

  if (producer) await producer.connect();
  await consumer.start(positions);
  const loop = handle().catch((err: unknown) => fail(err));
  return {
    positions: () => new Map(positions),
    failed,
    async stop() {
      stopping = true;
      wake();
      await loop;
      await consumer.stop();
      await commit().finally(() => producer?.disconnect());
    },
  };
}
