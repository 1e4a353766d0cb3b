/**
 * What the SQL compiler passes between operators: a stream of rows (arrays, one value per
 * column) with its columns and time attribute, and what compiling one job shares (the job
 * builder, the catalog, counters, the dead-letter producers).
 */
import type { Context } from "../api/functions.ts";
import type { DataStream, JobBuilder } from "../api/job.ts";
import { fnv1a } from "../graph/uid.ts";
import type { CompileContext } from "../pipeline/context.ts";
import type { Query } from "./ast.ts";
import type { TableDef } from "./catalog.ts";
import type { StatementRef } from "./errors.ts";
import { pooledSteps } from "./pooled.ts";
import type { Column } from "./expr-compile.ts";
import type { WindowAssigner } from "../window/types.ts";

/** A row: column i is row[i]. */
export type Row = unknown[];

/** One change of an updating result (non-windowed GROUP BY): the group key and the new row, or null for a deletion. */
export interface Change {
  key: Row;
  row: Row | null;
}

/** A record-at-a-time step: a row in, a row out (undefined drops it); a throw sends the record to the dead-letter stream. */
export interface Step {
  fn: (r: unknown) => unknown;
  onError: (c: Context, record: unknown, err: unknown) => void;
}

/** A compiled relation. */
export interface Relation {
  /** Rows (or, when `updating`, Changes); pending steps are fused into one operator on first use. */
  readonly stream: DataStream<unknown>;
  /** Steps not yet built, over `input`: a consumer that is a step too joins them (one operator, no hop). */
  pending?: Pending;
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
  /**
   * Set when this relation's last step is a projection (and filter) of `before`: a sink may
   * build its records straight from `before`'s rows with these column functions (no row between).
   */
  projection?: { before: Relation; fns: ((r: Row) => unknown)[]; cond?: (r: Row) => boolean; onError: Step["onError"] };
}

/** Steps waiting to be fused, and the operator once built (shared by every copy of the relation). */
export interface Pending {
  input: DataStream<unknown>;
  steps: Step[];
  name: string;
  built?: DataStream<unknown>;
}

/** One operator running `steps` in order over each record of `input`. */
function fuse(env: SqlEnv, input: DataStream<unknown>, steps: Step[], name: string): DataStream<unknown> {
  const fns = steps.map((s) => s.fn);
  const errs = steps.map((s) => s.onError);
  const stream = input.process<unknown>(() => pooledSteps(name, fns, errs), { name });
  env.ctx.deadLetterProducers.push(stream);
  return stream;
}

/** A relation that is `rel` followed by one more step (fused with rel's pending steps unless those were built already). */
export function withStep(env: SqlEnv, rel: Relation, step: Step, name: string, shape: Omit<Relation, "stream" | "pending">): Relation {
  const from = rel.pending && rel.pending.built === undefined ? rel.pending : { input: rel.stream, steps: [], name: "" };
  const pending: Pending = { input: from.input, steps: [...from.steps, step], name: from.name ? `${from.name}, ${name}` : name };
  return {
    ...shape,
    pending,
    get stream() {
      pending.built ??= fuse(env, pending.input, pending.steps, pending.name);
      return pending.built;
    },
  };
}

/** The same rows under another shape (columns, time attribute), still lazy. */
export function reshape(rel: Relation, shape: Omit<Relation, "stream" | "pending">): Relation {
  return {
    ...shape,
    ...(rel.pending ? { pending: rel.pending } : {}),
    get stream() {
      return rel.stream;
    },
  };
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
  /** How many times each table is read as a stream (a table read once fuses its scan with the reader). */
  reads: Map<string, number>;
  /** Batch execution: bounded inputs, non-windowed aggregates emit final results at the end. */
  batch: boolean;
  /** The column names the statements mention (undefined: every column is read); see mentionedColumns. */
  mentioned?: Set<string>;
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

/** A function computing the partitioning key of a row from key expressions (one expression: no array per row). */
export function keyFunction(fns: ((r: Row) => unknown)[]): (r: Row) => string | number {
  const [only] = fns;
  if (fns.length === 1 && only) {
    const one: Row = [null];
    return (r) => {
      const v = only(r);
      if (typeof v === "string") return v;
      if (typeof v === "number" && Number.isFinite(v)) return v;
      one[0] = v;
      return keyOfValues(one);
    };
  }
  return (r) => keyOfValues(fns.map((f) => f(r)));
}

/** The values back from keyOfValues. */
export function valuesOfKey(key: string | number, width: number): Row {
  if (typeof key === "number") return [key];
  if (key.startsWith("\u0000")) return JSON.parse(key.slice(1)) as Row;
  return width === 1 ? [key] : (JSON.parse(key) as Row);
}
