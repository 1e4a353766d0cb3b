/**
 * Reading a count job's output back against its reference (distributed.ts, which re-exports this):
 * while the job runs, with Runnel's own read-committed reader, and once it stopped with Kafka's own
 * Java consumer (`javaCheck`, the ground truth for a Java or Flink downstream).
 */
import { readCommitted, type CommittedReader } from "../../runtime/kafka/index.ts";
import type { Compared, CountJob, WindowCount } from "./distributed.ts";
import { testEnv } from "./env.ts";
import { readCommittedWithJava } from "./java-consumer.ts";
import { waitFor } from "./wait.ts";

/** Expected windows missing or wrong in `seen` (their events and the `compared` results), and windows not expected (empty when they are equal). */
export function windowMismatches(reference: Map<string, WindowCount>, seen: Map<string, WindowCount>, compared: readonly Compared[] = ["total"]): string[] {
  const bad: string[] = [];
  for (const [k, v] of reference) {
    const g = seen.get(k);
    if (!g) bad.push(`${k}: missing`);
    else if (g.events !== v.events || compared.some((f) => g[f] !== v[f])) bad.push(`${k}: got ${JSON.stringify(g)}, expected ${JSON.stringify(v)}`);
  }
  for (const k of seen.keys()) if (!reference.has(k)) bad.push(`${k}: not expected`);
  return bad;
}

/** The results of an output window record. */
function windowCount(r: WindowCount): WindowCount {
  return { events: r.events, total: r.total, maxN: r.maxN, minN: r.minN };
}

/**
 * The job's output as Kafka's own Java consumer reads it in read_committed isolation (the ground
 * truth for a Java or Flink downstream), read again while windows are missing — never while
 * duplicated — until `timeoutMs`: the duplicated windows and the differences from the reference.
 */
export async function javaCheck(job: CountJob, timeoutMs = 180_000): Promise<{ windows: number; duplicates: string[]; mismatches: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = new Map<string, WindowCount>();
    const duplicates: string[] = [];
    for (const record of await readCommittedWithJava(job.output)) {
      const r = JSON.parse(record.value) as { key: string; windowStart: number } & WindowCount;
      if (r.key === "flush") continue;
      const k = `${r.key}@${r.windowStart}`;
      if (seen.has(k)) duplicates.push(k);
      seen.set(k, windowCount(r));
    }
    const mismatches = windowMismatches(job.reference, seen, job.compared);
    const missing = mismatches.some((m) => m.endsWith(": missing"));
    if (duplicates.length > 0 || !missing || Date.now() > deadline) return { windows: seen.size, duplicates, mismatches };
  }
}

/** Every record of a topic read_committed so far, with the runtime's exported read-committed reader. */
export class CommittedRecords {
  private reader: CommittedReader | undefined;
  private readonly onRecord: (value: string, partition: number) => void;

  constructor(onRecord: (value: string, partition: number) => void) {
    this.onRecord = onRecord;
  }

  /** Starts reading `topic` from the beginning. */
  async start(topic: string): Promise<void> {
    this.reader = await readCommitted({
      brokers: testEnv().kafkaBrokers,
      topic,
      eachBatch: (records, partition) => {
        for (const message of records) this.onRecord(String(message.value), partition);
      },
    });
  }

  async stop(): Promise<void> {
    await this.reader?.stop();
  }
}

/** Everything read_committed from the output so far, by `user@windowStart` (duplicates counted). */
export class OutputReader {
  readonly seen = new Map<string, WindowCount>();
  duplicates: string[] = [];
  private readonly records = new CommittedRecords((value) => {
    const r = JSON.parse(value) as { key: string; windowStart: number } & WindowCount;
    if (r.key === "flush") return;
    const k = `${r.key}@${r.windowStart}`;
    if (this.seen.has(k)) this.duplicates.push(k);
    this.seen.set(k, windowCount(r));
  });

  /** Starts reading the job's output from the beginning. */
  async start(job: CountJob): Promise<void> {
    await this.records.start(job.output);
  }

  /**
   * Waits until every expected window arrived. Duplicates written later are not waited for here:
   * `javaCheck` reads the whole output again once the workers stopped.
   */
  async waitFor(job: CountJob, timeoutMs: number, progress?: () => string): Promise<void> {
    await waitFor("every expected window", () => this.seen.size >= job.reference.size, { timeoutMs }).catch(() => {
      throw new Error(`only ${this.seen.size} of ${job.reference.size} windows after ${timeoutMs} ms${progress ? `\n${progress()}` : ""}`);
    });
  }

  /** Waits until at least `count` windows arrived. */
  async waitForCount(count: number, timeoutMs: number): Promise<void> {
    await waitFor("windows", () => this.seen.size >= count, { timeoutMs, intervalMs: 100 }).catch(() => {
      throw new Error(`only ${this.seen.size} windows after ${timeoutMs} ms, expected at least ${count}`);
    });
  }

  /** Expected windows missing or wrong (empty when the output equals the reference). */
  mismatches(job: CountJob): string[] {
    return windowMismatches(job.reference, this.seen, job.compared);
  }

  async stop(): Promise<void> {
    await this.records.stop();
  }
}
