/**
 * OVER windows: `agg(x) OVER (PARTITION BY k ORDER BY <rowtime> <frame>)`. Rows wait until the
 * watermark passes their time, then each is emitted with the aggregate of its frame, in time
 * order (Flink's semantics; rows late on arrival are dropped and counted). RANGE BETWEEN
 * INTERVAL … PRECEDING runs the runtime's OVER operator; ROWS BETWEEN n PRECEDING and UNBOUNDED
 * PRECEDING run a keyed process function here. Rows with equal timestamps are peers under
 * RANGE (one result for all) and ordered by arrival under ROWS.
 */
import type { Key, KeyedProcessFunction, RuntimeContext } from "../api/functions.ts";
import type { DataStream } from "../api/job.ts";
import { counter } from "../pipeline/context.ts";
import { aggregateOf, combineAggregates, type Aggregate } from "./aggregates.ts";
import type { Select, SelectItem, WindowSpec } from "./ast.ts";
import { fail, unsupported } from "./errors.ts";
import { AGGREGATES, compileExpr, exprKey, hasAggregate, resolveColumn, type Column, type Compiled, type Scope } from "./expr-compile.ts";
import { expandStars, expressionErrors, itemName, requireRowtime } from "./plan.ts";
import { keyFunction, operatorUid, opName, withStep, type Relation, type Row, type StatementPlan } from "./relation.ts";
import { plainType, type SqlType } from "./types.ts";

type OverItem = Extract<SelectItem, { kind: "over" }>;

function windowOf(plan: StatementPlan, s: Select, item: OverItem): WindowSpec {
  const w = item.window;
  if ("frame" in w) return w;
  const named = s.windows.get(w.name);
  if (!named)
    return fail(
      plan.stmt,
      w.pos,
      `unknown window '${w.name}'`,
      s.windows.size ? `defined: ${[...s.windows.keys()].join(", ")}` : "define it: WINDOW w AS (PARTITION BY ... ORDER BY ... RANGE ...)",
    );
  return named;
}

/** Plans a SELECT whose items include OVER aggregates. */
export function planOver(plan: StatementPlan, s: Select, rel: Relation): Relation {
  const stmt = plan.stmt;
  const items = expandStars(plan, s.items, rel.columns);
  const overs = items.filter((i): i is OverItem => i.kind === "over");
  const windows = overs.map((o) => windowOf(plan, s, o));
  const w = windows[0] as WindowSpec;
  const sig = (x: WindowSpec): string => `${x.partitionBy.map(exprKey).join(",")}|${x.orderBy ? exprKey(x.orderBy) : ""}|${JSON.stringify(x.frame)}`;
  for (const [i, x] of windows.entries())
    if (sig(x) !== sig(w))
      unsupported(stmt, (overs[i] as OverItem).pos, "OVER windows that differ within one SELECT", "use one window for every OVER aggregate of a query");
  if (!w.orderBy) fail(stmt, w.pos, "an OVER window needs ORDER BY its time attribute", "ORDER BY ts");
  const order = w.orderBy;
  const scope: Scope = { columns: rel.columns };
  const orderCol = order.kind === "column" ? resolveColumn(stmt, scope, order) : undefined;
  if (!orderCol) return fail(stmt, order.pos, `OVER must be ordered by a time attribute column, got ${order.text}`);
  requireRowtime(plan, rel, orderCol.index, order.text, order.pos, "an OVER window");
  const partFns = w.partitionBy.map((p) => compileExpr(stmt, scope, p).fn);

  // Aggregates of the OVER items.
  const aggs: Aggregate[] = [];
  const argFns: ((r: Row) => unknown)[] = [];
  const argAt: number[] = [];
  for (const o of overs) {
    const call = o.call;
    if (call.kind !== "call" || !AGGREGATES.has(call.name)) {
      const name = call.kind === "call" ? call.name : call.text;
      return unsupported(
        stmt,
        call.pos,
        `${name} OVER (...)`,
        call.kind === "call" && /^(ROW_NUMBER|RANK|DENSE_RANK|LAG|LEAD)$/.test(call.name)
          ? "Top-N and LAG/LEAD are not available in SQL"
          : "OVER takes COUNT, SUM, AVG, MIN, MAX, COLLECT, LISTAGG, ARRAY_AGG, FIRST_VALUE or LAST_VALUE",
      );
    }
    for (const a of call.args) if (hasAggregate(a)) fail(stmt, a.pos, "aggregate functions cannot be nested");
    const args = call.args.map((a) => compileExpr(stmt, scope, a));
    aggs.push(aggregateOf(stmt, call, args));
    const arg = args[0];
    if (arg === undefined) argAt.push(-1);
    else {
      argFns.push(arg.fn);
      argAt.push(argFns.length);
    }
  }
  // The other items, evaluated before the window so the operator keeps only what it emits.
  const plainItems = items.filter((i) => i.kind !== "over");
  const plainCompiled: Compiled[] = plainItems.map((i) => {
    if (i.kind !== "expr") return fail(stmt, i.pos, "unexpected select item");
    if (hasAggregate(i.expr)) fail(stmt, i.pos, "an aggregate without OVER in a query with OVER windows", "give it the OVER window too");
    return compileExpr(stmt, scope, i.expr);
  });
  const plainAt = 1 + argFns.length;
  const columns: Column[] = [];
  const pick: { fromResult: boolean; at: number }[] = [];
  let rowtime: number | undefined;
  let p = 0;
  let a = 0;
  items.forEach((item, i) => {
    if (item.kind === "over") {
      columns.push({ name: itemName(item, i), type: (aggs[a] as Aggregate).type });
      pick.push({ fromResult: true, at: a++ });
      return;
    }
    const c = plainCompiled[p] as Compiled;
    let type: SqlType = item.kind === "expr" && item.expr.kind === "column" && c.type.kind === "TIMESTAMP" && c.type.proctime ? c.type : plainType(c.type);
    if (item.kind === "expr" && item.expr.kind === "column" && resolveColumn(stmt, scope, item.expr)?.index === rel.rowtime && rowtime === undefined) {
      type = c.type;
      rowtime = i;
    }
    columns.push({ name: itemName(item, i), type });
    pick.push({ fromResult: false, at: plainAt + p++ });
  });
  const partitionKey = keyFunction(partFns);
  const preStep = (r: unknown): unknown => {
    const row = r as Row;
    const rec: Row = [partitionKey(row)];
    for (const f of argFns) rec.push(f(row));
    for (const x of plainCompiled) rec.push(x.fn(row));
    return rec;
  };
  const pre = withStep(plan.env, rel, { fn: preStep, onError: expressionErrors(plan, "over") }, opName(plan, "over input"), { columns: [] }).stream;
  const fn = combineAggregates(aggs, argAt);
  const select = (rec: unknown, result: unknown): Row => pick.map((x) => (x.fromResult ? (result as Row)[x.at] : (rec as Row)[x.at]));
  const keyed = pre.keyBy((rec) => (rec as Row)[0] as Key);
  const uid = operatorUid(plan, "over", `${sig(w)}|${overs.map((o) => exprKey(o.call)).join(",")}`);
  const name = opName(plan, "over");
  let stream: DataStream<unknown>;
  if (w.frame.kind === "range") stream = keyed.over<unknown[], unknown>({ rangeMs: w.frame.ms, aggregate: fn, select, uid, name });
  else stream = keyed.process<unknown>(ordered(plan, fn, select, w.frame), { uid, name });
  return { stream, columns, ...(rowtime === undefined ? {} : { rowtime }) };
}

/** ROWS BETWEEN n PRECEDING / UNBOUNDED PRECEDING, in event-time order. */
function ordered(
  plan: StatementPlan,
  fn: ReturnType<typeof combineAggregates>,
  select: (rec: unknown, result: unknown) => Row,
  frame: Exclude<WindowSpec["frame"], { kind: "range" }>,
): (rt: RuntimeContext) => KeyedProcessFunction<Key, unknown, unknown> {
  const late = counter(plan.env.ctx.metrics.dropped, `${plan.scope}/late-row`);
  return (rt) => {
    const pending = rt.mapState<number, Row[]>({ name: "pending" });
    const kept = rt.valueState<Row[]>({ name: "rows" });
    const acc = rt.valueState<unknown[]>({ name: "acc" });
    return {
      processElement(rec, c) {
        const ts = c.timestamp();
        if (ts <= c.currentWatermark()) return late();
        const rows = pending.get(ts);
        if (rows) rows.push(rec as Row);
        pending.put(ts, rows ?? [rec as Row]);
        c.timerService().registerEventTimeTimer(ts);
      },
      onTimer(ts, _c, out) {
        const rows = pending.get(ts);
        if (!rows) return;
        pending.remove(ts);
        if (frame.kind === "rows") {
          const window = kept.value() ?? [];
          for (const r of rows) {
            window.push(r);
            if (window.length > frame.count + 1) window.shift();
            let a = fn.createAccumulator();
            for (const x of window) a = fn.add(x, a);
            out.collect(select(r, fn.getResult(a)));
          }
          kept.update(window);
          return;
        }
        // UNBOUNDED PRECEDING: a running aggregate; peers (equal time) share one result.
        let a = acc.value() ?? fn.createAccumulator();
        for (const r of rows) a = fn.add(r, a);
        acc.update(a);
        const result = fn.getResult(a);
        for (const r of rows) out.collect(select(r, result));
      },
    };
  };
}
