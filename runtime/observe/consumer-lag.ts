/**
 * Consumer lag of a job's Kafka inputs: per topic partition, the end offset (high watermark)
 * minus the next offset the reading task will take. End offsets cost a broker round trip, so
 * they are fetched at most every `refreshMs`, only when metrics are read (never on the record
 * path), and cached; positions are read fresh each time. A failed fetch keeps the last values.
 */

/** A partition a task reads and the next offset it will read (its position). */
export interface PartitionPosition {
  topic: string;
  partition: number;
  position: number;
}

/** The end offset (offset of the next record to be written) of one partition. */
export interface PartitionEnd {
  topic: string;
  partition: number;
  end: number;
}

/** Fetches the end offsets of every partition of the given topics. */
export type EndOffsets = (topics: string[]) => Promise<PartitionEnd[]>;

/** Lag of one partition in records. */
export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

/** Options of a lag tracker. */
export interface ConsumerLagOptions {
  /** The positions of the partitions this process reads (cheap; called at every read()). */
  positions: () => PartitionPosition[];
  /** Where end offsets come from (the broker). */
  endOffsets: EndOffsets;
  /** Minimum time between two end-offset fetches, ms (default 5000). */
  refreshMs?: number;
  /** How long read() waits for a fetch it started before answering from the cache, ms (default 2000). */
  waitMs?: number;
  /** Time source (tests). */
  now?: () => number;
}

const key = (topic: string, partition: number): string => `${partition}:${topic}`;

/** Tracks the consumer lag of a set of partitions. */
export class ConsumerLag {
  private readonly options: ConsumerLagOptions;
  private readonly ends = new Map<string, number>();
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private error: string | undefined;
  private fetches = 0;

  constructor(options: ConsumerLagOptions) {
    this.options = options;
  }

  /** The message of the last failed fetch, cleared by a successful one. */
  get lastError(): string | undefined {
    return this.error;
  }

  /** Number of end-offset fetches started so far. */
  get fetchCount(): number {
    return this.fetches;
  }

  /** Lag per partition with a known end offset (refreshing the end offsets when they are stale). */
  async read(): Promise<PartitionLag[]> {
    const positions = this.options.positions();
    if (positions.length === 0) return [];
    await this.refresh([...new Set(positions.map((p) => p.topic))].sort());
    const out: PartitionLag[] = [];
    for (const p of positions) {
      const end = this.ends.get(key(p.topic, p.partition));
      if (end === undefined) continue;
      out.push({ topic: p.topic, partition: p.partition, lag: Math.max(0, end - p.position) });
    }
    return out;
  }

  /** Starts a fetch when the cache is older than refreshMs and waits for it at most waitMs. */
  private async refresh(topics: string[]): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    if (this.inflight === undefined && now - this.lastAttempt >= (this.options.refreshMs ?? 5000)) {
      this.lastAttempt = now;
      this.fetches++;
      this.inflight = this.fetch(topics).finally(() => {
        this.inflight = undefined;
      });
    }
    if (this.inflight === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.waitMs ?? 2000);
      timer.unref?.();
    });
    await Promise.race([this.inflight, timeout]);
    clearTimeout(timer);
  }

  private async fetch(topics: string[]): Promise<void> {
    try {
      const ends = await this.options.endOffsets(topics);
      for (const e of ends) this.ends.set(key(e.topic, e.partition), e.end);
      this.error = undefined;
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
  }
}
