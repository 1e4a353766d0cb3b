/**
 * Committing a consumer group's offsets without being a member of it: Kafka's OffsetCommit with
 * generation -1 and no member id, which the coordinator accepts for a group with no active
 * members — what Kafka's Java consumer does after `assign()`. Runnel's positions live in its
 * checkpoints; this only publishes them under the job's group, so `kafka-consumer-groups.sh` and
 * every lag exporter see how far a job has read. kafkajs has the request but exposes it only to
 * its group members, so this reaches its cluster object through the client's factory (kafkajs
 * 2.2.x, checked with the Batch patch).
 */
import type { Kafka } from "kafkajs";
import { ConnectorError } from "../errors.ts";
import { kafkajsBatchPrototype } from "./batch-patch.ts";
import { offsetsByTopic, type TopicOffsets } from "./messages.ts";
import { retrying } from "./retry.ts";

/** The parts of kafkajs's internal Cluster and Broker used here. */
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(o: { groupId: string }): Promise<{
    offsetCommit(o: {
      groupId: string;
      groupGenerationId: number;
      memberId: string;
      topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
    }): Promise<unknown>;
  }>;
}

/** Commits offsets of groups nobody is a member of (connects on first use). */
export class GroupOffsetCommitter {
  private cluster: Promise<InternalCluster> | undefined;
  private readonly kafka: Kafka;

  constructor(kafka: Kafka) {
    this.kafka = kafka;
  }

  /** Commits `offsets` (the next offset to read, per partition) as `group`'s positions. */
  async commit(group: string, offsets: TopicOffsets): Promise<void> {
    if (offsets.length === 0) return;
    const topics = offsetsByTopic(offsets);
    await retrying(`cannot commit offsets of consumer group '${group}'`, async () => {
      const cluster = await this.connect();
      const coordinator = await cluster.findGroupCoordinator({ groupId: group });
      await coordinator.offsetCommit({ groupId: group, groupGenerationId: -1, memberId: "", topics });
    });
  }

  /** Releases the connection. */
  async close(): Promise<void> {
    const cluster = this.cluster;
    this.cluster = undefined;
    if (cluster) await (await cluster.catch(() => undefined))?.disconnect();
  }

  private connect(): Promise<InternalCluster> {
    this.cluster ??= (async () => {
      kafkajsBatchPrototype(); // refuses a kafkajs whose internals this was not written for
      const factory = Object.getOwnPropertySymbols(this.kafka).find((s) => s.description === "private:Kafka:createCluster");
      const create = factory === undefined ? undefined : (this.kafka as unknown as Record<symbol, unknown>)[factory];
      if (typeof create !== "function") throw new ConnectorError("this kafkajs has no cluster factory; Runnel's Kafka adapter needs kafkajs 2.2.x", false);
      const cluster = (create as (o: { allowAutoTopicCreation: boolean }) => InternalCluster)({ allowAutoTopicCreation: false });
      await cluster.connect();
      return cluster;
    })();
    void this.cluster.catch(() => (this.cluster = undefined));
    return this.cluster;
  }
}
