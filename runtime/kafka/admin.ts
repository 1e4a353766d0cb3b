/**
 * Admin calls Runnel makes, each through the adapter's retry policy (a topic created a moment
 * ago may still be unknown to the broker that answers, or have no leader yet: both are retried
 * with backoff, anything Kafka calls final fails at once with what was asked).
 */
import type { Admin, Kafka } from "kafkajs";
import { ConnectorError } from "../errors.ts";
import { kafkaErrorType, retrying, type RetryPolicy } from "./retry.ts";

/** Config resource types of DescribeConfigs/AlterConfigs (kafkajs's enum is a type only, under Node's ESM loader). */
const TOPIC_RESOURCE = 2;
const BROKER_RESOURCE = 4;

/** A topic to create. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  /** Topic configs, e.g. `cleanup.policy`, `retention.ms`. */
  configs?: Record<string, string>;
}

/** A partition's offsets: the first one the log still holds and the next one to be written. */
export interface PartitionOffsets {
  partition: number;
  /** Log start offset (earlier records were deleted by retention or deleteRecords). */
  low: number;
  /** High watermark (end offset). */
  high: number;
}

/** The admin operations of Runnel's Kafka adapter. */
export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Creates topics and waits for their leaders; a topic created meanwhile by someone else is fine. */
  createTopics(topics: TopicSpec[]): Promise<void>;
  deleteTopics(topics: string[]): Promise<void>;
  /** Partition count per topic, once every partition has a leader (a topic just created is retried until then). */
  partitionCounts(topics: string[], policy?: RetryPolicy): Promise<Map<string, number>>;
  /** Log start and end offsets of every partition of `topic`. */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** Deletes the records of each partition below its offset (moves the log start offset). */
  deleteRecords(topic: string, below: { partition: number; offset: number }[]): Promise<void>;
  /** The topic's configs that are set on the topic itself (not inherited from the broker). */
  topicConfigs(topic: string): Promise<Record<string, string>>;
  /** Sets configs of a topic, keeping its other topic-level configs. */
  setTopicConfigs(topic: string, configs: Record<string, string>): Promise<void>;
  /** A broker config's value as the broker reports it (its default when not set). */
  brokerConfig(name: string): Promise<string | undefined>;
  /** The committed offsets of `group` on `topic` (partitions without a commit are absent). */
  groupOffsets(group: string, topic: string): Promise<Map<number, number>>;
  listGroups(): Promise<string[]>;
  deleteGroups(groups: string[]): Promise<void>;
}

/** Creates an admin client (call connect() first). */
export function kafkaAdmin(kafka: Kafka): KafkaAdmin {
  const admin: Admin = kafka.admin();
  const topicConfigs = async (topic: string): Promise<Record<string, string>> => {
    const res = await retrying(`cannot read the configs of topic '${topic}'`, () =>
      admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC_RESOURCE, name: topic }] }),
    );
    const out: Record<string, string> = {};
    // configSource 1: set on the topic (the others are the broker's defaults).
    for (const e of res.resources[0]?.configEntries ?? []) if ((e as { configSource?: number }).configSource === 1) out[e.configName] = e.configValue;
    return out;
  };
  return {
    connect: () => retrying("cannot connect to Kafka", () => admin.connect()),
    disconnect: () => admin.disconnect(),
    listTopics: () => retrying("cannot list Kafka topics", () => admin.listTopics()),
    async createTopics(topics) {
      if (topics.length === 0) return;
      await retrying(`cannot create topics ${topics.map((t) => `'${t.topic}'`).join(", ")}`, () =>
        admin
          .createTopics({
            waitForLeaders: true,
            topics: topics.map((t) => ({
              topic: t.topic,
              numPartitions: t.partitions,
              replicationFactor: t.replicationFactor,
              configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
            })),
          })
          .then(() => undefined)
          .catch((err: unknown) => {
            // Workers start together: another may create a topic first.
            const errors = (err as { errors?: { type?: string }[] }).errors;
            if (!errors || !errors.every((e) => e.type === "TOPIC_ALREADY_EXISTS")) throw err;
          }),
      );
    },
    deleteTopics: (topics) => retrying(`cannot delete topics ${topics.join(", ")}`, () => admin.deleteTopics({ topics })),
    async partitionCounts(topics, policy) {
      const meta = await retrying(
        `cannot read the partitions of ${topics.map((t) => `'${t}'`).join(", ")}`,
        async () => {
          const m = await admin.fetchTopicMetadata({ topics });
          // A topic created a moment ago may come back without partitions, or without a leader for some.
          const unled = topics.filter((t) => {
            const partitions = m.topics.find((x) => x.name === t)?.partitions ?? [];
            return partitions.length === 0 || partitions.some((p) => p.leader < 0);
          });
          if (unled.length > 0) throw Object.assign(new Error(`no leader known yet for every partition of ${unled.join(", ")}`), { retriable: true });
          return m;
        },
        policy,
      );
      return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
    },
    async offsets(topic) {
      const res = await retrying(`cannot read the offsets of topic '${topic}'`, () => admin.fetchTopicOffsets(topic));
      return res.map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }));
    },
    async deleteRecords(topic, below) {
      if (below.length === 0) return;
      await retrying(`cannot delete consumed records of topic '${topic}'`, async () => {
        // kafkajs finds the partitions' leaders in metadata it must have loaded for this topic.
        await admin.fetchTopicMetadata({ topics: [topic] });
        await admin.deleteTopicRecords({ topic, partitions: below.map((b) => ({ partition: b.partition, offset: String(b.offset) })) });
      });
    },
    topicConfigs,
    async setTopicConfigs(topic, configs) {
      const merged = { ...(await topicConfigs(topic)), ...configs };
      // AlterConfigs replaces every topic-level config: send the ones the topic has too.
      await retrying(`cannot set configs of topic '${topic}'`, () =>
        admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: TOPIC_RESOURCE, name: topic, configEntries: Object.entries(merged).map(([name, value]) => ({ name, value })) }],
        }),
      );
    },
    async brokerConfig(name) {
      const cluster = await retrying("cannot describe the Kafka cluster", () => admin.describeCluster());
      const broker = cluster.brokers[0];
      if (!broker) throw new ConnectorError("the Kafka cluster reported no brokers", true);
      const res = await retrying(`cannot read broker config ${name}`, () =>
        admin.describeConfigs({ includeSynonyms: false, resources: [{ type: BROKER_RESOURCE, name: String(broker.nodeId), configNames: [name] }] }),
      );
      return res.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
    },
    async groupOffsets(group, topic) {
      const res = await retrying(`cannot read the offsets of group '${group}'`, () => admin.fetchOffsets({ groupId: group, topics: [topic] }));
      const out = new Map<number, number>();
      for (const p of res[0]?.partitions ?? []) if (Number(p.offset) >= 0) out.set(p.partition, Number(p.offset));
      return out;
    },
    listGroups: async () => (await retrying("cannot list consumer groups", () => admin.listGroups())).groups.map((g) => g.groupId),
    async deleteGroups(groups) {
      if (groups.length === 0) return;
      await retrying(`cannot delete groups ${groups.join(", ")}`, () => admin.deleteGroups(groups)).catch((err: unknown) => {
        // A group that is gone already is fine.
        if (kafkaErrorType(err) !== "GROUP_ID_NOT_FOUND") throw err;
      });
    },
  };
}
