/**
 * What the SQL compiler passes between operators: a stream of rows (arrays, one value per
 * column) with its columns and time attribute, and what compiling one job shares (the job
 * builder, the catalog, counters, the dead-letter producers).
 */
import type { DataStream, JobBuilder } from "../api/job.ts";
import { fnv1a } from "../graph/uid.ts";
import type { CompileContext } from "../pipeline/context.ts";
import type { Query } from "./ast.ts";
import type { TableDef } from "./catalog.ts";
import type { StatementRef } from "./errors.ts";
import type { Column } from "./expr-compile.ts";
import type { WindowAssigner } from "../window/types.ts";

/** A row: column i is row[i]. */
export type Row = unknown[];

/** One change of an updating result (non-windowed GROUP BY): the group key and the new row, or null for a deletion. */
export interface Change {
  key: Row;
  row: Row | null;
}

/** A compiled relation. */
export interface Relation {
  /** Rows (or, when `updating`, Changes). */
  stream: DataStream<unknown>;
  columns: Column[];
  /** Index of the event-time attribute: each record's timestamp equals this column's value. */
  rowtime?: number;
  /** An updating result keyed by these columns: only a sink can consume it. */
  updating?: { keyColumns: number[] };
  /**
   * A window table function's relation (TABLE(TUMBLE(...))): the rows before windowing, so an
   * aggregation grouped by window_start, window_end runs the window operator on them. The last
   * three columns are window_start, window_end, window_time.
   */
  windowed?: { base: Relation; assigner: WindowAssigner };
}

/** What compiling a job shares across statements. */
export interface SqlEnv {
  /** The pipeline compile context: builder, options, metrics, dead-letter producers, derived sources and sinks. */
  ctx: CompileContext;
  builder: JobBuilder;
  tables: Map<string, TableDef>;
  views: Map<string, { query: Query; columns?: string[]; ref: StatementRef }>;
  /** Scans already built, by table name (statements reading one table share its source). */
  scans: Map<string, Relation>;
  /** Batch execution: bounded inputs, non-windowed aggregates emit final results at the end. */
  batch: boolean;
  /** `table.exec.source.idle-timeout`. */
  idleMs?: number;
}

/** What planning one statement needs: its env, its place for errors, and its uid scope. */
export interface StatementPlan {
  env: SqlEnv;
  stmt: StatementRef;
  /** The statement's identity for uids: its target table (with #n when several INSERTs share one). */
  scope: string;
  /** Stateful operators placed so far, by kind (their position). */
  positions: Map<string, number>;
  /** CTEs visible here. */
  ctes: Map<string, { query: Query; columns?: string[] }>;
}

/**
 * The uid of a stateful operator: `<statement>/<kind><position>#<hash>`. The statement is the
 * INSERT's target, the position counts operators of that kind within the statement, and the
 * hash covers what shapes the operator's state (keys, window, aggregate calls), so editing a
 * projection keeps the uid while changing an aggregate starts that operator afresh.
 */
export function operatorUid(plan: StatementPlan, kind: string, stateSignature: string): string {
  const n = plan.positions.get(kind) ?? 0;
  plan.positions.set(kind, n + 1);
  return `${plan.scope}/${kind}${n}#${fnv1a(stateSignature)}`;
}

/** A readable operator name within a statement. */
export function opName(plan: StatementPlan, what: string): string {
  return `${plan.scope}: ${what}`;
}

/** A group key as a partitioning key: one string or number column as itself, others as JSON. */
export function keyOfValues(values: Row): string | number {
  if (values.length === 1) {
    const v = values[0];
    if (typeof v === "string") return v;
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return `\u0000${JSON.stringify(values)}`;
}

/** The values back from keyOfValues. */
export function valuesOfKey(key: string | number, width: number): Row {
  if (typeof key === "number") return [key];
  if (key.startsWith("\u0000")) return JSON.parse(key.slice(1)) as Row;
  return width === 1 ? [key] : (JSON.parse(key) as Row);
}
