/**
 * Plans a query onto the typed API: FROM (tables, views, CTEs, subqueries, window table
 * functions, lookup joins), WHERE and the select list fused into one record-at-a-time operator,
 * and the aggregations and OVER windows of `aggregate.ts` and `over.ts`. Rows that an expression
 * fails on go to the dead-letter stream with the reason.
 */
import type { Context } from "../api/functions.ts";
import { counter, DEAD_LETTER_TAG } from "../pipeline/context.ts";
import { sliding, tumbling } from "../window/assigners.ts";
import type { WindowAssigner } from "../window/types.ts";
import type { Expr, FromItem, Query, Select, SelectItem } from "./ast.ts";
import { planAggregate } from "./aggregate.ts";
import { fail, unsupported } from "./errors.ts";
import { compileCondition, compileExpr, hasAggregate, resolveColumn, type Column, type Scope } from "./expr-compile.ts";
import { planLookupJoin } from "./join.ts";
import { planOver } from "./over.ts";
import { opName, reshape, withStep, type Relation, type Row, type StatementPlan } from "./relation.ts";
import { scanTable } from "./scan.ts";
import { unrolledSelect } from "./unrolled.ts";
import { commonType, plainType, typeName, type SqlType } from "./types.ts";

/** The name a select item's column gets: its alias, a column's or field's name, else EXPR$i (as Flink). */
export function itemName(item: SelectItem, i: number): string {
  if (item.kind === "over") return item.alias;
  if (item.kind === "expr") {
    if (item.alias) return item.alias;
    if (item.expr.kind === "column" || item.expr.kind === "field") return item.expr.name;
  }
  return `EXPR$${i}`;
}

/** Plans a query (with its CTEs in scope). */
export function planQuery(plan: StatementPlan, q: Query): Relation {
  const inner: StatementPlan = q.with.length === 0 ? plan : { ...plan, ctes: new Map(plan.ctes) };
  for (const cte of q.with) {
    if (inner.ctes.has(cte.name)) fail(plan.stmt, cte.pos, `the common table expression '${cte.name}' is defined twice`);
    inner.ctes.set(cte.name, { query: cte.query, ...(cte.columns ? { columns: cte.columns } : {}) });
  }
  if (q.kind === "union") return planUnion(inner, q);
  return planSelect(inner, q);
}

function planUnion(plan: StatementPlan, q: Extract<Query, { kind: "union" }>): Relation {
  const rels = q.inputs.map((i) => planQuery(plan, i));
  const first = rels[0] as Relation;
  for (const [i, r] of rels.entries()) {
    if (r.updating) unsupported(plan.stmt, (q.inputs[i] as Query).pos, "UNION ALL of an updating result (GROUP BY without a window)");
    if (r.columns.length !== first.columns.length)
      fail(plan.stmt, (q.inputs[i] as Query).pos, `UNION ALL inputs have ${first.columns.length} and ${r.columns.length} columns`);
  }
  const columns = first.columns.map((c, j) => {
    const t = commonType(rels.map((r) => (r.columns[j] as Column).type));
    if (!t) fail(plan.stmt, q.pos, `column ${j + 1} of UNION ALL has no common type: ${rels.map((r) => typeName((r.columns[j] as Column).type)).join(", ")}`);
    return { name: c.name, type: rels.every((r) => r.rowtime === j) ? (r0Type(first, j) as SqlType) : plainType(t) };
  });
  const stream = first.stream.union(...rels.slice(1).map((r) => r.stream));
  const rowtime = rels.every((r) => r.rowtime !== undefined && r.rowtime === first.rowtime) ? first.rowtime : undefined;
  return { stream, columns, ...(rowtime === undefined ? {} : { rowtime }) };
}

function r0Type(r: Relation, j: number): SqlType | undefined {
  return r.columns[j]?.type;
}

/** Re-qualifies a relation's columns with an alias (a subquery's or a view's name). */
function qualified(rel: Relation, alias: string | undefined, names?: string[]): Relation {
  return reshape(rel, {
    columns: rel.columns.map((c, i) => {
      const out: Column = { name: names?.[i] ?? c.name, type: c.type };
      if (alias !== undefined) out.qualifier = alias;
      return out;
    }),
    ...(rel.rowtime === undefined ? {} : { rowtime: rel.rowtime }),
    ...(rel.updating ? { updating: rel.updating } : {}),
    ...(rel.windowed ? { windowed: rel.windowed } : {}),
  });
}

/** A named relation: a CTE, a view, or a table's scan. */
function planNamed(plan: StatementPlan, f: Extract<FromItem, { kind: "table" }>): Relation {
  const alias = f.alias ?? f.name;
  const cte = plan.ctes.get(f.name);
  if (cte) return qualified(planQuery(plan, cte.query), alias, cte.columns);
  const view = plan.env.views.get(f.name);
  if (view) return qualified(planQuery({ ...plan, ctes: new Map() }, view.query), alias, view.columns);
  const table = plan.env.tables.get(f.name);
  if (!table) {
    const known = [...plan.env.tables.keys(), ...plan.env.views.keys(), ...plan.ctes.keys()];
    return fail(plan.stmt, f.pos, `unknown table '${f.name}'`, known.length ? `known: ${known.join(", ")}` : "declare it with CREATE TABLE");
  }
  if (table.connector === "upsert-kafka")
    unsupported(
      plan.stmt,
      f.pos,
      `reading the upsert-kafka table ${f.name} as a stream`,
      "join it as a dimension table: JOIN t FOR SYSTEM_TIME AS OF <proctime> AS d ON ...",
    );
  return qualified(scanTable(plan.env, table), alias);
}

/** Plans a FROM item. */
export function planFrom(plan: StatementPlan, f: FromItem): Relation {
  switch (f.kind) {
    case "table":
      if (f.systemTime) fail(plan.stmt, f.pos, "FOR SYSTEM_TIME AS OF belongs on the right side of a JOIN (a lookup join)");
      return planNamed(plan, f);
    case "subquery":
      return qualified(planQuery(plan, f.query), f.alias);
    case "join":
      return planLookupJoin(plan, f, planFrom(plan, f.left));
    case "tvf": {
      const base = planNamed(plan, { kind: "table", name: f.table, pos: f.pos, text: f.table });
      const found = resolveColumn(plan.stmt, { columns: base.columns }, { kind: "column", name: f.timeColumn, pos: f.pos, text: f.timeColumn });
      if (!found) fail(plan.stmt, f.pos, `DESCRIPTOR(${f.timeColumn}): ${f.table} has no column '${f.timeColumn}'`);
      requireRowtime(plan, base, found.index, f.timeColumn, f.pos, f.fn);
      const assigner =
        f.fn === "TUMBLE"
          ? tumbling({ sizeMs: f.sizeMs, offsetMs: f.offsetMs ?? 0 })
          : sliding({ sizeMs: f.sizeMs, slideMs: f.slideMs as number, offsetMs: f.offsetMs ?? 0 });
      return windowedRelation(plan, base, assigner);
    }
  }
}

/** Insists that column `index` of `rel` is its event-time attribute (windows and OVER need one). */
export function requireRowtime(plan: StatementPlan, rel: Relation, index: number, name: string, pos: Expr["pos"], what: string): void {
  const t = rel.columns[index]?.type;
  if (rel.rowtime === index) return;
  if (t?.kind === "TIMESTAMP" && t.proctime)
    unsupported(plan.stmt, pos, `${what} over the processing-time attribute '${name}'`, "use the event-time attribute (the WATERMARK FOR column)");
  fail(
    plan.stmt,
    pos,
    `${what} needs a time attribute, and '${name}' is not one`,
    "declare WATERMARK FOR <column> AS <column> - INTERVAL '5' SECOND in the table, and select the column unchanged (a CAST or expression makes it an ordinary TIMESTAMP)",
  );
}

/** The rows of a window table function: each row with window_start, window_end, window_time appended (built only when used row by row). */
function windowedRelation(plan: StatementPlan, base: Relation, assigner: WindowAssigner): Relation {
  const columns: Column[] = [
    ...base.columns,
    { name: "window_start", type: { kind: "TIMESTAMP", ltz: false } },
    { name: "window_end", type: { kind: "TIMESTAMP", ltz: false } },
    { name: "window_time", type: { kind: "TIMESTAMP", ltz: false, rowtime: true } },
  ];
  const rowtime = base.rowtime as number;
  let stream: Relation["stream"] | undefined;
  const rel: Relation = {
    columns,
    rowtime: columns.length - 1,
    windowed: { base, assigner },
    get stream() {
      stream ??= base.stream.flatMap<unknown>(
        (r, out) => {
          const row = r as Row;
          const ts = row[rowtime] as number;
          for (const w of windowsOf(assigner, ts)) out.collect([...row, w.start, w.end, w.end - 1]);
        },
        { name: opName(plan, "window table function") },
      );
      return stream;
    },
  };
  return rel;
}

function windowsOf(a: WindowAssigner, ts: number): { start: number; end: number }[] {
  if (a.kind === "tumbling") {
    const start = ts - ((((ts - a.offsetMs) % a.sizeMs) + a.sizeMs) % a.sizeMs);
    return [{ start, end: start + a.sizeMs }];
  }
  if (a.kind === "sliding") {
    const out: { start: number; end: number }[] = [];
    const last = ts - ((((ts - a.offsetMs) % a.slideMs) + a.slideMs) % a.slideMs);
    for (let s = last; s > ts - a.sizeMs; s -= a.slideMs) out.push({ start: s, end: s + a.sizeMs });
    return out;
  }
  return [];
}

/** Whether a select list or HAVING aggregates (so the query is an aggregation). */
function aggregates(s: Select): boolean {
  return s.groupBy.length > 0 || s.groupWindow !== undefined || s.having !== undefined || s.items.some((i) => i.kind === "expr" && hasAggregate(i.expr));
}

/** Plans a SELECT. */
function planSelect(plan: StatementPlan, s: Select): Relation {
  if (s.distinct) unsupported(plan.stmt, s.pos, "SELECT DISTINCT", "GROUP BY the columns instead (an updating result), or aggregate in a window");
  if (!s.from) unsupported(plan.stmt, s.pos, "a SELECT without FROM");
  let rel = planFrom(plan, s.from);
  if (rel.updating)
    unsupported(
      plan.stmt,
      s.pos,
      "a query over an updating result (GROUP BY without a window)",
      "aggregate in a window, or write the updating result to an upsert-kafka table",
    );
  const overItems = s.items.filter((i) => i.kind === "over");
  if (aggregates(s)) {
    if (overItems.length > 0) unsupported(plan.stmt, (overItems[0] as SelectItem).pos, "OVER windows in an aggregating query");
    return planAggregate(plan, s, rel);
  }
  if (s.where) {
    const scope: Scope = { columns: rel.columns };
    const cond = compileCondition(plan.stmt, scope, s.where, "WHERE");
    if (overItems.length > 0) rel = filterRelation(plan, rel, cond);
    else return project(plan, rel, s.items, cond);
  }
  if (overItems.length > 0) return planOver(plan, s, rel);
  return project(plan, rel, s.items);
}

/** A relation with only the rows a condition keeps. */
export function filterRelation(plan: StatementPlan, rel: Relation, cond: (r: Row) => boolean): Relation {
  const shape = { columns: rel.columns, ...(rel.rowtime === undefined ? {} : { rowtime: rel.rowtime }) };
  return withStep(plan.env, rel, { fn: (r) => (cond(r as Row) ? r : undefined), onError: expressionErrors(plan, "where") }, opName(plan, "where"), shape);
}

/** Sends a row an expression failed on to the dead-letter stream (counted under `<statement>/expression-error`). */
export function expressionErrors(plan: StatementPlan, where: string): (c: Context, row: unknown, err: unknown) => void {
  const count = counter(plan.env.ctx.metrics.deadLetters, `${plan.scope}/expression-error`);
  return (c, row, err) => {
    count();
    c.output(DEAD_LETTER_TAG, {
      step: `${plan.scope} (${where})`,
      reason: "expression-error",
      error: err instanceof Error ? err.message : String(err),
      record: row,
    });
  };
}

/** Expands `*` and `t.*` into column references. */
export function expandStars(plan: StatementPlan, items: SelectItem[], columns: Column[]): SelectItem[] {
  return items.flatMap((item): SelectItem[] => {
    if (item.kind !== "star") return [item];
    const picked = columns.filter((c) => item.qualifier === undefined || c.qualifier === item.qualifier);
    if (picked.length === 0) fail(plan.stmt, item.pos, `${item.qualifier ?? ""}.* matches no columns`);
    return picked.map((c) => ({
      kind: "expr",
      pos: item.pos,
      text: c.name,
      expr: { kind: "column", name: c.name, ...(c.qualifier !== undefined ? { qualifier: c.qualifier } : {}), pos: item.pos, text: c.name },
      alias: c.name,
    }));
  });
}

/** Compiles select items in a scope: the output columns and one function per column; a plain column reference to the rowtime stays the rowtime. */
export function compileItems(
  plan: StatementPlan,
  scope: Scope,
  items: SelectItem[],
  rowtime: number | undefined,
): { columns: Column[]; fns: ((r: Row) => unknown)[]; rowtime?: number } {
  const columns: Column[] = [];
  const fns: ((r: Row) => unknown)[] = [];
  let outRowtime: number | undefined;
  items.forEach((item, i) => {
    if (item.kind !== "expr") return fail(plan.stmt, item.pos, "an OVER window is not allowed here");
    const c = compileExpr(plan.stmt, scope, item.expr);
    // A column passed on unchanged keeps its processing-time mark (a lookup join may need it later).
    let type = item.expr.kind === "column" && c.type.kind === "TIMESTAMP" && c.type.proctime ? c.type : plainType(c.type);
    if (item.expr.kind === "column" && rowtime !== undefined && outRowtime === undefined) {
      const found = resolveColumn(plan.stmt, scope, item.expr);
      if (found?.index === rowtime) {
        type = c.type;
        outRowtime = i;
      }
    }
    columns.push({ name: itemName(item, i), type });
    fns.push(c.fn);
  });
  return { columns, fns, ...(outRowtime === undefined ? {} : { rowtime: outRowtime }) };
}

/** Projection (and filter), fused into one operator. */
function project(plan: StatementPlan, rel: Relation, rawItems: SelectItem[], cond?: (r: Row) => boolean): Relation {
  const items = expandStars(plan, rawItems, rel.columns);
  const scope: Scope = { columns: rel.columns };
  const { columns, fns, rowtime } = compileItems(plan, scope, items, rel.rowtime);
  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name))
      fail(plan.stmt, rawItems[0]?.pos ?? { line: 1, column: 1 }, `the select list has two columns named '${c.name}'`, "give one an alias (AS ...)");
    names.add(c.name);
  }
  const select = unrolledSelect(fns, items.map((i) => i.text).join("\u0000"));
  const step = cond ? (r: unknown): unknown => (cond(r as Row) ? select(r as Row) : undefined) : (r: unknown): unknown => select(r as Row);
  const onError = expressionErrors(plan, "select");
  const out = withStep(plan.env, rel, { fn: step, onError }, opName(plan, cond ? "where, select" : "select"), {
    columns,
    ...(rowtime === undefined ? {} : { rowtime }),
  });
  out.projection = { before: rel, fns, onError, ...(cond ? { cond } : {}) };
  return out;
}
