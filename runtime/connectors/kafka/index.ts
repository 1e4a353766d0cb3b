/** Kafka connectors: a source with static partition assignment and replayable positions, a sink, the dead-letter queue. */
export type { KafkaConnection } from "../../kafka/index.ts";
export { createKafkaSource, jsonValue, type KafkaMessageIn, type KafkaSource, type KafkaSourceOptions, type PoisonHandler } from "./source.ts";
export { createKafkaSink, type KafkaSinkOptions } from "./sink.ts";
export { createDeadLetterQueue, deadLetterHeaders, DEAD_LETTER_HEADERS, type DeadLetterQueue } from "./dead-letter.ts";
