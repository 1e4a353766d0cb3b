/**
 * Repartition topics never lose unread records to retention: they are created with
 * `retention.ms=-1` (their record timestamps are event times, possibly old already when written,
 * so time-based retention would delete records nobody has read), and each task deletes the
 * records of its partition below the position a committed checkpoint holds — they are never
 * read again, whatever restarts — as Kafka Streams purges its repartition topics. Purging runs
 * beside the checkpoints (never delaying them), at most once per interval per task.
 */
import type { KafkaAdmin, KafkaClient } from "../kafka/index.ts";
import { createLogger, type Logger } from "../log.ts";

/** How often a task purges at most (Kafka Streams' repartition.purge.interval.ms default). */
export const PURGE_INTERVAL_MS = 30_000;

/** Purges consumed records of a worker's repartition inputs. */
export interface RepartitionPurger {
  /** A task's checkpoint committed with these source positions (by source uid). */
  committed(task: number, positions: Record<string, unknown>): void;
  /** Purge requests completed so far. */
  readonly purges: number;
  /** Waits for a purge in flight and releases the admin client. */
  close(): Promise<void>;
}

/** Options of the purger. */
export interface PurgerOptions {
  kafka: KafkaClient;
  /** Repartition source uid → its topic. */
  topics: Map<string, string>;
  intervalMs?: number;
  /** Where a failed purge is reported (default: a `worker.purge` logger). */
  log?: Logger;
}

/** Creates the purger of one worker (connects on first purge). */
export function repartitionPurger(options: PurgerOptions): RepartitionPurger {
  const interval = options.intervalMs ?? PURGE_INTERVAL_MS;
  const log = options.log ?? createLogger("worker.purge");
  const purgedBelow = new Map<string, number>(); // `${topic}/${task}` → offset purged (or being purged) below
  const lastPurge = new Map<number, number>();
  let admin: Promise<KafkaAdmin> | undefined;
  let chain: Promise<void> = Promise.resolve();
  let purges = 0;
  let warned = false;

  const purge = async (task: number, below: { topic: string; offset: number }[]): Promise<void> => {
    admin ??= (async () => {
      const a = options.kafka.admin();
      await a.connect();
      return a;
    })();
    const a = await admin;
    for (const { topic, offset } of below) {
      await a.deleteRecords(topic, [{ partition: task, offset }]);
      purges++;
    }
  };

  return {
    committed(task, positions) {
      if (options.topics.size === 0) return;
      const now = Date.now();
      if (now - (lastPurge.get(task) ?? 0) < interval) return;
      const below: { topic: string; offset: number }[] = [];
      for (const [uid, topic] of options.topics) {
        const next = (positions[uid] as { next?: unknown } | undefined)?.next;
        if (typeof next === "number" && next > (purgedBelow.get(`${topic}/${task}`) ?? 0)) below.push({ topic, offset: next });
      }
      if (below.length === 0) return;
      lastPurge.set(task, now);
      const before = below.map(({ topic }) => [`${topic}/${task}`, purgedBelow.get(`${topic}/${task}`)] as const);
      for (const { topic, offset } of below) purgedBelow.set(`${topic}/${task}`, offset);
      chain = chain
        .then(() => purge(task, below))
        .catch((err: unknown) => {
          // Not fatal: a checkpoint after the interval asks again.
          for (const [key, offset] of before) purgedBelow.set(key, offset ?? 0);
          if (!warned) log.warn(`cannot purge consumed repartition records (tried again after a later checkpoint): ${String(err)}`);
          warned = true;
        });
    },
    get purges() {
      return purges;
    },
    async close() {
      await chain;
      const a = admin;
      admin = undefined;
      await (await a?.catch(() => undefined))?.disconnect();
    },
  };
}
