/**
 * lookupJoin: enriches each record with the row of its key from a dimension. Two row sources:
 * - a table source (mode: table): rows held in memory, loaded at compile time in local mode and
 *   kept current from the compacted topic on a cluster; each record is joined synchronously;
 * - Redis hashes (`redis`): the lookup runs as the head of a keyed operator, so the engine hands it
 *   each micro-batch before processing it; the batch's keys missing from the task's cache are
 *   fetched in one pipeline (prepareBatch), then every record is joined from memory (ADR 25).
 */
import { resolve } from "node:path";
import type { Key, KeyedProcessFunction } from "../api/functions.ts";
import { lookupCache, memoryLookupStore, sharedLookupStore, type LookupRow } from "../connectors/lookup.ts";
import { redisHashStore } from "../connectors/redis/lookup.ts";
import { InternalError } from "../errors.ts";
import { parseDuration } from "../spec/duration.ts";
import type { Step } from "../spec/generated/types.ts";
import { counter, onErrorPolicy, stepUid, type CompileContext, type Handle } from "./context.ts";
import { PipelineError } from "./errors.ts";
import { celExpression, fieldsFn, recordFn } from "./expr.ts";
import { readRows } from "./sources.ts";
import { keyedLineage, publish } from "./steps-basic.ts";
import { keyedInput } from "./steps-window.ts";
import { processStep } from "./stages.ts";
import { carryKey, keyOf, toKey, type Rec } from "./values.ts";

type LookupJoin = NonNullable<Step["lookupJoin"]>;

const INVALID = "\u0000invalid";

/** lookupJoin: from a table source or from Redis hashes. */
export function compileLookupJoin(ctx: CompileContext, step: Step, path: string, input: Handle): void {
  const lj = step.lookupJoin as LookupJoin;
  if (lj.redis) compileRedisLookup(ctx, step, path, input, lj);
  else compileTableLookup(ctx, step, path, input, lj);
}

/** How a joined record is built: `select`, or the record with the row under `as`. */
function joiner(lj: LookupJoin, path: string): (record: unknown, key: unknown, row: LookupRow | null) => unknown {
  const as = lj.as ?? "row";
  const select = lj.select ? fieldsFn(lj.select, `${path}.lookupJoin.select`, ["record", "key", "row"]) : undefined;
  return (record, key, row) => carryKey(select ? select({ record, key, row }) : { ...(record as Rec), [as]: row }, record);
}

/** A table lookup: synchronous, against the table's rows in memory. */
function compileTableLookup(ctx: CompileContext, step: Step, path: string, input: Handle, lj: LookupJoin): void {
  const source = lj.table === undefined ? undefined : ctx.tables.get(lj.table);
  if (!source) throw new PipelineError(`${path}.lookupJoin.table`, `${JSON.stringify(lj.table)} is not a table source`, "set mode: table on the source");
  // Without tableKey the Kafka record key identifies a row; a local file row gives it as `key` (or `id`).
  const byExpression = lj.tableKey === undefined ? undefined : celExpression(lj.tableKey, `${path}.lookupJoin.tableKey`, "string", ["row"]);
  const rowKey = (row: Rec, kafkaKey: string | null): unknown => (byExpression ? byExpression.evaluate({ row }) : (kafkaKey ?? row.key ?? row.id));
  const table = new Map<Key, Rec>();
  const byKafkaKey = new Map<string, Key>();
  const apply = (kafkaKey: string | null, row: Rec | null): void => {
    if (row === null) {
      const k = kafkaKey === null ? undefined : byKafkaKey.get(kafkaKey);
      if (k !== undefined) table.delete(k);
      if (kafkaKey !== null) byKafkaKey.delete(kafkaKey);
      return;
    }
    const k = toKey(rowKey(row, kafkaKey));
    table.set(k, row);
    if (kafkaKey !== null) byKafkaKey.set(kafkaKey, k);
  };
  source.rows.forEach((row, i) => apply(source.keys?.[i] ?? null, row));
  // A live table (a compacted topic on a cluster) keeps changing while the job runs.
  source.subscribe?.((k, row) => apply(k, row));
  const key = recordFn(lj.key, `${path}.lookupJoin.key`, "string");
  const inner = lj.type === "inner";
  const join = joiner(lj, path);
  const noRow = counter(ctx.metrics.dropped, `${step.id}/no-row`);
  const stream = processStep(ctx, step, input, (r, k, _c, out) => {
    const row = table.get(toKey(key(r, k))) ?? null;
    if (row === null && inner) return noRow();
    out.collect(join(r, k, row));
  });
  publish(ctx, step, stream, input.keyed, {}, keyedLineage(input));
}

/** The rows of a local lookup file by their `key` (or `id`) field. */
function fileRows(ctx: CompileContext, file: string, path: string): Map<string, LookupRow> {
  const rows = new Map<string, LookupRow>();
  for (const row of readRows(resolve(ctx.options.baseDir, file), path)) {
    const k = row.key ?? row.id;
    if (typeof k === "string" || typeof k === "number") rows.set(String(k), row);
  }
  return rows;
}

/** A Redis lookup: asynchronous per micro-batch, through a bounded, expiring cache per task. */
function compileRedisLookup(ctx: CompileContext, step: Step, path: string, input: Handle, lj: LookupJoin): void {
  const r = lj.redis as NonNullable<LookupJoin["redis"]>;
  const key = recordFn(lj.key, `${path}.lookupJoin.key`, "string");
  const inner = lj.type === "inner";
  const join = joiner(lj, path);
  const onError = onErrorPolicy(ctx, step);
  const noRow = counter(ctx.metrics.dropped, `${step.id}/no-row`);
  const ttlMs = parseDuration(r.cache?.ttl ?? "1m");
  const maxEntries = r.cache?.maxEntries ?? 100_000;
  // Locally a `local.file` stands in for Redis (rows read now, so a bad file fails at compile time).
  const local = ctx.options.mode === "local" && r.local ? fileRows(ctx, r.local.file.path, `${path}.lookupJoin.redis.local.file.path`) : undefined;
  // One connection per process, shared by its tasks (each with its own cache: tasks prepare batches concurrently).
  const store = sharedLookupStore(() =>
    local
      ? Promise.resolve(memoryLookupStore(local))
      : redisHashStore(r, { name: step.id, ...(r.keyPrefix === undefined ? {} : { keyPrefix: r.keyPrefix }), ...(r.fields ? { fields: r.fields } : {}) }),
  );
  const lookupKey = (rec: unknown): string => String(key(rec, keyOf(rec)));
  const keyed = input.keyed
    ? keyedInput(input, step, path)
    : input.stream.keyBy((rec: unknown): Key => {
        try {
          return lookupKey(rec);
        } catch {
          return INVALID;
        }
      });
  const stream = keyed.process<unknown>(
    (rt): KeyedProcessFunction<Key, unknown, unknown> => {
      let cache: ReturnType<typeof lookupCache> | undefined;
      const keys: string[] = [];
      return {
        async prepareBatch(values, count) {
          cache ??= lookupCache({ store: await store.acquire(), maxEntries, ttlMs, now: () => Date.now() });
          keys.length = 0;
          for (let i = 0; i < count; i++) {
            try {
              keys.push(lookupKey(values[i]));
            } catch {
              // the record's own processing reports it
            }
          }
          await cache.prepare(keys);
        },
        processElement(rec, c, out) {
          let row: LookupRow | null | undefined;
          try {
            const k = lookupKey(rec);
            row = cache?.get(k);
            if (row === undefined) throw new InternalError(`lookup key ${JSON.stringify(k)} was not prepared (task ${rt.taskIndex})`);
          } catch (err) {
            onError(err, rec, c);
            return;
          }
          if (row === null && inner) return noRow();
          out.collect(join(rec, keyOf(rec), row));
        },
        async close() {
          if (!cache) return;
          cache = undefined;
          await store.release();
        },
      };
    },
    { uid: stepUid(step), name: step.id },
  );
  ctx.deadLetterProducers.push(stream);
  // Keyed by the stream's key: joined records leave in that key's task.
  publish(ctx, step, stream, input.keyed, {}, input.keyed ? { colocated: true } : {});
}
