/**
 * Table sources on a cluster: a compacted topic every worker reads in full, like Kafka Streams'
 * global tables. A worker reads the topic to the end offsets it finds at start before the job
 * runs (so the first records already join against the whole table), then keeps reading in the
 * background; every later row or tombstone reaches the lookup joins while the job runs.
 */
import type { KafkaAdmin, KafkaConnection } from "../kafka/index.ts";
import { createKafkaSource, jsonValue } from "../connectors/kafka/source.ts";
import type { SourceReader } from "../connectors/types.ts";
import { ConnectorError } from "../errors.ts";
import { createLogger, type Logger } from "../log.ts";
import type { TableRows } from "../pipeline/context.ts";

type Row = Record<string, unknown>;
type Change = { key: string | null; row: Row | null };

/** A live table: its rows at start, and updates after. */
export interface LiveTable extends TableRows {
  /** Stops following the topic. */
  close(): Promise<void>;
}

/** Reads a compacted topic to its current end, then follows it (polling every `pollMs`). */
export async function openKafkaTable(options: {
  connection: KafkaConnection;
  admin: KafkaAdmin;
  topic: string;
  readerGroup: string;
  pollMs?: number;
  timeoutMs?: number;
  /** Where a table that stops updating is reported (default: a `worker.table` logger). */
  log?: Logger;
}): Promise<LiveTable> {
  const source = await createKafkaSource<Change>({
    connection: options.connection,
    topic: options.topic,
    readerGroup: options.readerGroup,
    startFrom: "earliest",
    deserialize: (m) => ({ key: m.key?.toString("utf8") ?? null, row: m.value === null ? null : (jsonValue<Row>(m) ?? null) }),
  });
  const ends = await options.admin.offsets(options.topic);
  const readers: { reader: SourceReader<Change>; end: number }[] = [];
  for (let p = 0; p < source.partitions; p++) readers.push({ reader: await source.open(p), end: ends.find((e) => e.partition === p)?.high ?? 0 });
  // Bootstrap: the latest row per key, up to the end offsets seen now.
  const latest = new Map<string | null, Row | null>();
  const keyless: Row[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    let behind = false;
    for (const r of readers) {
      if ((r.reader.position() as number) >= r.end) continue;
      behind = true;
      for (const c of (await r.reader.read(10_000)).records) {
        if (c.key === null && c.row !== null) keyless.push(c.row);
        else latest.set(c.key, c.row);
      }
    }
    if (!behind) break;
    if (Date.now() > deadline)
      throw new ConnectorError(`table topic '${options.topic}' was not read to its end within ${options.timeoutMs ?? 120_000} ms`, true);
    await new Promise((res) => setTimeout(res, 20));
  }
  const rows: Row[] = [...keyless];
  const keys: (string | null)[] = keyless.map(() => null);
  for (const [k, row] of latest) {
    if (row === null) continue;
    rows.push(row);
    keys.push(k);
  }
  const listeners: ((key: string | null, row: Row | null) => void)[] = [];
  let closed = false;
  const follow = async (): Promise<void> => {
    while (!closed) {
      for (const r of readers) for (const c of (await r.reader.read(10_000)).records) for (const l of listeners) l(c.key, c.row);
      await new Promise((res) => setTimeout(res, options.pollMs ?? 200));
    }
  };
  const log = options.log ?? createLogger("worker.table");
  const following = follow().catch((err: unknown) => log.error(`table '${options.topic}' stopped updating: ${String(err)}`, { topic: options.topic }));
  return {
    rows,
    keys,
    subscribe: (onChange) => void listeners.push(onChange),
    async close() {
      closed = true;
      await following;
      for (const r of readers) await r.reader.close();
    },
  };
}
