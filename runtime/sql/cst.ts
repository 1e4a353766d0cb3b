/**
 * The parse tree of a script into statements (`ast.ts`): CREATE TABLE, CREATE VIEW, INSERT INTO
 * (alone or in a statement set) and SET. Everything else the Flink grammar accepts is refused by
 * name with its position, never skipped.
 */
import type { ParserRuleContext } from "antlr4ng";
import type { ColumnDef, Expr, FromItem, GroupWindow, Query, Select, SelectItem, Statement, WindowSpec } from "./ast.ts";
import { columnRef, expr, identName, intervalMs, nodeOf, P, posOf, stringValue, textOf, typeOf, uidParts, type Cx } from "./cst-expr.ts";
import { fail, SqlError, unsupported, type StatementRef } from "./errors.ts";
import { parseExpressionAt, parseScript } from "./parser.ts";

type Ctx<T extends abstract new (...args: never[]) => unknown> = InstanceType<T>;

/** A statement's label for messages: its first words up to the target name. */
function labelOf(text: string): string {
  const words = text.replace(/\s+/g, " ").trim().split(" ");
  const upper = words.map((w) => w.toUpperCase());
  let n = 3;
  if (upper[0] === "CREATE" && (upper[1] === "TEMPORARY" || upper[1] === "OR")) n = 4;
  if (upper[0] === "SET" || upper[0] === "RESET") n = 2;
  if (upper[0] === "EXECUTE" || upper[0] === "BEGIN") n = 3;
  return words
    .slice(0, n)
    .join(" ")
    .replace(/[(;].*$/, "");
}

/** Parses a script into statements; throws a SqlError (statement, line, column, expected) on the first problem. */
export function parseStatements(sql: string): Statement[] {
  const parsed = parseScript(sql);
  const singles = parsed.program.singleStatement();
  // Statements by their tokens (a broken statement has no reliable parse tree): ';' ends one,
  // except inside parentheses or a statement set's BEGIN ... END.
  const labelAt = (offset: number): StatementRef => {
    const visible = parsed.tokens.getTokens().filter((t) => t.channel === 0 && t.type !== -1);
    let ordinal = 1;
    let startText = 0;
    let depth = 0;
    let block = 0;
    for (const [i, t] of visible.entries()) {
      const text = (t.text ?? "").toUpperCase();
      if (t.start >= offset) break;
      if (text === "(") depth++;
      else if (text === ")") depth--;
      else if (text === "BEGIN") block++;
      else if (text === "END" && block > 0) block--;
      else if (text === ";" && depth === 0 && block === 0) {
        ordinal++;
        startText = i + 1;
      }
    }
    const words = visible.slice(startText, startText + 6).map((t) => t.text ?? "");
    return { ordinal, label: labelOf(words.join(" ")) || "end of script" };
  };
  const first = parsed.issues[0];
  if (first) {
    const at = labelAt(first.offset);
    throw new SqlError({ statement: at.ordinal, label: at.label, line: first.line, column: first.column }, `syntax error: ${first.message}`);
  }
  const out: Statement[] = [];
  let ordinal = 0;
  for (const s of singles) {
    const stmtCtx = s.sqlStatement();
    if (!stmtCtx) continue;
    ordinal++;
    const text = textOf({ sql, stmt: { ordinal, label: "" } }, stmtCtx);
    const cx: Cx = { sql, stmt: { ordinal, label: labelOf(text) } };
    out.push(...statement(cx, stmtCtx));
  }
  return out;
}

function base(cx: Cx, ctx: ParserRuleContext): { ref: StatementRef; pos: Statement["pos"]; text: string } {
  return { ref: cx.stmt, pos: posOf(ctx), text: textOf(cx, ctx) };
}

function statement(cx: Cx, ctx: Ctx<typeof P.SqlStatementContext>): Statement[] {
  const ddl = ctx.ddlStatement();
  if (ddl) {
    const table = ddl.createTable();
    if (table) {
      const simple = table.simpleCreateTable();
      if (!simple) return unsupported(cx.stmt, posOf(table), "CREATE TABLE ... AS SELECT", "declare the table's columns and INSERT INTO it");
      return [createTable(cx, simple)];
    }
    const view = ddl.createView();
    if (view) {
      const cols = view
        .columnNameList()
        ?.columnName()
        .map((c) => identName(c.getText()));
      return [
        {
          ...base(cx, view),
          kind: "createView",
          name: uidParts(view.viewPathCreate()).join("."),
          ...(cols ? { columns: cols } : {}),
          query: query(cx, view.queryStatement()),
        },
      ];
    }
    return unsupported(cx.stmt, posOf(ddl), cx.stmt.label, "a job's script holds CREATE TABLE, CREATE VIEW, SET and INSERT INTO statements");
  }
  const dml = ctx.dmlStatement();
  if (dml) {
    const ins = dml.insertStatement();
    if (!ins)
      return unsupported(cx.stmt, posOf(dml), "a SELECT without INSERT INTO", "a job writes every query's result to a table: INSERT INTO <table> SELECT ...");
    const simple = ins.insertSimpleStatement();
    if (simple) return [insert(cx, simple)];
    const set = ins.insertMulStatement() ?? ins.insertMulStatementCompatibility();
    return (set?.insertSimpleStatement() ?? []).map((i) => insert({ ...cx, stmt: { ordinal: cx.stmt.ordinal, label: labelOf(textOf(cx, i)) } }, i));
  }
  const set = ctx.setStatement();
  if (set) {
    const prop = set.tableProperty();
    if (!prop) return unsupported(cx.stmt, posOf(set), "SET without a key (listing options)");
    return [
      { ...base(cx, set), kind: "set", key: stringValue(prop.tablePropertyKey().getText()), value: stringValue(prop.tablePropertyValue()?.getText() ?? "") },
    ];
  }
  return unsupported(
    cx.stmt,
    posOf(ctx),
    cx.stmt.label.split(" ").slice(0, 2).join(" "),
    "a job's script holds CREATE TABLE, CREATE VIEW, SET and INSERT INTO statements",
  );
}

function createTable(cx: Cx, ctx: Ctx<typeof P.SimpleCreateTableContext>): Statement {
  if (ctx.partitionDefinition()) unsupported(cx.stmt, posOf(ctx.partitionDefinition() as ParserRuleContext), "PARTITIONED BY");
  if (ctx.likeDefinition()) unsupported(cx.stmt, posOf(ctx.likeDefinition() as ParserRuleContext), "CREATE TABLE ... LIKE");
  const columns: ColumnDef[] = [];
  let primaryKey: string[] | undefined;
  for (const c of ctx.columnOptionDefinition()) {
    const n = nodeOf(cx, c);
    const phys = c.physicalColumnDefinition();
    const comp = c.computedColumnDefinition();
    if (phys) {
      const name = identName(phys.columnNameCreate().getText());
      columns.push({ ...n, kind: "physical", name, type: typeOf(cx, phys.columnType()) });
      const cc = phys.columnConstraint();
      if (cc?.KW_PRIMARY()) {
        if (!cc.KW_ENFORCED())
          fail(cx.stmt, posOf(cc), "a PRIMARY KEY must be declared NOT ENFORCED (Runnel, like Flink, does not check it)", "PRIMARY KEY NOT ENFORCED");
        primaryKey = [name];
      }
    } else if (comp) {
      columns.push({
        ...n,
        kind: "computed",
        name: identName(comp.columnNameCreate().getText()),
        expr: expr(cx, comp.computedColumnExpression().expression()),
      });
    } else unsupported(cx.stmt, n.pos, "a METADATA column", "read Kafka metadata through the record's fields");
  }
  const wm = ctx.watermarkDefinition();
  const tc = ctx.tableConstraint();
  if (tc)
    primaryKey = tc
      .columnNameList()
      .columnName()
      .map((c) => identName(c.getText()));
  const options = new Map<string, { value: string; pos: Statement["pos"] }>();
  for (const p of ctx.withOption().tablePropertyList().tableProperty()) {
    const key = stringValue(identName(p.tablePropertyKey().getText()));
    if (options.has(key)) fail(cx.stmt, posOf(p), `the option '${key}' is given twice`);
    options.set(key, { value: stringValue(p.tablePropertyValue()?.getText() ?? ""), pos: posOf(p) });
  }
  return {
    ...base(cx, ctx),
    kind: "createTable",
    name: uidParts(ctx.tablePathCreate()).join("."),
    columns,
    ...(wm ? { watermark: { column: identName(wm.columnName().getText()), expr: expr(cx, wm.expression()), pos: posOf(wm) } } : {}),
    ...(primaryKey ? { primaryKey } : {}),
    options,
  };
}

function insert(cx: Cx, ctx: Ctx<typeof P.InsertSimpleStatementContext>): Statement {
  if (ctx.KW_OVERWRITE()) unsupported(cx.stmt, posOf(ctx), "INSERT OVERWRITE", "use INSERT INTO");
  if (ctx.insertPartitionDefinition()) unsupported(cx.stmt, posOf(ctx), "INSERT INTO ... PARTITION");
  const q = ctx.queryStatement();
  if (!q) return unsupported(cx.stmt, posOf(ctx), "INSERT INTO ... VALUES", "a job's inserts read tables: INSERT INTO <table> SELECT ...");
  const cols = ctx
    .columnNameList()
    ?.columnName()
    .map((c) => identName(c.getText()));
  return { ...base(cx, ctx), kind: "insert", target: uidParts(ctx.tablePath()).join("."), ...(cols ? { columns: cols } : {}), query: query(cx, q) };
}

/** A query statement: SELECT, WITH … SELECT, (query), or UNION ALL. */
export function query(cx: Cx, ctx: Ctx<typeof P.QueryStatementContext>): Query {
  const n = nodeOf(cx, ctx);
  if (ctx.orderByClause())
    unsupported(cx.stmt, posOf(ctx.orderByClause() as ParserRuleContext), "ORDER BY on a stream", "results are emitted in event-time order already");
  if (ctx.limitClause()) unsupported(cx.stmt, posOf(ctx.limitClause() as ParserRuleContext), "LIMIT");
  if (ctx.valuesClause()) return unsupported(cx.stmt, n.pos, "VALUES");
  const w = ctx.withClause();
  if (w) {
    const inner = query(cx, ctx.queryStatement()[0] as Ctx<typeof P.QueryStatementContext>);
    const ctes = w.withItem().map((item) => {
      const cols = item.columnName().map((c) => identName(c.getText()));
      return {
        name: identName(item.withItemName().getText()),
        ...(cols.length ? { columns: cols } : {}),
        query: query(cx, item.queryStatement()),
        pos: posOf(item),
      };
    });
    return { ...inner, with: [...ctes, ...inner.with] };
  }
  const op = ctx._operator?.text?.toUpperCase();
  if (op) {
    if (op !== "UNION" || !ctx.KW_ALL()) return unsupported(cx.stmt, n.pos, op === "UNION" ? "UNION (without ALL)" : op, "UNION ALL is supported");
    const [l, r] = ctx.queryStatement();
    const flat = (q: Query): Query[] => (q.kind === "union" && q.with.length === 0 ? q.inputs : [q]);
    return { ...n, kind: "union", inputs: [...flat(query(cx, l as typeof ctx)), ...flat(query(cx, r as typeof ctx))], with: [] };
  }
  const sel = ctx.selectStatement();
  if (sel) return select(cx, sel, n);
  const clause = ctx.selectClause();
  if (clause) return { ...n, kind: "select", with: [], distinct: false, items: selectItems(cx, clause), groupBy: [], windows: new Map() };
  const inner = ctx.queryStatement()[0];
  if (inner) return query(cx, inner);
  return unsupported(cx.stmt, n.pos, `the query ${n.text}`);
}

function selectItems(cx: Cx, clause: Ctx<typeof P.SelectClauseContext>): SelectItem[] {
  return clause
    .selectList()
    .columnProjectItem()
    .map((item): SelectItem => {
      const n = nodeOf(cx, item);
      const over = item.selectWindowItemColumnName()?.overWindowItem();
      if (over) {
        const spec = over.windowSpec();
        const named = over.errorCapturingIdentifier();
        const window = spec ? windowSpec(cx, spec) : { name: identName((named as ParserRuleContext).getText()), pos: posOf(named as ParserRuleContext) };
        return { ...n, kind: "over", call: expr(cx, over.primaryExpression()), window, alias: identName(over.identifier().getText()) };
      }
      const all = item.tableAllColumns();
      if (all) {
        const q = all.identifier().map((i) => identName(i.getText()));
        return { ...n, kind: "star", ...(q.length ? { qualifier: q.join(".") } : {}) };
      }
      const aliasCtx = item.columnAlias();
      const lit = item.selectLiteralColumnName();
      // The grammar reads a bare number in a select list as a column name: it is a literal.
      const litNode = lit ? nodeOf(cx, lit) : undefined;
      let e: Expr;
      if (lit && litNode && /^\d+$/.test(litNode.text)) e = { ...litNode, kind: "literal", value: Number(litNode.text), type: { kind: "INT" } };
      else if (lit && litNode && item.expression() && !item.KW_AS()) {
        // The grammar reads `a + 1` or `f(x)` as the column `a` followed by an expression: read the item again, whole.
        const whole = item.expression() as ParserRuleContext;
        const again = parseExpressionAt(cx.sql, lit.start?.start ?? 0, whole.stop?.stop ?? 0);
        const issue = again.issues[0];
        if (issue) fail(cx.stmt, issue, `syntax error: ${issue.message}`);
        e = expr(cx, again.expression);
      } else if (lit && litNode) e = columnRef(litNode, uidParts(lit.columnName()));
      else e = expr(cx, (item.selectExpressionColumnName() as Ctx<typeof P.SelectExpressionColumnNameContext>).expression());
      const aliasText = aliasCtx?.identifier().getText() ?? item.columnName()?.getText() ?? (item.KW_AS() ? item.expression()?.getText() : undefined);
      return { ...n, kind: "expr", expr: e, ...(aliasText ? { alias: identName(aliasText) } : {}) };
    });
}

function select(cx: Cx, ctx: Ctx<typeof P.SelectStatementContext>, n: ReturnType<typeof nodeOf>): Select {
  if (ctx.matchRecognizeClause()) unsupported(cx.stmt, posOf(ctx.matchRecognizeClause() as ParserRuleContext), "MATCH_RECOGNIZE", "use a pipeline `cep` step");
  const clause = ctx.selectClause();
  const from = ctx.fromClause();
  const where = ctx.whereClause();
  const group = ctx.groupByClause();
  const having = ctx.havingClause();
  const windows = new Map<string, WindowSpec>();
  for (const nw of ctx.windowClause()?.namedWindow() ?? []) windows.set(identName(nw.errorCapturingIdentifier().getText()), windowSpec(cx, nw.windowSpec()));
  const groupBy: Expr[] = [];
  let groupWindow: GroupWindow | undefined;
  for (const g of group?.groupItemDefinition() ?? []) {
    const gw = g.groupWindowFunction();
    const col = g.columnName();
    const e = g.expression();
    let w: GroupWindow | undefined;
    if (gw) {
      const fn = gw.groupWindowFunctionName().getText().toUpperCase() as GroupWindow["fn"];
      const size = intervalMs(cx, gw.timeIntervalExpression());
      if (fn === "HOP") fail(cx.stmt, posOf(gw), "HOP needs a slide and a size", "HOP(ts, INTERVAL '5' MINUTE, INTERVAL '1' HOUR)");
      w = { ...nodeOf(cx, gw), fn, timeColumn: uidParts(gw.timeAttrColumn().uid()).join("."), sizeMs: size };
    } else if (col) groupBy.push(columnRef(nodeOf(cx, col), uidParts(col)));
    else if (g.groupingSets() || g.groupingSetsNotationName())
      unsupported(cx.stmt, posOf(g), (g.groupingSets() ?? (g.groupingSetsNotationName() as ParserRuleContext)).getText().toUpperCase());
    else if (g.LR_BRACKET()) unsupported(cx.stmt, posOf(g), "a parenthesised grouping set");
    else if (e.length === 1) {
      const x = expr(cx, e[0] as ParserRuleContext);
      w = groupWindowCall(cx, x);
      if (!w) groupBy.push(x);
    }
    if (w) {
      if (groupWindow) fail(cx.stmt, w.pos, "a GROUP BY may hold one group window function");
      groupWindow = w;
    }
  }
  return {
    ...n,
    kind: "select",
    with: [],
    distinct: clause.setQuantifier()?.getText().toUpperCase() === "DISTINCT",
    items: selectItems(cx, clause),
    ...(from ? { from: tableExpression(cx, from.tableExpression()) } : {}),
    ...(where ? { where: whereExpr(cx, where) } : {}),
    groupBy,
    ...(groupWindow ? { groupWindow } : {}),
    ...(having ? { having: expr(cx, having.booleanExpression()) } : {}),
    windows,
  };
}

function whereExpr(cx: Cx, w: Ctx<typeof P.WhereClauseContext>): Expr {
  const b = w.booleanExpression();
  if (b) return expr(cx, b);
  const c = w.columnNamePathAllowEmpty() as ParserRuleContext;
  return columnRef(nodeOf(cx, c), uidParts(c));
}

/** TUMBLE(ts, size), HOP(ts, slide, size) or SESSION(ts, gap) written as a call in GROUP BY. */
function groupWindowCall(cx: Cx, e: Expr): GroupWindow | undefined {
  if (e.kind !== "call" || !["TUMBLE", "HOP", "SESSION"].includes(e.name)) return undefined;
  const fn = e.name as GroupWindow["fn"];
  const [ts, ...rest] = e.args;
  const want = fn === "HOP" ? 2 : 1;
  if (ts?.kind !== "column" || rest.length !== want || rest.some((r) => r.kind !== "interval")) {
    fail(
      cx.stmt,
      e.pos,
      `${fn} takes a time attribute column and ${want === 2 ? "a slide and a size" : "an interval"}`,
      fn === "HOP" ? "HOP(ts, INTERVAL '5' MINUTE, INTERVAL '1' HOUR)" : `${fn}(ts, INTERVAL '1' MINUTE)`,
    );
  }
  const ms = rest.map((r) => (r.kind === "interval" ? r.ms : 0));
  const timeColumn = ts.qualifier ? `${ts.qualifier}.${ts.name}` : ts.name;
  return fn === "HOP"
    ? { pos: e.pos, text: e.text, fn, timeColumn, slideMs: ms[0] as number, sizeMs: ms[1] as number }
    : { pos: e.pos, text: e.text, fn, timeColumn, sizeMs: ms[0] as number };
}

function windowSpec(cx: Cx, ctx: Ctx<typeof P.WindowSpecContext>): WindowSpec {
  const n = nodeOf(cx, ctx);
  if (ctx._name) unsupported(cx.stmt, n.pos, "a window specification extending a named window");
  const part = ctx.partitionByClause();
  const partitionBy: Expr[] = [];
  for (const c of part?.children ?? []) {
    if (c instanceof P.ColumnNameContext) partitionBy.push(columnRef(nodeOf(cx, c), uidParts(c)));
    else if (c instanceof P.PrimaryExpressionContext) partitionBy.push(expr(cx, c));
  }
  const orders = ctx.orderByClause()?.orderItemDefinition() ?? [];
  if (orders.length > 1) unsupported(cx.stmt, posOf(orders[1] as ParserRuleContext), "ORDER BY several columns in OVER", "order by the time attribute alone");
  const o = orders[0];
  if (o?._ordering?.text?.toUpperCase() === "DESC") unsupported(cx.stmt, posOf(o), "ORDER BY ... DESC in OVER", "OVER windows are ordered by ascending time");
  const orderBy = o
    ? o.columnName()
      ? columnRef(nodeOf(cx, o), uidParts(o.columnName() as ParserRuleContext))
      : expr(cx, o.valueExpression() as ParserRuleContext)
    : undefined;
  const f = ctx.windowFrame();
  let frame: WindowSpec["frame"] = { kind: "unbounded" };
  if (f) {
    const interval = f.timeIntervalExpression();
    const start = f.frameStart();
    const end = f.frameEnd();
    if (interval) frame = { kind: "range", ms: intervalMs(cx, interval) };
    else if (f.DIG_LITERAL()) frame = { kind: "rows", count: Number(f.DIG_LITERAL()?.getText()) };
    else if (start && end) {
      if (!end.KW_CURRENT()) unsupported(cx.stmt, posOf(end), `an OVER frame ending ${textOf(cx, end)}`, "frames end at CURRENT ROW");
      const rows = f.KW_ROWS() !== null;
      if (start.KW_UNBOUNDED()) frame = { kind: "unbounded" };
      else if (start.KW_CURRENT()) frame = rows ? { kind: "rows", count: 0 } : { kind: "range", ms: 0 };
      else if (rows) frame = { kind: "rows", count: Number(start.DIG_LITERAL()?.getText()) };
      else
        unsupported(
          cx.stmt,
          posOf(start),
          "RANGE BETWEEN <n> PRECEDING",
          "give the range as an interval: RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW",
        );
    }
  }
  return { ...n, partitionBy, ...(orderBy ? { orderBy } : {}), frame };
}

function tableExpression(cx: Cx, ctx: Ctx<typeof P.TableExpressionContext>): FromItem {
  const n = nodeOf(cx, ctx);
  const refs = ctx.tableReference();
  if (refs.length > 1) return unsupported(cx.stmt, n.pos, "a comma join (FROM a, b)", "use JOIN ... FOR SYSTEM_TIME AS OF ... ON ...");
  if (refs.length === 1) return tableReference(cx, refs[0] as Ctx<typeof P.TableReferenceContext>);
  const tvf = ctx.windowTVFClause();
  if (tvf) return windowTvf(cx, tvf.windowTVFExpression(), n);
  if (ctx.inlineDataValueClause()) return unsupported(cx.stmt, n.pos, "VALUES as a table");
  const [l, r] = ctx.tableExpression();
  if (ctx.KW_CROSS()) return unsupported(cx.stmt, n.pos, "CROSS JOIN", "use JOIN ... FOR SYSTEM_TIME AS OF ... ON ...");
  if (ctx.KW_NATURAL()) return unsupported(cx.stmt, n.pos, "NATURAL JOIN");
  if (ctx.KW_RIGHT() || ctx.KW_FULL()) return unsupported(cx.stmt, n.pos, `${ctx.KW_RIGHT() ? "RIGHT" : "FULL"} JOIN`, "lookup joins are INNER or LEFT");
  const cond = ctx.joinCondition();
  if (!cond) return fail(cx.stmt, n.pos, "a JOIN needs ON <condition>");
  if (cond.KW_USING()) return unsupported(cx.stmt, posOf(cond), "JOIN ... USING", "write ON a.k = b.k");
  const b = cond.booleanExpression();
  if (!b) return fail(cx.stmt, posOf(cond), "a JOIN needs ON <condition>");
  return {
    ...n,
    kind: "join",
    type: ctx.KW_LEFT() ? "left" : "inner",
    left: tableExpression(cx, l as typeof ctx),
    right: tableExpression(cx, r as typeof ctx),
    on: expr(cx, b),
  };
}

function tableReference(cx: Cx, ctx: Ctx<typeof P.TableReferenceContext>): FromItem {
  const n = nodeOf(cx, ctx);
  const aliasCtx = ctx.tableAlias();
  if (aliasCtx?.identifierList()) unsupported(cx.stmt, posOf(aliasCtx), "column aliases on a table reference", "alias the columns in a subquery");
  const alias = aliasCtx ? identName(aliasCtx.identifier().getText()) : undefined;
  const p = ctx.tablePrimary();
  const path = p.tablePath() ?? p.viewPath();
  if (path) {
    const st = p.systemTimePeriod();
    return {
      ...n,
      kind: "table",
      name: uidParts(path).join("."),
      ...(alias ? { alias } : {}),
      ...(st ? { systemTime: expr(cx, st.dateTimeExpression().expression()) } : {}),
    };
  }
  if (p.atomFunctionTable()) return unsupported(cx.stmt, n.pos, "LATERAL TABLE (table functions)");
  const atom = p.atomExpressionTable() as Ctx<typeof P.AtomExpressionTableContext>;
  if (atom.KW_UNNEST()) return unsupported(cx.stmt, n.pos, "UNNEST", "use a pipeline `explode` step");
  const q = atom.queryStatement();
  if (!q) return unsupported(cx.stmt, n.pos, `the table expression ${n.text}`);
  if (atom.KW_LATERAL()) return unsupported(cx.stmt, n.pos, "LATERAL subqueries");
  return { ...n, kind: "subquery", query: query(cx, q), ...(alias ? { alias } : {}) };
}

function windowTvf(cx: Cx, ctx: Ctx<typeof P.WindowTVFExpressionContext>, n: ReturnType<typeof nodeOf>): FromItem {
  const fn = ctx.windowTVFName().getText().toUpperCase() as "TUMBLE" | "HOP" | "CUMULATE";
  if (fn === "CUMULATE") return unsupported(cx.stmt, n.pos, "the CUMULATE window", "use TUMBLE or HOP");
  let table: string | undefined;
  let timeColumn: string | undefined;
  const intervals: number[] = [];
  const named = new Map<string, number>();
  for (const p of ctx.windowTVFParam()) {
    const t = p.timeAttrColumn();
    const d = p.columnDescriptor();
    const i = p.timeIntervalExpression();
    if (t) table = uidParts(t.uid()).join(".");
    else if (d) timeColumn = identName(d.columnName().getText());
    else if (i) {
      const name = p.timeIntervalParamName()?.getText().toUpperCase();
      if (name) named.set(name, intervalMs(cx, i));
      else intervals.push(intervalMs(cx, i));
    }
  }
  if (!table || !timeColumn)
    return fail(cx.stmt, n.pos, `${fn} needs TABLE <name> and DESCRIPTOR(<time attribute>)`, `TABLE(${fn}(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))`);
  const sizeMs = named.get("SIZE") ?? (fn === "HOP" ? intervals[1] : intervals[0]);
  const slideMs = fn === "HOP" ? (named.get("SLIDE") ?? intervals[0]) : undefined;
  const offsetMs = named.get("OFFSET") ?? (fn === "HOP" ? intervals[2] : intervals[1]);
  if (sizeMs === undefined || (fn === "HOP" && slideMs === undefined))
    return fail(
      cx.stmt,
      n.pos,
      `${fn} needs ${fn === "HOP" ? "a slide and a size" : "a size"}`,
      fn === "HOP" ? "HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' MINUTE, INTERVAL '1' HOUR)" : undefined,
    );
  return { ...n, kind: "tvf", fn, table, timeColumn, sizeMs, ...(slideMs !== undefined ? { slideMs } : {}), ...(offsetMs !== undefined ? { offsetMs } : {}) };
}
