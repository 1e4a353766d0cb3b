/**
 * A deterministic, seeded data generator. Record i of partition p is a pure function of
 * (seed, p, i) — a counter-based random stream — so any position can be replayed exactly
 * after a restore without regenerating what came before.
 */
import { systemClock, type Clock } from "../time/clock.ts";
import type { ReadResult, Source, SourceReader } from "./types.ts";

/** What the generator knows about one record; `make` turns it into the emitted value. */
export interface GenEvent {
  /** Global sequence number (interleaved across partitions). */
  seq: number;
  /** Partition. */
  partition: number;
  /** Key index in [0, keys). */
  key: number;
  /** Event time (ms), already shifted back by the out-of-orderness delay. */
  ts: number;
  /** A uniform random number in [0, 1) for the record's payload. */
  rnd: number;
}

/** Generator settings. */
export interface GeneratorOptions<T> {
  /** Partitions (default 1). */
  partitions?: number;
  /** Records per partition; unbounded when absent. */
  countPerPartition?: number;
  /** Event-time rate across all partitions, records per second (default 1000). */
  ratePerSec?: number;
  /** Also limit to `ratePerSec` in wall-clock time (live demos); default false: as fast as read. */
  throttle?: boolean;
  /** Number of distinct keys (default 1000). */
  keys?: number;
  /** Key skew: 0 is uniform; larger values concentrate records on low key indexes (key = keys * u^(1+skew)). */
  skew?: number;
  /** Records are delayed by up to this much event time, uniformly (out-of-orderness). */
  maxOutOfOrdernessMs?: number;
  /** Event time of record 0 (default 0). */
  startTime?: number;
  /** Random seed (default 1). */
  seed?: number;
  /** Builds the record (default: the GenEvent itself). */
  make?: (e: GenEvent) => T;
  /** Clock for throttling. */
  clock?: Clock;
}

/** A uniform [0, 1) number from (seed, n, salt): splitmix-style integer mixing. */
export function hashRandom(seed: number, n: number, salt: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(n | 0, 0xc2b2ae35) ^ Math.imul((n / 4294967296) | 0, 0x27d4eb2f) ^ Math.imul(salt, 0x165667b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** Creates a generator source. */
export function generatorSource<T = GenEvent>(options: GeneratorOptions<T> = {}): Source<T> {
  const partitions = options.partitions ?? 1;
  const rate = options.ratePerSec ?? 1000;
  const keys = options.keys ?? 1000;
  const exponent = 1 + (options.skew ?? 0);
  const ooo = options.maxOutOfOrdernessMs ?? 0;
  const start = options.startTime ?? 0;
  const seed = options.seed ?? 1;
  const make = options.make ?? ((e: GenEvent) => e as unknown as T);
  const limit = options.countPerPartition ?? Infinity;
  const clock = options.clock ?? systemClock;
  const msPerRecord = 1000 / rate;

  /** Record i of partition p. */
  function event(p: number, i: number): GenEvent {
    const seq = i * partitions + p;
    const u = hashRandom(seed, seq, 1);
    const key = exponent === 1 ? Math.floor(u * keys) : Math.floor(keys * Math.pow(u, exponent));
    const delay = ooo > 0 ? Math.floor(hashRandom(seed, seq, 2) * (ooo + 1)) : 0;
    return { seq, partition: p, key, ts: start + Math.floor(seq * msPerRecord) - delay, rnd: hashRandom(seed, seq, 3) };
  }

  return {
    name: "generator",
    partitions,
    async open(partition, position): Promise<SourceReader<T>> {
      let next = typeof position === "number" ? position : 0;
      const openedAt = clock.now();
      const startIndex = next;
      return {
        async read(max): Promise<ReadResult<T>> {
          let end = Math.min(limit, next + max);
          if (options.throttle === true) {
            const due = startIndex + Math.floor(((clock.now() - openedAt) * rate) / 1000 / partitions);
            end = Math.min(end, due);
          }
          const records: T[] = [];
          for (let i = next; i < end; i++) records.push(make(event(partition, i)));
          next = Math.max(next, end);
          return { records, done: next >= limit };
        },
        position: () => next,
        close: async () => {},
      };
    },
  };
}
