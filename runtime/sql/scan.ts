/**
 * Reading tables. A stream table becomes a source whose records are converted to typed rows
 * (physical columns from JSON, then computed columns) before the watermark generator sees them,
 * so event time is the rowtime column's value. A record that does not fit the table's types goes
 * to the dead-letter stream with the column and the reason, and is counted. A lookup table is
 * loaded into memory by primary key, kept up to date from its compacted topic on a cluster.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileSource } from "../connectors/file.ts";
import type { ReadResult, Source, SourceReader } from "../connectors/types.ts";
import { counter, DEAD_LETTER_TAG, type TableRows } from "../pipeline/context.ts";
import { generateAll, manifestGenerator } from "../pipeline/generator.ts";
import { DEFAULT_START_TIME } from "../pipeline/sources.ts";
import { MIN_WATERMARK } from "../time/watermarks.ts";
import { sourceSpec, type TableDef } from "./catalog.ts";
import { InternalError, RecordError } from "../errors.ts";
import { fail } from "./errors.ts";
import type { Expr } from "./ast.ts";
import { compileExpr, walk, type Column, type Scope } from "./expr-compile.ts";
import { pooledConverter } from "./pooled.ts";
import { unrolledReader } from "./unrolled.ts";
import { keyOfValues, withStep, type Relation, type Row, type SqlEnv, type Step } from "./relation.ts";
import { typeName } from "./types.ts";
import { jsonReader } from "./values.ts";

/** A record that could not be read as a row of its table. */
export class BadRow extends RecordError {
  readonly reason: string;
  readonly record: unknown;
  constructor(reason: string, record: unknown) {
    super(reason);
    this.reason = reason;
    this.record = record;
  }
}

/** A table's record → row conversion: per record, and for a source's batches (from a pool, pooled.ts). */
interface RowConversion {
  convert: (record: unknown) => Row | BadRow;
  convertAll: (records: unknown[]) => void;
}

/** Compiles the record → row conversion of a table (physical columns, then computed ones). */
export function rowConverter(env: SqlEnv, t: TableDef): RowConversion {
  const stmt = t.stmt.ref;
  const width = t.columns.length;
  // Only the columns some statement, computed column, time attribute or key needs are read
  // ('json.fail-on-missing-field' checks every declared field, so it reads them all).
  const needed = (p: TableDef["physical"][number]): boolean =>
    env.mentioned === undefined ||
    t.json.failOnMissingField ||
    env.mentioned.has(p.name) ||
    t.rowtime?.index === p.index ||
    (t.primaryKey ?? []).includes(p.name) ||
    t.computed.some((c) => mentions(c.expr, p.name));
  const readers = t.physical.filter(needed).map((p) => ({ name: p.name, index: p.index, read: jsonReader(p.type) }));
  // Computed columns see the physical columns (Flink: they may not use each other).
  const scope: Scope = { columns: t.columns.map((c, i) => (t.physical.some((p) => p.index === i) ? c : { ...c, name: `\u0000${c.name}` })) };
  // A PROCTIME() column holds no value: reading it reads the clock (expr-compile.ts).
  const computed = t.computed
    .filter((c) => !(c.expr.kind === "call" && c.expr.name === "PROCTIME"))
    .map((c) => {
      const compiled = compileExpr(stmt, scope, c.expr);
      (t.columns[c.index] as Column).type =
        t.rowtime?.index === c.index ? { ...(compiled.type as { kind: "TIMESTAMP"; ltz: boolean }), rowtime: true } : compiled.type;
      if (t.rowtime?.index === c.index && compiled.type.kind !== "TIMESTAMP")
        fail(
          stmt,
          c.expr.pos,
          `the time attribute '${c.name}' must be a TIMESTAMP, got ${typeName(compiled.type)}`,
          "e.g. ts AS TO_TIMESTAMP_LTZ(epoch_ms, 3)",
        );
      return { index: c.index, fn: compiled.fn };
    });
  const { ignoreParseErrors, failOnMissingField } = t.json;
  const rowtime = t.rowtime?.index;
  const rowtimeName = rowtime === undefined ? "" : (t.columns[rowtime] as Column).name;
  const slow = (record: unknown): Row | BadRow => {
    if (record === null || typeof record !== "object" || Array.isArray(record)) return new BadRow("the record is not a JSON object", record);
    const rec = record as Record<string, unknown>;
    const row: Row = new Array(width).fill(null);
    for (const r of readers) {
      const v = rec[r.name];
      if (v === undefined && failOnMissingField) return new BadRow(`field '${r.name}' is missing ('json.fail-on-missing-field' is true)`, record);
      try {
        row[r.index] = r.read(v);
      } catch (err) {
        if (!ignoreParseErrors) return new BadRow(`column ${r.name}: ${(err as Error).message}`, record);
      }
    }
    for (const c of computed) {
      try {
        row[c.index] = c.fn(row);
      } catch (err) {
        return new BadRow(`computed column ${(t.columns[c.index] as Column).name}: ${(err as Error).message}`, record);
      }
    }
    if (rowtime !== undefined && row[rowtime] === null) return new BadRow(`the time attribute '${rowtimeName}' is NULL`, record);
    return row;
  };
  // The fast path reads the columns unrolled; anything unusual (a value that does not fit, a
  // missing field that must be there, a NULL time) is read again by the slow path, which says why.
  const fast = failOnMissingField ? undefined : unrolledReader(readers, width);
  if (!fast) {
    return {
      convert: slow,
      convertAll: (records) => {
        for (let i = 0; i < records.length; i++) if (!(records[i] instanceof BadRow)) records[i] = slow(records[i]);
      },
    };
  }
  const parts = { fast, computed, rowtime: rowtime ?? -1, slow, refused: BadRow };
  const convertAll = pooledConverter(`${t.name}\u0000${t.columns.map((c) => c.name).join(",")}`, parts);
  const one: unknown[] = [null];
  return {
    convertAll,
    convert: (record) => {
      one[0] = record;
      convertAll(one);
      return one[0] as Row | BadRow;
    },
  };
}

/** Whether an expression refers to a column of this name. */
function mentions(e: Expr, name: string): boolean {
  let found = false;
  walk(e, (x) => {
    if (x.kind === "column" && x.name === name) found = true;
  });
  return found;
}

/** A source whose record batches pass through `convertAll` (in place) as they are read. */
function convertingSource(inner: Source<unknown>, convertAll: (records: unknown[]) => void): Source<unknown> {
  return {
    name: inner.name,
    partitions: inner.partitions,
    async open(partition, position): Promise<SourceReader<unknown>> {
      const r = await inner.open(partition, position);
      return {
        async read(max): Promise<ReadResult<unknown>> {
          const res = await r.read(max);
          convertAll(res.records);
          // Event time is the rowtime column's, never the transport's.
          const { timestamps: _ignored, ...rest } = res;
          return rest;
        },
        position: () => r.position(),
        ...(r.watermark ? { watermark: () => (r.watermark as NonNullable<typeof r.watermark>)() } : {}),
        close: () => r.close(),
      };
    },
  };
}

/** The raw source of a table in this compile mode: the worker's Kafka source, a file or a generator. */
function rawSource(env: SqlEnv, t: TableDef): Source<unknown> {
  const spec = sourceSpec(t, "stream");
  const override = env.ctx.options.sourceOverride?.(spec);
  if (override) return override;
  const local = spec.local;
  if (local?.generator) {
    const o = env.ctx.options;
    return manifestGenerator(local.generator, {
      startTime: o.startTime ?? DEFAULT_START_TIME,
      throttle: o.throttle === true,
      ...(o.maxRecordsPerSource === undefined ? {} : { maxRecords: o.maxRecordsPerSource }),
    });
  }
  if (local?.file) {
    // Bad lines are dead-lettered by the scan, not thrown by the reader.
    return fileSource({ paths: [resolve(env.ctx.options.baseDir, local.file.path)], parse: (line) => parseJsonLine(line) });
  }
  return fail(
    t.stmt.ref,
    t.stmt.pos,
    `table ${t.name} reads Kafka topic '${spec.kafka?.topic ?? ""}', which runs on a cluster (runnel worker / the operator)`,
    "for a local run, declare the table with 'connector' = 'filesystem' or 'datagen'",
  );
}

function parseJsonLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    return new BadRow(`the line is not JSON: ${(err as Error).message}`, line);
  }
}

/** The scan of a stream table: typed rows with watermarks; bad records to the dead-letter stream. Built once per table. */
export function scanTable(env: SqlEnv, t: TableDef): Relation {
  const known = env.scans.get(t.name);
  if (known) {
    // A table counted as read once hands its scan to one reader (fused with it); a second reader would repeat its checks.
    if (known.pending) throw new InternalError(`table ${t.name} was counted as read once but is read again`);
    return known;
  }
  const source = convertingSource(rawSource(env, t), rowConverter(env, t).convertAll);
  env.ctx.uids.add(t.name);
  const rowtime = t.rowtime?.index;
  const idle = t.idleMs ?? env.idleMs;
  const raw = env.builder.source(source, {
    uid: t.name,
    name: t.name,
    watermarks: {
      ...(rowtime === undefined ? {} : { timestamp: (r: unknown) => (r instanceof BadRow ? MIN_WATERMARK : ((r as Row)[rowtime] as number)) }),
      maxOutOfOrdernessMs: t.rowtime?.delayMs ?? 0,
      ...(idle === undefined ? {} : { idleTimeoutMs: idle }),
    },
  });
  const dead = counter(env.ctx.metrics.deadLetters, `${t.name}/invalid-row`);
  const rejectBad: Step = {
    fn: (r) => {
      if (r instanceof BadRow) throw r;
      return r;
    },
    onError: (c, _record, err) => {
      const bad = err as BadRow;
      dead();
      c.output(DEAD_LETTER_TAG, { step: t.name, reason: "invalid-row", error: bad.reason, record: bad.record });
    },
  };
  const shape = { columns: t.columns.map((c) => ({ ...c })), ...(rowtime === undefined ? {} : { rowtime }) };
  const rel = withStep(env, { stream: raw, columns: [] }, rejectBad, `${t.name}: rows`, shape);
  // A table read by several queries is checked once and shared; read once, its check joins the reader's operator.
  if ((env.reads.get(t.name) ?? 0) > 1) {
    const stream = rel.stream;
    const shared: Relation = { ...shape, stream };
    env.scans.set(t.name, shared);
    return shared;
  }
  env.scans.set(t.name, rel);
  return rel;
}

/** A lookup table: rows by primary key, updated while the job runs when the table is a live topic. */
export interface LookupTable {
  table: TableDef;
  get(key: string | number): Row | undefined;
  /** Rows that did not fit the table's types (counted, skipped). */
  rejected: () => number;
}

function readTableRows(env: SqlEnv, t: TableDef): TableRows {
  const spec = sourceSpec(t, "table");
  const override = env.ctx.options.tableOverride?.(spec);
  if (override) return override;
  if (spec.local?.generator) {
    if (spec.local.generator.count === undefined) fail(t.stmt.ref, t.stmt.pos, `a datagen lookup table needs 'number-of-rows'`);
    return { rows: generateAll(spec.local.generator, env.ctx.options.startTime ?? DEFAULT_START_TIME) };
  }
  if (spec.local?.file) {
    const file = resolve(env.ctx.options.baseDir, spec.local.file.path);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      return fail(t.stmt.ref, t.options.get("path")?.pos ?? t.stmt.pos, `cannot read ${file}: ${(err as Error).message}`);
    }
    const rows = text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => parseJsonLine(l) as Record<string, unknown>);
    return { rows };
  }
  return fail(
    t.stmt.ref,
    t.stmt.pos,
    `table ${t.name} is a Kafka topic, which is read on a cluster (runnel worker / the operator)`,
    "for a local run, declare it with 'connector' = 'filesystem'",
  );
}

/** Loads (and, on a cluster, follows) a lookup table keyed by its primary key. */
export function lookupTable(env: SqlEnv, t: TableDef): LookupTable {
  if (!t.primaryKey)
    fail(
      t.stmt.ref,
      t.stmt.pos,
      `table ${t.name} is joined with FOR SYSTEM_TIME AS OF, so it needs a PRIMARY KEY (the lookup key)`,
      "PRIMARY KEY (id) NOT ENFORCED",
    );
  const { convert } = rowConverter(env, t);
  const pk = t.primaryKey.map((k) => t.columns.findIndex((c) => c.name === k));
  const byKey = new Map<string | number, Row>();
  const byKafkaKey = new Map<string, string | number>();
  let rejected = 0;
  const apply = (kafkaKey: string | null, record: unknown): void => {
    if (record === null) {
      const k = kafkaKey === null ? undefined : byKafkaKey.get(kafkaKey);
      if (k !== undefined) byKey.delete(k);
      if (kafkaKey !== null) byKafkaKey.delete(kafkaKey);
      return;
    }
    const row = convert(record);
    if (row instanceof BadRow) {
      rejected++;
      return;
    }
    const k = keyOfValues(pk.map((i) => row[i]));
    byKey.set(k, row);
    if (kafkaKey !== null) byKafkaKey.set(kafkaKey, k);
  };
  const source = readTableRows(env, t);
  source.rows.forEach((r, i) => apply(source.keys?.[i] ?? null, r));
  source.subscribe?.((k, row) => apply(k, row));
  return { table: t, get: (k) => byKey.get(k), rejected: () => rejected };
}
