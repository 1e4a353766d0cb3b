// Consumer lag against the real broker: the high watermark of each partition (read with the
// admin client) minus the position of the Kafka source reader of the engine's task, as the
// worker's /metrics reports it; lag falls to 0 as the engine catches up and rises with new input.
import { beforeAll, describe, expect, it } from "vitest";
import { collectSink, job } from "../../runtime/api/index.ts";
import { createKafkaSource, type KafkaConnection } from "../../runtime/connectors/kafka/index.ts";
import { createEngine } from "../../runtime/exec/engine.ts";
import { ConsumerLag } from "../../runtime/observe/consumer-lag.ts";
import { kafkaPositions } from "../../runtime/observe/engine-metrics.ts";
import { kafkaEndOffsets } from "../../runtime/observe/kafka-end-offsets.ts";
import { createJobMetrics } from "../../runtime/observe/metrics.ts";
import { createTopics, inputProducer, kafkaAdminHooks, roundsUntil } from "../helpers/kafka.ts";
import { testEnv, uniqueName } from "../helpers/env.ts";

describe("consumer lag (real broker)", () => {
  const k = kafkaAdminHooks();
  let connection: KafkaConnection;
  beforeAll(() => {
    connection = { brokers: testEnv().kafkaBrokers };
  });

  async function produce(topic: string, partition: number, count: number): Promise<void> {
    const producer = inputProducer(k.kafka);
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ partition, value: JSON.stringify({ i }) })) });
    await producer.disconnect();
  }

  it("is the end offset minus the reading task's position, per partition", async () => {
    const topic = uniqueName("lag");
    await createTopics(k.admin, [topic], 2);
    await produce(topic, 0, 10);
    await produce(topic, 1, 4);

    const j = job("lagging");
    const source = await createKafkaSource<unknown>({ connection, topic, readerGroup: uniqueName("lag-reader") });
    j.source(source, { uid: "in" }).sink(collectSink<unknown>());
    const engine = createEngine({ graph: j.build(), idleSleepMs: 0, batchSize: 3 });
    const ends = kafkaEndOffsets(connection);
    const lag = new ConsumerLag({ positions: () => kafkaPositions(engine.state), endOffsets: ends.endOffsets, refreshMs: 0, waitMs: 30_000 });
    try {
      await engine.open();
      // Opened at "earliest": nothing read yet, everything is lag.
      expect(await lag.read()).toEqual([
        { topic, partition: 0, lag: 10 },
        { topic, partition: 1, lag: 4 },
      ]);
      // One round reads at most 3 records per partition.
      await roundsUntil(engine, () => engine.progress().recordsIn > 0);
      const partial = await lag.read();
      expect(partial.map((l) => l.lag).reduce((a, b) => a + b, 0)).toBe(14 - engine.progress().recordsIn);

      await roundsUntil(engine, () => engine.progress().recordsIn >= 14);
      expect(await lag.read()).toEqual([
        { topic, partition: 0, lag: 0 },
        { topic, partition: 1, lag: 0 },
      ]);

      await produce(topic, 1, 7);
      expect(await lag.read()).toEqual([
        { topic, partition: 0, lag: 0 },
        { topic, partition: 1, lag: 7 },
      ]);
      const text = await createJobMetrics({ job: "lagging", progress: () => engine.progress(), consumerLag: () => lag.read() }).metrics();
      expect(text).toContain(`runnel_consumer_lag_records{job="lagging",topic="${topic}",partition="1"} 7`);
      expect(lag.lastError).toBeUndefined();
    } finally {
      await engine.close();
      await ends.close();
    }
  });
});
