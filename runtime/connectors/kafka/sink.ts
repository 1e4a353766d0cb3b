/**
 * A Kafka topic as a Runnel sink: each task's writer buffers records and sends them once per
 * engine round through an idempotent producer (acks from all in-sync replicas), so a retried send
 * never duplicates. Keys go through kafkajs's Java-compatible murmur2 partitioner, which places
 * them where Runnel's keyBy routes them. Alone, delivery is at least once; in a distributed job
 * the writer sends into the task's transaction instead (exactly once, committed per checkpoint).
 */
import { Partitioners, type IHeaders, type Message, type Producer } from "kafkajs";
import { ConnectorError } from "../../errors.ts";
import type { Sink, SinkContext, SinkWriter } from "../types.ts";
import { createKafkaClient, type KafkaConnection } from "./client.ts";

/** Options of a Kafka sink. */
export interface KafkaSinkOptions<T> {
  connection: KafkaConnection;
  topic: string;
  /** The record's key (null: no key, the partitioner spreads records). */
  key?: (value: T) => string | null;
  /** Record → message value (default: JSON); null writes a tombstone (the key with no value). */
  serialize?: (value: T) => string | Buffer | null;
  /** Headers to add to every message of a record. */
  headers?: (value: T) => IHeaders;
}

/** Creates a Kafka sink (one producer per task writer). */
export function createKafkaSink<T>(options: KafkaSinkOptions<T>): Sink<T> {
  const serialize = options.serialize ?? ((v: T) => JSON.stringify(v));
  return {
    name: `kafka:${options.topic}`,
    open: async (ctx: SinkContext): Promise<SinkWriter<T>> => {
      const message = (value: T, timestamp: number): Message => {
        const m: Message = { key: options.key ? options.key(value) : null, value: serialize(value), timestamp: String(timestamp) };
        if (options.headers) m.headers = options.headers(value);
        return m;
      };
      const txn = ctx.transaction;
      if (txn) {
        // Exactly once: records join the task's transaction, committed with its checkpoint.
        let pending: Message[] = [];
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
      const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      let buffer: Message[] = [];
      const flush = async (): Promise<void> => {
        if (buffer.length === 0) return;
        const messages = buffer;
        buffer = [];
        try {
          await producer.send({ topic: options.topic, acks: -1, messages });
        } catch (err) {
          throw new ConnectorError(`cannot write ${messages.length} records to Kafka topic '${options.topic}': ${String(err)}`, true, err);
        }
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
