/**
 * Aggregating queries. Windowed (GROUP BY TUMBLE/HOP/SESSION(...), or window_start, window_end
 * of a window table function) runs the window operator: one result per key and window when the
 * watermark passes its end. Without a window, GROUP BY keeps each key's accumulator in keyed
 * state and emits an updating result: the key's new row after every change (unchanged rows are
 * not repeated; a row that stops passing HAVING is deleted). In batch mode it emits each key's
 * final row once, at the end of the input.
 */
import type { Key, KeyedProcessFunction } from "../api/functions.ts";
import { MAX_WATERMARK } from "../time/watermarks.ts";
import { session, sliding, tumbling } from "../window/assigners.ts";
import type { WindowAssigner } from "../window/types.ts";
import { aggregateOf, combineAggregates, type Aggregate } from "./aggregates.ts";
import type { Expr, Select } from "./ast.ts";
import { fail } from "./errors.ts";
import { AGGREGATES, compileCondition, compileExpr, exprKey, hasAggregate, resolveColumn, type Compiled, type Scope } from "./expr-compile.ts";
import { compileItems, expandStars, expressionErrors, filterRelation, requireRowtime } from "./plan.ts";
import { keyFunction, operatorUid, opName, valuesOfKey, withStep, type Change, type Relation, type Row, type StatementPlan, type Step } from "./relation.ts";
import { BadRow } from "./scan.ts";
import { unrolledSelect } from "./unrolled.ts";
import { TIMESTAMP, type SqlType } from "./types.ts";
import { equalValues } from "./values.ts";

type CallExpr = Extract<Expr, { kind: "call" }>;

/** Window slots at the front of an aggregate row: start, end, rowtime (end - 1). */
const W_START = 0;
const W_END = 1;
const W_TIME = 2;
const KEYS_AT = 3;

interface WindowPlan {
  fn: "TUMBLE" | "HOP" | "SESSION" | "TVF";
  assigner: WindowAssigner;
  signature: string;
  /** For group windows: the time column name the window properties must repeat. */
  timeColumn?: string;
}

/** Plans an aggregating SELECT over `rel` (WHERE applied here, so a window table function's rows stay unexpanded). */
export function planAggregate(plan: StatementPlan, s: Select, rel: Relation): Relation {
  const stmt = plan.stmt;
  const tvf = rel.windowed;
  const width = rel.columns.length;
  const windowCols = tvf ? { start: width - 3, end: width - 2, time: width - 1 } : undefined;
  let window: WindowPlan | undefined;
  let input = rel;

  // Group keys; a window table function's window_start / window_end pick the window.
  const keyExprs: Expr[] = [];
  const keyColumnIndex: (number | undefined)[] = [];
  let sawStart = false;
  let sawEnd = false;
  for (const g of s.groupBy) {
    const col = g.kind === "column" ? resolveColumn(stmt, { columns: rel.columns }, g) : undefined;
    if (windowCols && col && (col.index === windowCols.start || col.index === windowCols.end || col.index === windowCols.time)) {
      if (col.index === windowCols.start) sawStart = true;
      if (col.index === windowCols.end) sawEnd = true;
      continue;
    }
    if (hasAggregate(g)) fail(stmt, g.pos, "an aggregate cannot be a GROUP BY key");
    keyExprs.push(g);
    keyColumnIndex.push(col?.index);
  }
  if (tvf) {
    if (!sawStart || !sawEnd)
      fail(stmt, s.pos, "an aggregation over a window table function must GROUP BY window_start, window_end", "GROUP BY window_start, window_end, <keys>");
    const a = tvf.assigner;
    window = { fn: "TVF", assigner: a, signature: JSON.stringify(a) };
    input = tvf.base;
  } else if (s.groupWindow) {
    const gw = s.groupWindow;
    const found = resolveColumn(
      stmt,
      { columns: rel.columns },
      { kind: "column", name: gw.timeColumn.split(".").pop() as string, pos: gw.pos, text: gw.timeColumn },
    );
    if (!found) fail(stmt, gw.pos, `${gw.fn}(${gw.timeColumn}, ...): unknown column '${gw.timeColumn}'`);
    requireRowtime(plan, rel, found.index, gw.timeColumn, gw.pos, gw.fn);
    const assigner =
      gw.fn === "TUMBLE"
        ? tumbling({ sizeMs: gw.sizeMs })
        : gw.fn === "HOP"
          ? sliding({ sizeMs: gw.sizeMs, slideMs: gw.slideMs as number })
          : session({ gapMs: gw.sizeMs });
    window = { fn: gw.fn, assigner, signature: JSON.stringify(assigner), timeColumn: gw.timeColumn.split(".").pop() as string };
  }
  if (s.where) {
    const cond = compileCondition(stmt, { columns: rel.columns }, s.where, "WHERE");
    // Over a window table function the condition reads only the table's own columns (a prefix of the row).
    if (tvf && mentionsWindowColumns(s.where, rel, windowCols))
      fail(
        stmt,
        s.where.pos,
        "WHERE over a window table function may not use window_start, window_end or window_time",
        "filter in HAVING, or in an outer query",
      );
    input = filterRelation(plan, input, cond);
  }
  const inScope: Scope = { columns: rel.columns };
  const keyFns = keyExprs.map((k) => compileExpr(stmt, inScope, k));

  // The aggregate scope: [window start, end, time, ...keys, ...aggregates].
  const aggs: { key: string; agg: Aggregate; args: Compiled[] }[] = [];
  const aggKeys = new Map<string, number>();
  const keyText = new Map(keyExprs.map((k, i) => [exprKey(k), i]));
  const slot = (i: number, type: SqlType): Compiled => ({ type, fn: (r) => r[i] });
  const aggScope: Scope = {
    columns: [],
    intercept: (e) => {
      if (e.kind === "call" && AGGREGATES.has(e.name)) return aggregateSlot(e);
      if (e.kind === "call" && /^(TUMBLE|HOP|SESSION)_(START|END|ROWTIME)$/.test(e.name)) return windowProperty(e);
      const k = keyText.get(exprKey(e));
      if (k !== undefined) return slot(KEYS_AT + k, (keyFns[k] as Compiled).type);
      if (e.kind === "column") {
        const col = resolveColumn(stmt, inScope, e);
        if (col && windowCols) {
          if (col.index === windowCols.start) return slot(W_START, TIMESTAMP);
          if (col.index === windowCols.end) return slot(W_END, TIMESTAMP);
          if (col.index === windowCols.time) return slot(W_TIME, { kind: "TIMESTAMP", ltz: false, rowtime: true });
        }
        const at = col ? keyColumnIndex.indexOf(col.index) : -1;
        if (at >= 0) return slot(KEYS_AT + at, (keyFns[at] as Compiled).type);
      }
      return undefined;
    },
    columnProblem: (e) => `column '${e.qualifier ? `${e.qualifier}.` : ""}${e.name}' is neither in GROUP BY nor inside an aggregate function`,
  };
  function aggregateSlot(e: CallExpr): Compiled {
    const k = exprKey(e);
    let at = aggKeys.get(k);
    if (at === undefined) {
      for (const a of e.args) if (hasAggregate(a)) fail(stmt, a.pos, "aggregate functions cannot be nested");
      const args = e.args.map((a) => compileExpr(stmt, inScope, a));
      at = aggs.length;
      aggs.push({ key: k, agg: aggregateOf(stmt, e, args), args });
      aggKeys.set(k, at);
    }
    const i = at;
    return { type: (aggs[i] as { agg: Aggregate }).agg.type, fn: (r) => r[KEYS_AT + keyExprs.length + i] };
  }
  function windowProperty(e: CallExpr): Compiled {
    const [fn, prop] = e.name.split("_") as [string, string];
    if (!window || window.fn !== fn)
      fail(
        stmt,
        e.pos,
        `${e.name} needs GROUP BY ${fn}(...)`,
        window?.fn === "TVF" ? "over a window table function, select window_start, window_end, window_time" : undefined,
      );
    const first = e.args[0];
    if (first?.kind !== "column" || first.name !== window.timeColumn) fail(stmt, e.pos, `${e.name} must repeat the arguments of ${fn}(...) in GROUP BY`);
    return prop === "START"
      ? slot(W_START, TIMESTAMP)
      : prop === "END"
        ? slot(W_END, TIMESTAMP)
        : slot(W_TIME, { kind: "TIMESTAMP", ltz: false, rowtime: true });
  }

  const items = expandStars(plan, s.items, []);
  const out = compileItems(plan, aggScope, items, undefined);
  // A window's rowtime property keeps being a time attribute (cascading windows use it).
  let rowtime: number | undefined;
  items.forEach((item, i) => {
    if (item.kind !== "expr") return;
    const e = item.expr;
    const isTime =
      (e.kind === "call" && /_ROWTIME$/.test(e.name)) ||
      (e.kind === "column" && windowCols !== undefined && resolveColumn(stmt, inScope, e)?.index === windowCols.time);
    if (isTime && window && rowtime === undefined) {
      rowtime = i;
      (out.columns[i] as { type: SqlType }).type = { kind: "TIMESTAMP", ltz: false, rowtime: true };
    }
  });
  const having = s.having ? compileCondition(stmt, aggScope, s.having, "HAVING") : undefined;
  const signature = `${keyExprs.map(exprKey).join(",")}|${aggs.map((a) => a.key).join(",")}`;

  // Before the aggregation: [key, ...aggregate arguments], so expression errors dead-letter here.
  const argFns: ((r: Row) => unknown)[] = [];
  const argAt = aggs.map((a) => {
    const arg = a.args[0];
    if (arg === undefined) return -1;
    argFns.push(arg.fn);
    return argFns.length;
  });
  const kFns = keyFns.map((k) => k.fn);
  const onError = expressionErrors(plan, "group by");
  const keyOf = keyFunction(kFns);
  const nArgs = argFns.length;
  const preStep = (r: unknown): unknown => {
    const row = r as Row;
    const rec: Row = new Array(nArgs + 1);
    rec[0] = keyOf(row);
    for (let i = 0; i < nArgs; i++) rec[i + 1] = (argFns[i] as (r: Row) => unknown)(row);
    return rec;
  };
  const pre = withStep(plan.env, input, { fn: preStep, onError }, opName(plan, "group keys"), { columns: [] }).stream;
  const fn = combineAggregates(
    aggs.map((a) => a.agg),
    argAt,
  );
  const keyed = pre.keyBy((rec) => (rec as Row)[0] as Key);
  const select = unrolledSelect(out.fns, `aggregate\u0000${items.map((i) => i.text).join("\u0000")}`);
  const project = (aggRow: Row): Row | null => {
    if (having && !having(aggRow)) return null;
    return select(aggRow);
  };
  const nKeys = keyExprs.length;
  const aggRowOf = aggregateRowBuilder(nKeys, aggs.length);
  if (window) {
    const uid = operatorUid(plan, "window", `${window.signature}|${signature}`);
    const fired = keyed.window(window.assigner).aggregate<unknown[], unknown[], unknown>(
      fn,
      (result, info) => {
        const aggRow = aggRowOf(info.window.start, info.window.end, info.key, result);
        try {
          return project(aggRow);
        } catch (err) {
          return new BadRow(err instanceof Error ? err.message : String(err), aggRow);
        }
      },
      { uid, name: opName(plan, `${window.fn === "TVF" ? "window" : window.fn} aggregate`) },
    );
    // HAVING and projection ran in the window function: drop what HAVING refused, dead-letter what failed.
    const after: Step = {
      fn: (r) => {
        if (r === null) return undefined;
        if (r instanceof BadRow) throw r;
        return r;
      },
      onError: (c, _record, err) => onError(c, (err as BadRow).record, new Error((err as BadRow).reason)),
    };
    return withStep(plan.env, { stream: fired, columns: [] }, after, opName(plan, "having"), {
      columns: out.columns,
      ...(rowtime === undefined ? {} : { rowtime }),
    });
  }
  const batch = plan.env.batch;
  const uid = operatorUid(plan, "group", signature);
  const stream = keyed.process<unknown>(
    (rt): KeyedProcessFunction<Key, unknown, unknown> => {
      const accState = rt.valueState<unknown[]>({ name: "acc" });
      // Flink's group aggregate: a record that leaves the aggregate results as they were emits nothing;
      // otherwise the key's new row, or its deletion when HAVING stops passing it.
      const rowOf = (key: Key, result: unknown[]): Row | null => project(aggRowOf(null, null, key, result));
      return {
        processElement(rec, c, o) {
          const before = accState.value();
          const key = c.key();
          // The results before the record (an accumulator is updated in place).
          const last = batch || before === undefined ? undefined : fn.getResult(before);
          const acc = fn.add(rec as Row, before ?? fn.createAccumulator());
          accState.update(acc);
          if (batch) {
            c.timerService().registerEventTimeTimer(MAX_WATERMARK);
            return;
          }
          const now = fn.getResult(acc);
          if (last !== undefined && sameValues(last, now)) return;
          let row: Row | null;
          try {
            row = rowOf(key, now);
          } catch (err) {
            onError(c, rec, err);
            return;
          }
          const keyValues = valuesOfKey(key, nKeys);
          if (row !== null) {
            o.collect({ key: keyValues, row } satisfies Change);
            return;
          }
          if (last === undefined) return;
          let prev: Row | null;
          try {
            prev = rowOf(key, last);
          } catch {
            prev = null;
          }
          if (prev !== null) o.collect({ key: keyValues, row: null, prev } satisfies Change & { prev: Row });
        },
        onTimer(_ts, c, o) {
          // Batch: each key's final row, once; the result only grows (an insert-only table).
          const acc = accState.value();
          if (acc === undefined) return;
          const aggRow = aggRowOf(null, null, c.key(), fn.getResult(acc));
          try {
            const row = project(aggRow);
            if (row !== null) o.collect(row);
          } catch (err) {
            onError(c, aggRow, err);
          }
        },
      };
    },
    { uid, name: opName(plan, "group aggregate") },
  );
  plan.env.ctx.deadLetterProducers.push(stream);
  // The result is keyed by the group key: its columns are the select items that are group keys.
  if (batch) return { stream, columns: out.columns };
  const keyColumns = items.flatMap((item, i) => (item.kind === "expr" && keyText.has(exprKey(item.expr)) ? [i] : []));
  return { stream, columns: out.columns, updating: { keyColumns } };
}

/** Builds an aggregate row — window start, end, rowtime, the key's values, the results — without intermediate arrays. */
function aggregateRowBuilder(nKeys: number, nAggs: number): (start: number | null, end: number | null, key: Key, result: unknown[]) => Row {
  const width = KEYS_AT + nKeys + nAggs;
  const resultsAt = KEYS_AT + nKeys;
  return (start, end, key, result) => {
    const row: Row = new Array<unknown>(width);
    row[W_START] = start;
    row[W_END] = end;
    row[W_TIME] = end === null ? null : end - 1;
    // One key column whose key is its own value (keyOfValues): no parse.
    if (nKeys === 1 && (typeof key === "number" || !key.startsWith("\u0000"))) row[KEYS_AT] = key;
    else {
      const values = valuesOfKey(key, nKeys);
      for (let i = 0; i < nKeys; i++) row[KEYS_AT + i] = values[i];
    }
    for (let i = 0; i < nAggs; i++) row[resultsAt + i] = result[i];
    return row;
  };
}

/** Two aggregate results are the same (NULLs equal, values by SQL equality). */
function sameValues(a: Row, b: Row): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === null || y === null || !equalValues(x, y)) return false;
  }
  return true;
}

function mentionsWindowColumns(e: Expr, rel: Relation, w: { start: number; end: number; time: number } | undefined): boolean {
  if (!w) return false;
  const names = new Set([rel.columns[w.start]?.name, rel.columns[w.end]?.name, rel.columns[w.time]?.name]);
  return /\b(window_start|window_end|window_time)\b/.test(e.text) && names.size > 0;
}
