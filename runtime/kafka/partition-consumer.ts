/**
 * A consumer of chosen partitions of one topic, from positions the caller owns, read committed.
 * kafkajs has no `assign()`: the consumer joins a group of its own whose static assigner hands it
 * exactly its partitions (static-assigner.ts), and nothing is ever committed in that group.
 *
 * The positions are ours, absolutely. kafkajs restarts its consumer after a crash (a broker
 * restart, "coordinator is loading", "not the leader" under load) with a new group session that
 * has forgotten every seek and pause, and a rebalance resets fetch positions too. So:
 *   - after every group join (the first, each rebalance, each restart) every partition is sought
 *     back to the next offset we expect, and paused partitions are paused again;
 *   - a fetch that began past the expected offset is dropped and the partition sought back, unless
 *     the log no longer holds those offsets (deleted by retention: counted and reported as lost);
 *   - records below the expected offset (a fetch that raced a seek) are dropped by the filter;
 *   - a crash kafkajs does not restart from fails the reader instead of leaving it silent.
 * Records come out through the read-committed filter (read-committed.ts), in offset order.
 */
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { ConnectorError } from "../errors.ts";
import { createLogger, type Logger } from "../log.ts";
import { kafkaAdmin, type KafkaAdmin } from "./admin.ts";
import { deliverFilteredFetches } from "./batch-patch.ts";
import type { KafkaRecord } from "./messages.ts";
import { CommittedFilter, type RawMessage } from "./read-committed.ts";
import { describeKafkaError, retrying } from "./retry.ts";
import { staticAssigner } from "./static-assigner.ts";

/** Options of a partition consumer. */
export interface PartitionConsumerOptions {
  topic: string;
  /** The group the consumer joins only to receive its static assignment (unique per process). */
  group: string;
  /** Longest a fetch waits for new records (ms; default 100 — kafkajs's 5 s stalls restarts and drains). */
  maxWaitMs?: number;
  /** A partition's newly committed records, in offset order: none below its position, none twice. */
  onRecords(partition: number, records: KafkaRecord[]): void;
  /** The consumer stopped for good (kafkajs gave up restarting it); reads must fail with this. */
  onFailure(error: ConnectorError): void;
  /** Where notable events (records lost to retention) are reported (default: the `kafka` logger). */
  log?: Logger;
}

/** What the consumer had to repair (for metrics and tests). */
export interface ConsumerStats {
  /** Group joins: the first, then one per rebalance or restart (each seeks every partition back). */
  joins: number;
  /** Crashes of the kafkajs consumer (restarted by kafkajs, or reported through onFailure). */
  crashes: number;
  /** Fetches that began past a partition's position, dropped and sought back. */
  reseeks: number;
  /** Offsets that were gone from the log (retention) when they were to be read. */
  lost: number;
}

/** Faults a test can inject to prove the consumer owns its positions. */
export interface ConsumerFaults {
  /**
   * Makes the kafkajs consumer crash at its next fetch with records: kafkajs restarts it with a
   * new group session, or, with `final`, gives up on it (as after an error it cannot retry).
   */
  crash(options?: { final?: boolean }): void;
  /** Moves kafkajs's fetch position of `partition` without telling the reader (as a reset or a lost seek would). */
  displace(partition: number, offset: number): void;
}

/** A started consumer of some partitions. */
export interface PartitionConsumer {
  /** Joins and starts fetching `positions` (partition → next offset); resolves once assigned. */
  start(positions: Map<number, number>): Promise<void>;
  /** Stops fetching a partition (backpressure); kept across restarts until resumed. */
  pause(partition: number): void;
  resume(partition: number): void;
  /** Every offset of `partition` below this was delivered, dropped as aborted, or held no record. */
  through(partition: number): number;
  /** The partitions kafkajs itself has paused now (after a restart, as re-applied). */
  pausedInClient(): number[];
  readonly stats: ConsumerStats;
  readonly faults: ConsumerFaults;
  stop(): Promise<void>;
}

interface Part {
  filter: CommittedFilter;
  paused: boolean;
}

/** The records kafkajs keeps of a fetch: all of them, and those at or after the fetch offset. */
interface RawBatch {
  fetchedOffset: string;
  rawMessages?: RawMessage[];
  messagesWithinOffset?: RawMessage[];
}

/** Creates a partition consumer on a kafkajs client. */
export function partitionConsumer(kafka: Kafka, options: PartitionConsumerOptions): PartitionConsumer {
  deliverFilteredFetches(); // process-wide, from the first partition consumer on (batch-patch.ts)
  const { topic } = options;
  const log = options.log ?? createLogger("kafka");
  const parts = new Map<number, Part>();
  const stats: ConsumerStats = { joins: 0, crashes: 0, reseeks: 0, lost: 0 };
  let consumer: Consumer | undefined;
  let admin: Promise<KafkaAdmin> | undefined;
  let stopped = false;
  let crashNext: { final?: boolean } | undefined;

  const seek = (partition: number, offset: number): void => consumer?.seek({ topic, partition, offset: String(offset) });

  /** After any join: every partition back to its expected offset, paused ones paused again. */
  const joined = (): void => {
    stats.joins++;
    for (const [partition, part] of parts) seek(partition, part.filter.expected);
    const paused = [...parts].filter(([, p]) => p.paused).map(([partition]) => partition);
    if (paused.length > 0) consumer?.pause([{ topic, partitions: paused }]);
  };

  const logStart = async (partition: number): Promise<number> => {
    admin ??= (async () => {
      const a = kafkaAdmin(kafka);
      await a.connect();
      return a;
    })();
    const offsets = await (await admin).offsets(topic);
    return offsets.find((o) => o.partition === partition)?.low ?? 0;
  };

  const onBatch = async ({ batch }: EachBatchPayload): Promise<void> => {
    const part = parts.get(batch.partition);
    if (!part || stopped) return;
    const { rawMessages: all, messagesWithinOffset: raw, fetchedOffset } = batch as unknown as RawBatch;
    if (!Array.isArray(all) || !Array.isArray(raw))
      throw new ConnectorError("kafkajs no longer exposes a fetch's raw records; Runnel needs kafkajs 2.2.x", false);
    if (crashNext && raw.length > 0) {
      const { final } = crashNext;
      crashNext = undefined;
      // Final for kafkajs's retrier; kafkajs restarts the consumer when the cause underneath is retriable.
      throw Object.assign(new Error("injected consumer crash"), { retriable: false, cause: Object.assign(new Error("injected"), { retriable: !final }) });
    }
    const fetched = Number(fetchedOffset);
    const expected = part.filter.expected;
    if (fetched > expected) {
      const low = await logStart(batch.partition);
      if (low > expected) {
        const gone = low - expected;
        stats.lost += gone;
        log.warn(`offsets ${expected}..${low - 1} were deleted from the log (retention or deleteRecords) before they were read; ${gone} records skipped`, {
          topic,
          partition: batch.partition,
        });
        part.filter.startAt(low);
      }
      if (fetched > part.filter.expected) {
        stats.reseeks++;
        seek(batch.partition, part.filter.expected);
        return;
      }
    }
    // Every record of the fetch lies below its offset (the rest of a record batch was compacted
    // away): kafkajs moves on past the fetch offset, and so does the filter.
    if (raw.length === 0 && all.length > 0) part.filter.startAt(fetched + 1);
    const ready = part.filter.accept(raw);
    if (ready.length === 0) return;
    const records: KafkaRecord[] = new Array<KafkaRecord>(ready.length);
    for (let i = 0; i < ready.length; i++) {
      const m = ready[i] as RawMessage;
      records[i] = {
        topic,
        partition: batch.partition,
        offset: Number(m.offset),
        key: m.key,
        value: m.value,
        headers: m.headers ?? {},
        timestamp: Number(m.timestamp),
      };
    }
    options.onRecords(batch.partition, records);
  };

  return {
    stats,
    faults: {
      crash: (o) => void (crashNext = o ?? {}),
      displace: (partition, offset) => seek(partition, offset),
    },
    async start(positions) {
      for (const [partition, position] of positions) {
        const filter = new CommittedFilter();
        filter.startAt(position);
        parts.set(partition, { filter, paused: false });
      }
      const assigned = [...parts.keys()].sort((a, b) => a - b);
      const c = kafka.consumer({
        groupId: options.group,
        partitionAssigners: [staticAssigner(topic, () => assigned)],
        readUncommitted: false,
        // kafkajs waits this long in a fetch with nothing new, and also before fetching again once
        // every partition is paused for backpressure, and on disconnect.
        maxWaitTimeInMs: options.maxWaitMs ?? 100,
      });
      consumer = c;
      let failStart: (err: ConnectorError) => void = () => undefined;
      const firstJoin = new Promise<void>((resolve, reject) => {
        failStart = reject;
        c.on(c.events.GROUP_JOIN, () => {
          joined();
          resolve();
        });
      });
      c.on(c.events.CRASH, ({ payload }) => {
        stats.crashes++;
        if (payload.restart || stopped) return;
        const err = new ConnectorError(`kafka:${topic}: the consumer stopped: ${describeKafkaError(payload.error)}`, true, payload.error);
        failStart(err);
        options.onFailure(err);
      });
      await retrying(`cannot connect a consumer of '${topic}'`, () => c.connect());
      await retrying(`cannot subscribe to '${topic}'`, () => c.subscribe({ topic, fromBeginning: true }));
      await c.run({ autoCommit: false, eachBatch: onBatch });
      await firstJoin;
    },
    pause(partition) {
      const part = parts.get(partition);
      if (!part || part.paused) return;
      part.paused = true;
      consumer?.pause([{ topic, partitions: [partition] }]);
    },
    resume(partition) {
      const part = parts.get(partition);
      if (!part?.paused) return;
      part.paused = false;
      consumer?.resume([{ topic, partitions: [partition] }]);
    },
    through: (partition) => parts.get(partition)?.filter.through ?? 0,
    pausedInClient: () =>
      consumer
        ?.paused()
        .find((p) => p.topic === topic)
        ?.partitions.slice()
        .sort((a, b) => a - b) ?? [],
    async stop() {
      stopped = true;
      const c = consumer;
      consumer = undefined;
      await c?.disconnect();
      const a = admin;
      admin = undefined;
      await (await a?.catch(() => undefined))?.disconnect();
    },
  };
}
