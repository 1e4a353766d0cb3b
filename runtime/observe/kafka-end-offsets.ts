/**
 * End offsets for consumer lag, read from the brokers with one admin client that connects on
 * first use and stays connected (lag is read at every scrape, at most every few seconds).
 */
import { createKafkaClient, type KafkaAdmin, type KafkaConnection } from "../kafka/index.ts";
import type { EndOffsets, PartitionEnd } from "./consumer-lag.ts";

/** End offsets of topics as a lag tracker reads them, and how to release the client. */
export interface KafkaEndOffsets {
  endOffsets: EndOffsets;
  close(): Promise<void>;
}

/** Creates an end-offset reader on the given cluster (the high watermark of each partition). */
export function kafkaEndOffsets(connection: KafkaConnection): KafkaEndOffsets {
  let admin: KafkaAdmin | undefined;
  let connecting: Promise<KafkaAdmin> | undefined;
  const connect = (): Promise<KafkaAdmin> => {
    connecting ??= (async () => {
      const a = createKafkaClient({ ...connection, clientId: connection.clientId ?? "runnel-lag" }).admin();
      try {
        await a.connect();
      } catch (err) {
        connecting = undefined;
        throw err;
      }
      admin = a;
      return a;
    })();
    return connecting;
  };
  return {
    async endOffsets(topics) {
      const a = await connect();
      const out: PartitionEnd[] = [];
      for (const topic of topics) {
        for (const p of await a.offsets(topic)) out.push({ topic, partition: p.partition, end: p.high });
      }
      return out;
    },
    async close() {
      const a = admin ?? (connecting ? await connecting.catch(() => undefined) : undefined);
      admin = undefined;
      connecting = undefined;
      await a?.disconnect();
    },
  };
}
