/**
 * Lookup joins: `JOIN dim FOR SYSTEM_TIME AS OF s.proc_time AS d ON s.k = d.id`. Each stream row
 * is joined, when it is processed, with the dimension table's row of that primary key as the
 * table is then (Flink's processing-time lookup join). The table is a compacted topic kept in
 * memory on every worker and followed while the job runs (locally: a file loaded at start), or
 * Redis hashes looked up per micro-batch through a bounded cache (redis-table.ts).
 * Rows already joined are not revisited when the table changes. INNER drops a row without a
 * match; LEFT keeps it with NULLs for the table's columns.
 */
import type { Expr, FromItem } from "./ast.ts";
import { fail, unsupported } from "./errors.ts";
import { compileCondition, compileExpr, resolveColumn, walk, type Column, type Scope } from "./expr-compile.ts";
import { expressionErrors } from "./plan.ts";
import { keyFunction, opName, withStep, type Relation, type Row, type StatementPlan } from "./relation.ts";
import { planRedisLookup } from "./redis-table.ts";
import { lookupTable } from "./scan.ts";
import { comparable, typeName } from "./types.ts";

/** The conjuncts of an AND chain. */
function conjuncts(e: Expr): Expr[] {
  return e.kind === "binary" && e.op === "AND" ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}

/** Whether every column an expression reads is in `columns`. */
function readsOnly(plan: StatementPlan, e: Expr, columns: Column[]): boolean {
  let ok = true;
  walk(e, (x) => {
    if (x.kind === "column" && !resolveColumn(plan.stmt, { columns }, x)) ok = false;
  });
  return ok;
}

/** Plans `left JOIN table FOR SYSTEM_TIME AS OF ... ON ...`. */
export function planLookupJoin(plan: StatementPlan, f: Extract<FromItem, { kind: "join" }>, left: Relation): Relation {
  const stmt = plan.stmt;
  const r = f.right;
  if (r.kind !== "table")
    return unsupported(
      stmt,
      r.pos,
      "a join with a subquery or another join on its right side",
      "join a table: JOIN dim FOR SYSTEM_TIME AS OF s.proc_time AS d ON ...",
    );
  if (!r.systemTime)
    return unsupported(
      stmt,
      f.pos,
      "a regular join of two streams",
      "join a dimension table as of processing time: JOIN dim FOR SYSTEM_TIME AS OF s.proc_time AS d ON ...",
    );
  if (left.updating) unsupported(stmt, f.pos, "a lookup join of an updating result");
  const table = plan.env.tables.get(r.name);
  if (!table)
    return fail(
      stmt,
      r.pos,
      `unknown table '${r.name}'`,
      plan.env.views.has(r.name) ? "a lookup join reads a table, not a view" : "declare it with CREATE TABLE",
    );
  const st = r.systemTime;
  const time = st.kind === "column" ? resolveColumn(stmt, { columns: left.columns }, st) : undefined;
  if (!time) return fail(stmt, st.pos, `FOR SYSTEM_TIME AS OF takes a time attribute of the left side, got ${st.text}`);
  const tt = time.column.type;
  if (tt.kind === "TIMESTAMP" && tt.rowtime)
    unsupported(
      stmt,
      st.pos,
      "an event-time temporal join (FOR SYSTEM_TIME AS OF <event-time attribute>)",
      "Runnel joins each row with the table as it is when the row is processed: declare proc_time AS PROCTIME() and join AS OF it",
    );
  if (!(tt.kind === "TIMESTAMP" && tt.proctime))
    fail(
      stmt,
      st.pos,
      `FOR SYSTEM_TIME AS OF needs a processing-time attribute; '${st.text}' is not one`,
      "declare proc_time AS PROCTIME() in the table and keep it in the select list",
    );
  const alias = r.alias ?? r.name;
  const right: Column[] = table.columns.map((c) => ({
    name: c.name,
    qualifier: alias,
    type: c.type.kind === "TIMESTAMP" ? { kind: "TIMESTAMP", ltz: c.type.ltz } : c.type,
  }));
  const columns = [...left.columns, ...right];
  const scope: Scope = { columns };
  const pk = table.primaryKey as string[];
  const probes = new Map<string, (r: Row) => unknown>();
  const residual: Expr[] = [];
  for (const c of conjuncts(f.on)) {
    if (c.kind === "binary" && c.op === "=") {
      const sides: [Expr, Expr][] = [
        [c.left, c.right],
        [c.right, c.left],
      ];
      let used = false;
      for (const [dimSide, probeSide] of sides) {
        if (dimSide.kind !== "column") continue;
        const col = resolveColumn(stmt, scope, dimSide);
        if (!col || col.index < left.columns.length || !pk.includes(col.column.name) || !readsOnly(plan, probeSide, left.columns)) continue;
        const probe = compileExpr(stmt, { columns: left.columns }, probeSide);
        if (!comparable(probe.type, col.column.type))
          fail(stmt, c.pos, `cannot join ${typeName(probe.type)} with the key ${col.column.name} (${typeName(col.column.type)})`);
        probes.set(col.column.name, probe.fn);
        used = true;
        break;
      }
      if (used) continue;
    }
    residual.push(c);
  }
  const missing = pk.filter((k) => !probes.has(k));
  if (missing.length > 0)
    fail(
      stmt,
      f.on.pos,
      `a lookup join needs an equality on every primary key column of ${r.name}; missing: ${missing.join(", ")}`,
      `ON s.<column> = ${alias}.${missing[0]}`,
    );
  const probeFns = pk.map((k) => probes.get(k) as (r: Row) => unknown);
  const extra =
    residual.length === 0
      ? undefined
      : compileCondition(
          stmt,
          scope,
          residual.reduce((a, b) => ({ kind: "binary", op: "AND", left: a, right: b, pos: a.pos, text: `${a.text} AND ${b.text}` })),
          "ON",
        );
  const outer = f.type === "left";
  if (table.connector === "redis")
    return planRedisLookup(plan, { left, table, probe: probeFns[0] as (r: Row) => unknown, ...(extra ? { extra } : {}), outer, columns });
  const lookup = lookupTable(plan.env, table);
  const nulls: Row = new Array(right.length).fill(null);
  // The table's key of a row (undefined when a probe value is NULL: it matches nothing).
  const key = keyFunction(probeFns);
  const probeKey = (row: Row): Row | undefined => {
    for (const p of probeFns) if (p(row) === null) return undefined;
    return lookup.get(key(row));
  };
  const step = (x: unknown): unknown => {
    const row = x as Row;
    const match = probeKey(row);
    if (match !== undefined) {
      const joined = row.concat(match);
      if (!extra || extra(joined)) return joined;
    }
    return outer ? row.concat(nulls) : undefined;
  };
  return withStep(plan.env, left, { fn: step, onError: expressionErrors(plan, "join") }, opName(plan, `lookup join ${r.name}`), {
    columns,
    ...(left.rowtime === undefined ? {} : { rowtime: left.rowtime }),
  });
}
