/** The shapes records have on their way into and out of Kafka, independent of the client library. */

/** Kafka record headers: name → value(s). */
export type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** One record to write. */
export interface OutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  /** The partition; absent: the key's murmur2 partition (as Kafka's Java client and Runnel's keyBy place it). */
  partition?: number;
  /** The record's Kafka timestamp (ms since the epoch, as a decimal string); absent: the time of sending. */
  timestamp?: string;
  headers?: KafkaHeaders;
}

/** One committed record read from a partition. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaHeaders;
  /** The record's Kafka timestamp (ms). */
  timestamp: number;
}

/** Positions to commit: per topic and partition, the next offset to read. */
export type TopicOffsets = { topic: string; partition: number; offset: number }[];

/** Where a produce request put a batch: per partition, the offset of its first record. */
export interface PartitionBaseOffset {
  partition: number;
  baseOffset: number;
}

/** kafkajs's shape of offsets: per topic, partitions with string offsets. */
export function offsetsByTopic(offsets: TopicOffsets): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    const list = byTopic.get(o.topic) ?? [];
    list.push({ partition: o.partition, offset: String(o.offset) });
    byTopic.set(o.topic, list);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}
