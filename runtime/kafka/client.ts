/** A Kafka cluster as the runtime sees it: one object that makes the adapter's admin, producers and consumers. */
import type { Kafka } from "kafkajs";
import { kafkaAdmin, type KafkaAdmin } from "./admin.ts";
import { kafkajsClient, type KafkaConnection, type KafkaLogLevel } from "./connection.ts";
import { partitionConsumer, type PartitionConsumer, type PartitionConsumerOptions } from "./partition-consumer.ts";
import { idempotentProducer, transactionalProducer, type KafkaProducer, type TransactionalOptions, type TransactionalProducer } from "./producer.ts";

/** Makes clients of one Kafka cluster (they share its connection settings, not connections). */
export interface KafkaClient {
  readonly connection: KafkaConnection;
  /** An admin client (connect() before use). */
  admin(): KafkaAdmin;
  /** An idempotent producer (connect() before use). */
  producer(): KafkaProducer;
  /** A transactional producer (connect() registers its id and fences older producers with it). */
  transactionalProducer(options: TransactionalOptions): TransactionalProducer;
  /** A consumer of chosen partitions from positions the caller owns, read committed. */
  partitionConsumer(options: PartitionConsumerOptions): PartitionConsumer;
}

/** Creates a client of the cluster `connection` describes; its log lines are namespaced `runnel:kafka`. */
export function createKafkaClient(connection: KafkaConnection, options: { logLevel?: KafkaLogLevel } = {}): KafkaClient {
  const kafka: Kafka = kafkajsClient(connection, options.logLevel);
  return {
    connection,
    admin: () => kafkaAdmin(kafka),
    producer: () => idempotentProducer(kafka),
    transactionalProducer: (o) => transactionalProducer(kafka, o),
    partitionConsumer: (o) => partitionConsumer(kafka, o),
  };
}
