/**
 * Runnel's Kafka adapter: the only code that talks to the Kafka client library (kafkajs 2.2.x,
 * ADR 12). Everything else in the runtime, the benchmarks and the CLI goes through these
 * interfaces; a lint rule keeps it that way.
 */
export { createKafkaClient, type KafkaClient } from "./client.ts";
export { filterNegativeTimeoutWarning, type KafkaConnection, type KafkaLogLevel } from "./connection.ts";
export type { KafkaAdmin, PartitionOffsets, TopicSpec } from "./admin.ts";
export type { KafkaProducer, TransactionalOptions, TransactionalProducer } from "./producer.ts";
export type { ConsumerFaults, ConsumerStats, PartitionConsumer, PartitionConsumerOptions } from "./partition-consumer.ts";
export type { KafkaHeaders, KafkaRecord, OutgoingMessage, TopicOffsets } from "./messages.ts";
export { DEFAULT_RETRY, isRetriable, kafkaErrorType, retrying, type RetryPolicy } from "./retry.ts";
export { readCommitted, type CommittedReader, type CommittedReaderOptions } from "./committed-reader.ts";
