/**
 * A Kafka topic as a Runnel sink: each task's writer buffers records and sends them once per
 * engine round through an idempotent producer (acks from all in-sync replicas), so a retried send
 * never duplicates. Keys go to their Java-compatible murmur2 partition, where Runnel's keyBy
 * routes them. Alone, delivery is at least once; in a distributed job the writer sends into the
 * task's transaction instead (exactly once, committed per checkpoint).
 *
 * A record's Kafka timestamp is its event time by default (a replay writes the same records).
 * Time-based retention (`retention.ms`) compares those timestamps with the broker's clock, so
 * output whose event time is older than the retention is deleted soon after it is written;
 * `timestamps: "processing-time"` stamps records with the time they are written instead.
 */
import { createKafkaClient, type KafkaConnection, type KafkaHeaders, type KafkaProducer, type OutgoingMessage } from "../../kafka/index.ts";
import type { Sink, SinkContext, SinkWriter } from "../types.ts";

/** Options of a Kafka sink. */
export interface KafkaSinkOptions<T> {
  connection: KafkaConnection;
  topic: string;
  /** The record's key (null: no key, the partitioner spreads records). */
  key?: (value: T) => string | null;
  /** Record → message value (default: JSON); null writes a tombstone (the key with no value). */
  serialize?: (value: T) => string | Buffer | null;
  /** Headers to add to every message of a record. */
  headers?: (value: T) => KafkaHeaders;
  /** The records' Kafka timestamps: their event time (default) or the time they are written. */
  timestamps?: "event-time" | "processing-time";
}

/** Creates a Kafka sink (one producer per task writer). */
export function createKafkaSink<T>(options: KafkaSinkOptions<T>): Sink<T> {
  const serialize = options.serialize ?? ((v: T) => JSON.stringify(v));
  return {
    name: `kafka:${options.topic}`,
    open: async (ctx: SinkContext): Promise<SinkWriter<T>> => {
      const processingTime = options.timestamps === "processing-time";
      const message = (value: T, timestamp: number): OutgoingMessage => {
        const m: OutgoingMessage = {
          key: options.key ? options.key(value) : null,
          value: serialize(value),
          timestamp: String(processingTime ? Date.now() : timestamp),
        };
        if (options.headers) m.headers = options.headers(value);
        return m;
      };
      const txn = ctx.transaction;
      if (txn) {
        // Exactly once: records join the task's transaction, committed with its checkpoint.
        let pending: OutgoingMessage[] = [];
        const flushTxn = async (): Promise<void> => {
          if (pending.length === 0) return;
          const messages = pending;
          pending = [];
          await txn.send(options.topic, messages);
        };
        return {
          write: (value, timestamp) => void pending.push(message(value, timestamp)),
          flush: flushTxn,
          close: flushTxn,
          abort: async () => {
            pending = [];
          },
        };
      }
      const kafka = createKafkaClient({ clientId: `runnel-${ctx.operatorUid}-${ctx.taskIndex}`, ...options.connection });
      const producer: KafkaProducer = kafka.producer();
      await producer.connect();
      let buffer: OutgoingMessage[] = [];
      const flush = async (): Promise<void> => {
        if (buffer.length === 0) return;
        const messages = buffer;
        buffer = [];
        await producer.send(options.topic, messages);
      };
      return {
        write(value, timestamp) {
          buffer.push(message(value, timestamp));
        },
        flush,
        close: async () => {
          await flush();
          await producer.disconnect();
        },
        abort: async () => {
          buffer = [];
          await producer.disconnect();
        },
      };
    },
  };
}
