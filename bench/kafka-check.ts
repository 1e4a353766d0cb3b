/**
 * The Kafka benchmark's check: each row's output topic read back committed (the adapter's
 * read-committed reader, examples/common/kafka.ts) and compared with what the input must give,
 * computed here from the preload's formula — the filter's records each exactly once; the window
 * counts exact, once each, and every window of a user up to the last one written of that user (a
 * job stopped once it read its input leaves the last few seconds' windows open, each task its own).
 */
import { readTopic } from "../examples/common/kafka.ts";
import type { KafkaClient } from "../runtime/kafka/index.ts";
import { readCommittedWithJava } from "../test/helpers/java-consumer.ts";

/** Users of the preloaded clicks; click i is user `u${i % USERS}` at T0 + i ms with n = i % 1000. */
export const USERS = 100;
/** Event time of the first click; clicks are 1 ms apart, so 1 s windows hold ~10 per user. */
export const T0 = Date.UTC(2026, 0, 1);

/** One preloaded click. */
export interface Click {
  user: string;
  ts: number;
  n: number;
}

/** Click i of the preload. */
export function click(i: number): Click {
  return { user: `u${i % USERS}`, ts: T0 + i, n: i % 1000 };
}

/** The watermark a job's sources end at after `events` clicks over `partitions` (round-robin): the lowest partition's last time, less the 2 s bound and 1 ms. */
export function lastWatermark(events: number, partitions: number): number {
  return T0 + Math.max(0, events - partitions) - 2000 - 1;
}

/** A record's JSON with its keys sorted: equal records, however their fields were ordered. */
function canonical(value: unknown): string {
  const o = value as Record<string, unknown>;
  return JSON.stringify(
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    ),
  );
}

/** What the filter writes: every click with n % 7 != 0, plus `big` (n > 3), as a multiset. */
function expectedFiltered(events: number): Map<string, number> {
  const want = new Map<string, number>();
  for (let i = 0; i < events; i++) {
    const c = click(i);
    if (c.n % 7 === 0) continue;
    const k = canonical({ ...c, big: c.n > 3 });
    want.set(k, (want.get(k) ?? 0) + 1);
  }
  return want;
}

/** What the window job counts: clicks per user and 1 s window start. */
function expectedWindows(events: number): Map<string, number> {
  const want = new Map<string, number>();
  for (let i = 0; i < events; i++) {
    const c = click(i);
    const k = `${c.user}|${c.ts - (c.ts % 1000)}`;
    want.set(k, (want.get(k) ?? 0) + 1);
  }
  return want;
}

/** Records per partition, as `p0:n p1:n …`. */
function perPartition(records: { partition: number }[]): string {
  const counts = new Map<number, number>();
  for (const r of records) counts.set(r.partition, (counts.get(r.partition) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([p, n]) => `p${p}:${n}`)
    .join(" ");
}

/**
 * What a check says when fewer records read back than the job wrote: the count per partition as
 * Runnel's reader and as Kafka's own console consumer (read_committed) see them, so a shortfall
 * tells a writer's loss (both short) from a reader's (only ours short).
 */
async function shortfall(topic: string, brokers: string[], written: number, records: { partition: number }[]): Promise<string> {
  const java = await readCommittedWithJava(topic, { brokers, idleMs: 10_000 }).then(
    (r) => `${r.length} (${perPartition(r)})`,
    (err: unknown) => `not read (${String(err).slice(0, 300)})`,
  );
  return `${topic}: the job wrote ${written} records, ${records.length} read back committed (${perPartition(records)}); Kafka's console consumer, read_committed: ${java}`;
}

/**
 * Reads `topic` committed and compares it with the reference; returns a short verdict and the
 * number of records read, throws on any difference. `written`: the records the job counted as written (at least), all of which must read back
 * committed (a read that stalls, say while a consumer group's coordinator loads, is read again
 * with a longer patience before that counts as a difference).
 */
export async function checkOutput(
  kafka: KafkaClient,
  brokers: string[],
  topic: string,
  kind: "filter" | "window",
  events: number,
  written?: number,
): Promise<{ verdict: string; records: number }> {
  let records = await readTopic({ client: kafka, brokers }, topic, { idleMs: 5_000 });
  if (written !== undefined && records.length < written) records = await readTopic({ client: kafka, brokers }, topic, { idleMs: 30_000 });
  if (written !== undefined && records.length < written) throw new Error(await shortfall(topic, brokers, written, records));
  const values = records.map((r) => JSON.parse(String(r.value)) as Record<string, unknown>);
  if (kind === "filter") {
    const want = expectedFiltered(events);
    for (const v of values) {
      const k = canonical(v);
      const left = want.get(k);
      if (left === undefined || left === 0) throw new Error(`${topic}: unexpected or duplicated record ${k}`);
      want.set(k, left - 1);
    }
    const missing = [...want.values()].reduce((a, b) => a + b, 0);
    if (missing > 0) throw new Error(`${topic}: ${missing} expected records missing`);
    return { verdict: "equal", records: records.length };
  }
  const want = expectedWindows(events);
  const seen = new Set<string>();
  const lastStart = new Map<string, number>();
  for (const v of values) {
    const k = `${String(v.key)}|${Number(v.windowStart)}`;
    if (seen.has(k)) throw new Error(`${topic}: window ${k} written twice`);
    seen.add(k);
    if (v.events !== want.get(k)) throw new Error(`${topic}: window ${k} counted ${String(v.events)}, expected ${String(want.get(k))}`);
    lastStart.set(String(v.key), Math.max(lastStart.get(String(v.key)) ?? -Infinity, Number(v.windowStart)));
  }
  // No gap: every window of a key that starts before the last one written of that key is there.
  // (Per key: tasks on other threads or workers may stop with their watermark a little behind.)
  const gaps = [...want.keys()].filter((k) => {
    const [key = "", start = ""] = k.split("|");
    return Number(start) < (lastStart.get(key) ?? -Infinity) && !seen.has(k);
  });
  if (gaps.length > 0) throw new Error(`${topic}: ${gaps.length} windows missing before the last one written of their key, e.g. ${gaps[0]}`);
  return { verdict: `equal (${seen.size.toLocaleString("en-US")} of ${want.size.toLocaleString("en-US")} windows)`, records: records.length };
}
