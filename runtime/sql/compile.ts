/**
 * The SQL compiler: a StreamJob's `spec.sql` onto the typed API, like `spec.pipeline` (ADR 24).
 * Tables become the pipeline's sources and sinks (the same connectors, local replacements and
 * worker overrides); each INSERT's query is planned into operators; the result is shaped into
 * the target's JSON records and handed to the pipeline's sink compiler. One engine, one state
 * model, one checkpoint and savepoint format.
 */
import { job as newJob } from "../api/job.ts";
import type { Sink } from "../connectors/types.ts";
import type { CompiledPipeline } from "../pipeline/compile.ts";
import { newCompileContext, type CompileOptions } from "../pipeline/context.ts";
import { compileSinks } from "../pipeline/sinks.ts";
import { KEY, TOMBSTONE } from "../pipeline/values.ts";
import type { Sink as SinkSpec, StreamJob } from "../spec/generated/types.ts";
import { DEAD_LETTER } from "../spec/pipeline-graph.ts";
import { MAX_WATERMARK } from "../time/watermarks.ts";
import type { TableDef } from "./catalog.ts";
import { InternalError } from "../errors.ts";
import { fail, type SqlPosition } from "./errors.ts";
import type { Column } from "./expr-compile.ts";
import { expressionErrors, planQuery } from "./plan.ts";
import { opName, withStep, type Change, type Relation, type Row, type SqlEnv, type StatementPlan, type Step } from "./relation.ts";
import { analyzeScript, insertRef, mentionedColumns, scriptConnectors } from "./script.ts";
import { isInteger, isNumeric, plainType, typeName, type SqlType } from "./types.ts";
import { unrolledObject, unrolledProjectObject } from "./unrolled.ts";
import { jsonWriter } from "./values.ts";

/** Whether a query column of type `from` may be written to a target column of type `to`. */
function assignable(from: SqlType, to: SqlType): boolean {
  if (from.kind === "NULL") return true;
  if (isNumeric(to)) return isNumeric(from);
  if (to.kind === "ARRAY" && from.kind === "ARRAY") return assignable(from.element, to.element);
  if (to.kind === "MAP" && from.kind === "MAP") return assignable(from.value, to.value);
  if (to.kind === "MAP" && from.kind === "MULTISET") return to.value.kind === "INT" || to.value.kind === "BIGINT";
  return from.kind === to.kind;
}

/** How a query's result becomes the target's records: a step over `from` (the query, or the input of its last projection). */
interface Shaping {
  from: Relation;
  step: Step;
}

/** Turns a query's rows (or changes) into the target table's records. */
function shapeFor(plan: StatementPlan, at: SqlPosition, target: TableDef, rel: Relation, cluster: boolean, targetColumns?: string[]): Shaping {
  const onError = expressionErrors(plan, "insert");
  const step = (fn: (v: unknown) => unknown): Shaping => ({ from: rel, step: { fn, onError } });
  const stmt = plan.stmt;
  const physical = target.physical;
  const names = targetColumns ?? physical.map((p) => p.name);
  for (const n of names) if (!physical.some((p) => p.name === n)) fail(stmt, at, `INSERT INTO ${target.name}: it has no column '${n}'`);
  if (rel.columns.length !== names.length) {
    fail(stmt, at, `INSERT INTO ${target.name}: the query gives ${rel.columns.length} columns but the table takes ${names.length} (${names.join(", ")})`);
  }
  const writers = names.map((n, i) => {
    const col = physical.find((p) => p.name === n) as { type: SqlType };
    const from = (rel.columns[i] as Column).type;
    if (!assignable(plainType(from), col.type)) {
      fail(
        stmt,
        at,
        `INSERT INTO ${target.name}: column ${n} is ${typeName(col.type)} but the query gives ${typeName(from)} (column ${i + 1}, ${(rel.columns[i] as Column).name})`,
        "CAST it to the column's type",
      );
    }
    // Integers into integers and equal DECIMAL scales leave as they are: no writer call per value.
    const same = (isInteger(from) && isInteger(col.type)) || (from.kind === "DECIMAL" && col.type.kind === "DECIMAL" && from.scale <= col.type.scale);
    return { name: n, write: same ? undefined : jsonWriter(col.type, target.json) };
  });
  const toObject = unrolledObject(
    writers.map((w) => w.name),
    writers.map((w) => w.write),
  );
  const keyIdx = (target.keyFields ?? []).map((k) => names.indexOf(k));
  if (keyIdx.includes(-1))
    fail(stmt, target.stmt.pos, `INSERT INTO ${target.name}: the key columns (${(target.keyFields ?? []).join(", ")}) must all be written`);
  const keyText =
    keyIdx.length === 0
      ? undefined
      : (row: Row): string => {
          if (target.keyFormat === "raw" && keyIdx.length === 1) {
            const v = row[keyIdx[0] as number] ?? null;
            return v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
          }
          const o: Record<string, unknown> = {};
          for (const ki of keyIdx) {
            const w = writers[ki] as (typeof writers)[number];
            const v = row[ki] ?? null;
            o[w.name] = w.write && v !== null ? w.write(v) : v;
          }
          return JSON.stringify(o);
        };
  const upsertTarget = target.connector === "upsert-kafka";
  if (rel.updating && (target.connector === "kafka" || target.connector === "filesystem")) {
    fail(
      stmt,
      at,
      `INSERT INTO ${target.name}: the query gives an updating result (GROUP BY without a window), which the ${target.connector} connector cannot take (it appends)`,
      "write it to an 'upsert-kafka' table keyed by the group key, or aggregate in a window",
    );
  }
  if (!rel.updating && !upsertTarget) {
    if (keyText && cluster) {
      return step((r) => {
        const o = toObject(r as Row);
        (o as Record<symbol, unknown>)[KEY] = keyText(r as Row);
        return o;
      });
    }
    const p = rel.projection;
    if (p && rel.pending?.built === undefined && p.before.pending?.built === undefined) {
      // The last projection builds the records itself: no row between it and the record.
      const direct = unrolledProjectObject(
        writers.map((w) => w.name),
        p.fns,
        writers.map((w) => w.write),
      );
      const cond = p.cond;
      return { from: p.before, step: { fn: cond ? (r) => (cond(r as Row) ? direct(r as Row) : undefined) : (r) => direct(r as Row), onError: p.onError } };
    }
    return step((r) => toObject(r as Row));
  }
  // Upserts: on the cluster a keyed Kafka record (or a tombstone); locally the same as {key, value}.
  const keyOfChange = (c: Change & { prev?: Row }): string => (keyText ? keyText(c.row ?? c.prev ?? []) : JSON.stringify(c.key));
  const change = rel.updating ? (v: unknown) => v as Change & { prev?: Row } : (v: unknown): Change => ({ key: [], row: v as Row });
  if (cluster && upsertTarget) {
    return step((v) => {
      const c = change(v);
      const key = keyOfChange(c);
      if (c.row === null) return { [KEY]: key, [TOMBSTONE]: true };
      const o = toObject(c.row);
      (o as Record<symbol, unknown>)[KEY] = key;
      return o;
    });
  }
  return step((v) => {
    const c = change(v);
    return { key: keyOfChange(c), value: c.row === null ? null : toObject(c.row) };
  });
}

/** Writes timestamps Kafka accepts: batch results fire at the end of time, which a broker refuses as a record timestamp. */
function clampTimestamps(sink: Sink<unknown>): Sink<unknown> {
  return {
    name: sink.name,
    async open(c) {
      const w = await sink.open(c);
      return { ...w, write: (v, ts) => w.write(v, ts >= MAX_WATERMARK ? Date.now() : ts) };
    },
  };
}

/** Compiles a StreamJob's SQL script into a job graph. */
export function compileSql(job: StreamJob, options: CompileOptions): CompiledPipeline {
  const sql = job.spec.sql;
  if (sql === undefined) throw new InternalError("compileSql needs spec.sql");
  const script = analyzeScript(sql);
  const mentioned = mentionedColumns(script);
  const { sources, sinks } = scriptConnectors(script);
  const name =
    (job.metadata?.name ?? "sql")
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "sql";
  const builder = newJob(name, options.parallelism === undefined ? {} : { parallelism: options.parallelism });
  const override = options.sinkOverride;
  const allSinks: SinkSpec[] = [...sinks];
  const ctx = newCompileContext(
    { ...job, spec: { ...job.spec, pipeline: { sources, sinks: allSinks } } },
    // Batch results fire at the end of time; only then do sinks need sane record timestamps.
    typeof override === "function" && script.batch ? { ...options, sinkOverride: (s) => ((x) => (x ? clampTimestamps(x) : x))(override(s)) } : options,
    builder,
  );
  const env: SqlEnv = {
    ctx,
    reads: script.reads,
    ...(mentioned === undefined ? {} : { mentioned }),
    builder,
    tables: script.tables,
    views: script.views,
    scans: new Map(),
    batch: script.batch,
    ...(script.idleMs === undefined ? {} : { idleMs: script.idleMs }),
  };
  const cluster = options.mode === "cluster";
  script.inserts.forEach((ins, i) => {
    const plan: StatementPlan = { env, stmt: ins.stmt.ref, scope: ins.scope, positions: new Map(), ctes: new Map() };
    const rel = planQuery(plan, ins.stmt.query);
    const shape = shapeFor(plan, ins.stmt.pos, ins.target, rel, cluster, ins.stmt.columns);
    const out = withStep(env, shape.from, shape.step, opName(plan, `into ${ins.target.name}`), { columns: [] });
    ctx.handles.set(insertRef(i), { stream: out.stream, keyed: false });
  });
  if (ctx.deadLetterProducers.length > 0) {
    const topic = cluster ? options.deadLetterTopic : options.outDir !== undefined || override === "collect" ? "dead-letter" : undefined;
    if (topic !== undefined) allSinks.push({ id: "dead-letter", input: DEAD_LETTER, kafka: { topic } });
  }
  const collected = compileSinks(ctx);
  return { graph: builder.build(), builder, metrics: ctx.metrics, collected };
}

/** The pipeline sources and sinks of a SQL job, and the brokers its tables name (what a worker opens). */
export function sqlConnectors(job: StreamJob): ReturnType<typeof scriptConnectors> {
  return scriptConnectors(analyzeScript(job.spec.sql ?? ""));
}
