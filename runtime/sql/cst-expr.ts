/**
 * Expressions and types from the Flink grammar's parse tree into the SQL syntax tree. A
 * construct the grammar accepts but Runnel does not run is refused here, by name.
 */
import type { ParserRuleContext, TerminalNode } from "antlr4ng";
import type { BinaryOp, Expr, Node } from "./ast.ts";
import { fail, unsupported, type SqlPosition, type StatementRef } from "./errors.ts";
import { P } from "./parser.ts";
import { BIGINT, BOOLEAN, DATE, DOUBLE, INT, NULL_TYPE, STRING, TIMESTAMP, type SqlType } from "./types.ts";

/** What converting one statement needs: the script (for source text) and the statement (for errors). */
export interface Cx {
  sql: string;
  stmt: StatementRef;
}

/** A rule context's start position (1-based line and column). */
export function posOf(ctx: ParserRuleContext | TerminalNode): SqlPosition {
  const t = "symbol" in ctx ? ctx.symbol : ctx.start;
  return { line: t?.line ?? 1, column: (t?.column ?? 0) + 1 };
}

/** The source text of a context, whitespace collapsed. */
export function textOf(cx: Cx, ctx: ParserRuleContext): string {
  const a = ctx.start?.start ?? 0;
  const b = ctx.stop?.stop ?? a - 1;
  return cx.sql
    .slice(a, b + 1)
    .replace(/\s+/g, " ")
    .trim();
}

/** Position and text of a node. */
export function nodeOf(cx: Cx, ctx: ParserRuleContext): Node {
  return { pos: posOf(ctx), text: textOf(cx, ctx) };
}

/** An identifier's name, unquoted (`name`, "name" or `name` in backticks). */
export function identName(text: string): string {
  const q = text[0];
  if ((q === "`" || q === '"') && text.endsWith(q) && text.length >= 2) return text.slice(1, -1).replaceAll(q + q, q);
  return text;
}

/** A string literal's value: quotes removed, doubled quotes undone (a backslash is an ordinary character, as in Flink). */
export function stringValue(text: string): string {
  const q = text[0];
  if ((q === "'" || q === '"') && text.endsWith(q) && text.length >= 2) return text.slice(1, -1).replaceAll(q + q, q);
  return text;
}

/** A dotted name (`a.b.c`) as its parts. */
export function uidParts(ctx: ParserRuleContext): string[] {
  return ctx.getText().length === 0 ? [] : splitDotted(ctx);
}

function splitDotted(ctx: ParserRuleContext): string[] {
  if (ctx instanceof P.IdentifierContext) return [identName(ctx.getText())];
  const parts: string[] = [];
  for (const c of ctx.children ?? []) {
    if ("symbol" in c) {
      if (c.getText() !== ".") parts.push(identName(c.getText()));
      continue;
    }
    parts.push(...splitDotted(c as ParserRuleContext));
  }
  return parts;
}

const unitMs: Record<string, number> = {
  MILLISECOND: 1,
  SECOND: 1000,
  SECONDS: 1000,
  MINUTE: 60_000,
  MINUTES: 60_000,
  HOUR: 3_600_000,
  HOURS: 3_600_000,
  DAY: 86_400_000,
  DAYS: 86_400_000,
  WEEK: 604_800_000,
  WEEKS: 604_800_000,
};

/** An INTERVAL literal in milliseconds (day-time intervals only). */
export function intervalMs(cx: Cx, ctx: InstanceType<typeof P.TimeIntervalExpressionContext>): number {
  const multi = ctx.errorCapturingMultiUnitsInterval()?.multiUnitsInterval();
  const toUnit = ctx.errorCapturingUnitToUnitInterval()?._body ?? ctx.errorCapturingMultiUnitsInterval()?.unitToUnitInterval();
  if (toUnit) return unitToUnit(cx, toUnit);
  if (!multi) fail(cx.stmt, posOf(ctx), "an INTERVAL needs a value and a unit", "e.g. INTERVAL '5' SECOND");
  let ms = 0;
  const values = multi.intervalValue();
  const units = multi.timeIntervalUnit();
  values.forEach((v, i) => {
    const unit = (units[i]?.getText() ?? "").toUpperCase();
    const per = unitMs[unit];
    if (per === undefined) {
      if (/^(YEAR|MONTH|QUARTER)S?$/.test(unit))
        unsupported(cx.stmt, posOf(v), `a ${unit} interval`, "year-month intervals have no fixed length; use DAY, HOUR, MINUTE, SECOND");
      fail(cx.stmt, posOf(units[i] ?? v), `unknown interval unit ${unit}`, "use DAY, HOUR, MINUTE, SECOND or MILLISECOND");
    }
    const n = Number(stringValue(v.getText()));
    if (!Number.isFinite(n)) fail(cx.stmt, posOf(v), `interval value ${v.getText()} is not a number`);
    ms += n * per;
  });
  return Math.round(ms);
}

function unitToUnit(cx: Cx, ctx: InstanceType<typeof P.UnitToUnitIntervalContext>): number {
  const from = (ctx.timeIntervalUnit()[0]?.getText() ?? "").toUpperCase();
  const to = (ctx.timeIntervalUnit()[1]?.getText() ?? "").toUpperCase();
  const text = stringValue(ctx.intervalValue().getText()).trim();
  // 'd hh:mm:ss.fff' style, read from the `from` unit down.
  const order = ["DAY", "HOUR", "MINUTE", "SECOND"];
  const i = order.indexOf(from);
  const j = order.indexOf(to);
  if (i < 0 || j < i) unsupported(cx.stmt, posOf(ctx), `the interval ${from} TO ${to}`, "use DAY, HOUR, MINUTE, SECOND units");
  const fields = text.split(/[\s:]+/);
  if (fields.length !== j - i + 1) fail(cx.stmt, posOf(ctx), `interval '${text}' does not match ${from} TO ${to}`);
  return Math.round(fields.reduce((ms, f, k) => ms + Number(f) * (unitMs[order[i + k] as string] as number), 0));
}

/** A column type. */
export function typeOf(cx: Cx, ctx: InstanceType<typeof P.ColumnTypeContext>): SqlType {
  const name = (ctx._colType?.text ?? ctx.getText()).toUpperCase();
  const dims = (): number[] => {
    const one = ctx.lengthOneDimension();
    const two = ctx.lengthTwoOptionalDimension();
    const d = one ? [one.decimalLiteral()] : two ? two.decimalLiteral() : [];
    return d.map((x) => Number(x.getText()));
  };
  switch (name) {
    case "STRING":
    case "VARCHAR":
    case "CHAR":
      return STRING;
    case "TINYINT":
    case "SMALLINT":
    case "INT":
    case "INTEGER":
      return INT;
    case "BIGINT":
      return BIGINT;
    case "FLOAT":
    case "DOUBLE":
      return DOUBLE;
    case "DECIMAL":
    case "DEC":
    case "NUMERIC": {
      const [p = 10, s = 0] = dims();
      return { kind: "DECIMAL", precision: p, scale: s };
    }
    case "BOOLEAN":
      return BOOLEAN;
    case "DATE":
      return DATE;
    case "TIMESTAMP":
    case "TIMESTAMP_LTZ": {
      const precision = dims()[0] ?? (name === "TIMESTAMP" ? 6 : 6);
      if (precision > 3) {
        // Flink's default precision is 6; milliseconds are what Runnel keeps (documented).
        if (dims().length > 0) unsupported(cx.stmt, posOf(ctx), `${name}(${precision})`, "use TIMESTAMP(3): Runnel keeps milliseconds");
      }
      const ltz = name === "TIMESTAMP_LTZ" || ctx.KW_LOCAL() !== null;
      return { kind: "TIMESTAMP", ltz };
    }
    case "MAP": {
      const m = ctx.mapTypeDimension();
      if (!m) fail(cx.stmt, posOf(ctx), "MAP needs its key and value types", "e.g. MAP<STRING, STRING>");
      const [k, v] = m.columnType();
      return { kind: "MAP", key: typeOf(cx, k as typeof ctx), value: typeOf(cx, v as typeof ctx) };
    }
    case "ARRAY":
    case "MULTISET": {
      const el = ctx.lengthOneTypeDimension()?.columnType();
      if (!el) fail(cx.stmt, posOf(ctx), `${name} needs its element type`, `e.g. ${name}<STRING>`);
      return { kind: name, element: typeOf(cx, el) };
    }
    case "ROW": {
      const r = ctx.rowTypeDimension();
      if (!r) fail(cx.stmt, posOf(ctx), "ROW needs its fields", "e.g. ROW<city STRING, zip STRING>");
      const names = r.columnName();
      const types = r.columnType();
      return { kind: "ROW", fields: names.map((n, i) => ({ name: identName(n.getText()), type: typeOf(cx, types[i] as typeof ctx) })) };
    }
    case "NULL":
      return NULL_TYPE;
    default:
      return unsupported(cx.stmt, posOf(ctx), `the type ${name}`, "use STRING, INT, BIGINT, DOUBLE, DECIMAL, BOOLEAN, TIMESTAMP(3), DATE, MAP, ARRAY or ROW");
  }
}

/** An expression (any of the grammar's expression levels). */
export function expr(cx: Cx, ctx: ParserRuleContext): Expr {
  const n = nodeOf(cx, ctx);
  if (ctx instanceof P.ExpressionContext) return expr(cx, ctx.booleanExpression());
  if (ctx instanceof P.LogicalNotContext) return { ...n, kind: "unary", op: "NOT", arg: expr(cx, ctx.booleanExpression()) };
  if (ctx instanceof P.ExistsContext) return unsupported(cx.stmt, n.pos, "EXISTS (subquery)");
  if (ctx instanceof P.LogicalBinaryContext) {
    const [l, r] = ctx.booleanExpression();
    return { ...n, kind: "binary", op: ctx.KW_AND() ? "AND" : "OR", left: expr(cx, l as ParserRuleContext), right: expr(cx, r as ParserRuleContext) };
  }
  if (ctx instanceof P.LogicalNestedContext) {
    const what = (ctx._kind?.text ?? "NULL").toUpperCase() as "NULL" | "TRUE" | "FALSE" | "UNKNOWN";
    return { ...n, kind: "is", arg: expr(cx, ctx.booleanExpression()), not: ctx.KW_NOT() !== null, what };
  }
  if (ctx instanceof P.PredicatedContext) {
    const value = expr(cx, ctx.valueExpression());
    const pred = ctx.predicate();
    return pred ? predicate(cx, n, value, pred) : value;
  }
  if (ctx instanceof P.ValueExpressionDefaultContext) return expr(cx, ctx.primaryExpression());
  if (ctx instanceof P.ArithmeticUnaryContext) {
    const arg = expr(cx, ctx.valueExpression());
    if (ctx.BIT_NOT_OP()) return unsupported(cx.stmt, n.pos, "the bitwise operator ~");
    if (ctx.ADD_SIGN()) return arg;
    if (arg.kind === "literal" && typeof arg.value === "number") return { ...arg, ...n, value: -arg.value };
    return { ...n, kind: "unary", op: "-", arg };
  }
  if (ctx instanceof P.ArithmeticBinaryContext) {
    const op = (ctx._operator?.text ?? "").toUpperCase();
    if (op === "&" || op === "|" || op === "^") return unsupported(cx.stmt, n.pos, `the bitwise operator ${op}`);
    const [l, r] = ctx.valueExpression();
    const mapped: BinaryOp = op === "DIV" ? "/" : (op as BinaryOp);
    return { ...n, kind: "binary", op: mapped, left: expr(cx, l as ParserRuleContext), right: expr(cx, r as ParserRuleContext) };
  }
  if (ctx instanceof P.ComparisonContext) {
    const op = ctx.comparisonOperator().getText();
    const [l, r] = ctx.valueExpression();
    const left = expr(cx, l as ParserRuleContext);
    const right = expr(cx, r as ParserRuleContext);
    if (op === "<=>") return { ...n, kind: "distinctFrom", left, right, not: true };
    const mapped = op === "!=" ? "<>" : op;
    return { ...n, kind: "binary", op: mapped as BinaryOp, left, right };
  }
  return primary(cx, ctx, n);
}

function predicate(cx: Cx, n: Node, value: Expr, p: InstanceType<typeof P.PredicateContext>): Expr {
  const not = p.KW_NOT() !== null;
  const kind = (p._kind?.text ?? "").toUpperCase();
  const like = p.likePredicate();
  if (like) {
    if (like._quantifier) return unsupported(cx.stmt, n.pos, `LIKE ${like._quantifier.text}`);
    const esc = like.stringLiteral();
    return {
      ...n,
      kind: "like",
      arg: value,
      pattern: expr(cx, like.valueExpression() as ParserRuleContext),
      not: like.KW_NOT() !== null,
      ...(esc ? { escape: stringValue(esc.getText()) } : {}),
    };
  }
  if (kind === "BETWEEN") {
    if (p.KW_SYMMETRIC()) return unsupported(cx.stmt, n.pos, "BETWEEN SYMMETRIC");
    return { ...n, kind: "between", arg: value, low: expr(cx, p._lower as ParserRuleContext), high: expr(cx, p._upper as ParserRuleContext), not };
  }
  if (kind === "IN") {
    if (p.queryStatement()) return unsupported(cx.stmt, n.pos, "IN (subquery)", "use a lookup join against a table");
    return { ...n, kind: "in", arg: value, list: p.expression().map((e) => expr(cx, e)), not };
  }
  if (kind === "NULL" || kind === "TRUE" || kind === "FALSE" || kind === "UNKNOWN") return { ...n, kind: "is", arg: value, not, what: kind };
  if (kind === "DISTINCT") return { ...n, kind: "distinctFrom", left: value, right: expr(cx, p._right as ParserRuleContext), not };
  if (kind === "EXISTS") return unsupported(cx.stmt, n.pos, "EXISTS (subquery)");
  if (kind === "RLIKE") return unsupported(cx.stmt, n.pos, "RLIKE", "use REGEXP(string, pattern)");
  if (kind === "SIMILAR") return unsupported(cx.stmt, n.pos, "SIMILAR TO", "use REGEXP(string, pattern) or LIKE");
  return unsupported(cx.stmt, n.pos, `the predicate ${n.text}`);
}

function literal(n: Node, value: unknown, type: SqlType): Expr {
  return { ...n, kind: "literal", value, type };
}

function constant(cx: Cx, ctx: InstanceType<typeof P.ConstantContext>, n: Node): Expr {
  const interval = ctx.timeIntervalExpression();
  if (interval) return { ...n, kind: "interval", ms: intervalMs(cx, interval) };
  const point = ctx.timePointLiteral();
  if (point) {
    const unit = point.timePointUnit().getText().toUpperCase();
    return unsupported(cx.stmt, n.pos, `the literal ${unit} '...'`, "use TIMESTAMP '...' or DATE '...'");
  }
  const s = ctx.stringLiteral();
  // The grammar lexes a `quoted` identifier as a string; in Flink it names a column.
  if (s?.getText().startsWith("`")) return columnRef(n, [identName(s.getText())]);
  if (s) return literal(n, stringValue(s.getText()), STRING);
  const dec = ctx.decimalLiteral();
  if (dec) {
    const v = Number(dec.getText()) * (ctx.HYPHEN_SIGN() ? -1 : 1);
    return literal(n, v, Number.isSafeInteger(v) && Math.abs(v) <= 2_147_483_647 ? INT : BIGINT);
  }
  const b = ctx.booleanLiteral();
  if (b) return literal(n, b.getText().toUpperCase() === "TRUE", BOOLEAN);
  const real = ctx.REAL_LITERAL();
  if (real) {
    const t = real.getText();
    // 1.5 is DECIMAL in SQL; 1.5E0 is DOUBLE.
    const scale = /e/i.test(t) ? -1 : (t.split(".")[1]?.length ?? 0);
    return literal(n, Number(t), scale < 0 ? DOUBLE : { kind: "DECIMAL", precision: Math.max(t.replace(/[^0-9]/g, "").length, 1), scale });
  }
  if (ctx.KW_NULL()) {
    if (ctx.KW_NOT()) return unsupported(cx.stmt, n.pos, "NOT NULL as a value");
    return literal(n, null, NULL_TYPE);
  }
  return unsupported(cx.stmt, n.pos, `the literal ${n.text}`);
}

function call(n: Node, name: string, args: Expr[], extra: Partial<{ distinct: boolean; star: boolean; unit: string }> = {}): Expr {
  return { ...n, kind: "call", name, args, distinct: extra.distinct ?? false, star: extra.star ?? false, ...(extra.unit ? { unit: extra.unit } : {}) };
}

/** A function call: name, DISTINCT, `*`, and arguments (a leading time unit, as in TIMESTAMPDIFF, is kept as `unit`). */
function functionCall(cx: Cx, ctx: InstanceType<typeof P.FunctionCallExpressionContext>, n: Node): Expr {
  const noParams = ctx.reservedKeywordsNoParamsUsedAsFuncName();
  if (noParams) return call(n, noParams.getText().toUpperCase(), []);
  const withLiteral = ctx.functionNameAndParams();
  if (withLiteral) {
    const interval = withLiteral.timeIntervalExpression();
    if (interval) return { ...n, kind: "interval", ms: intervalMs(cx, interval) };
    const kw = withLiteral.reservedKeywordsFollowParamsUsedAsFuncName()?.getText().toUpperCase() ?? "";
    const s = stringValue(withLiteral.STRING_LITERAL()?.getText() ?? "''");
    if (kw === "TIMESTAMP" || kw === "DATE") {
      const lit = literal(n, s, STRING);
      return { ...n, kind: "cast", arg: lit, type: kw === "DATE" ? DATE : TIMESTAMP, safe: false };
    }
    return unsupported(cx.stmt, n.pos, `the literal ${kw} '...'`);
  }
  const nameCtx = ctx.functionNameWithParams() as ParserRuleContext;
  const name = uidParts(nameCtx).join(".").toUpperCase();
  const distinct = ctx.setQuantifier()?.getText().toUpperCase() === "DISTINCT";
  const args: Expr[] = [];
  let star = false;
  let unit: string | undefined;
  for (const p of ctx.functionParam()) {
    if (p.getText() === "") continue;
    const reserved = p.reservedKeywordsUsedAsFuncParam();
    if (reserved) {
      const t = reserved.getText().toUpperCase();
      if (t === "*") {
        star = true;
        continue;
      }
      if (t === "CURRENT_TIMESTAMP" || t === "CURRENT_DATE" || t === "LOCALTIMESTAMP") {
        args.push(call(nodeOf(cx, reserved), t, []));
        continue;
      }
      return unsupported(cx.stmt, posOf(p), `${t} as a function argument`);
    }
    const u = p.timeIntervalUnit() ?? p.timePointUnit();
    if (u && args.length === 0 && unit === undefined) {
      unit = u.getText().toUpperCase();
      continue;
    }
    const e = p.expression();
    if (!e) return unsupported(cx.stmt, posOf(p), `the argument ${textOf(cx, p)} of ${name}`);
    args.push(expr(cx, e));
  }
  return call(n, name, args, { distinct, star, ...(unit ? { unit } : {}) });
}

function primary(cx: Cx, ctx: ParserRuleContext, n: Node): Expr {
  if (ctx instanceof P.SearchedCaseContext || ctx instanceof P.SimpleCaseContext) {
    const whens = ctx.whenClause().map((w) => {
      const [c, r] = w.expression();
      return { when: expr(cx, c as ParserRuleContext), then: expr(cx, r as ParserRuleContext) };
    });
    const otherwise = ctx._elseExpression ? expr(cx, ctx._elseExpression) : undefined;
    const operand = ctx instanceof P.SimpleCaseContext ? expr(cx, ctx._value as ParserRuleContext) : undefined;
    return { ...n, kind: "case", whens, ...(operand ? { operand } : {}), ...(otherwise ? { otherwise } : {}) };
  }
  if (ctx instanceof P.CastContext) return { ...n, kind: "cast", arg: expr(cx, ctx.expression()), type: typeOf(cx, ctx.columnType()), safe: false };
  if (ctx instanceof P.FirstContext || ctx instanceof P.LastContext)
    return unsupported(cx.stmt, n.pos, `${ctx instanceof P.FirstContext ? "FIRST" : "LAST"}(...)`, "use FIRST_VALUE / LAST_VALUE");
  if (ctx instanceof P.PositionContext) {
    const [sub, str] = ctx.valueExpression();
    return call(n, "POSITION", [expr(cx, sub as ParserRuleContext), expr(cx, str as ParserRuleContext)]);
  }
  if (ctx instanceof P.ConstantDefaultContext) return constant(cx, ctx.constant(), n);
  if (ctx instanceof P.StarContext) {
    const q = ctx.uid();
    return { ...n, kind: "star", ...(q ? { qualifier: uidParts(q).join(".") } : {}) };
  }
  if (ctx instanceof P.SubqueryExpressionContext) return unsupported(cx.stmt, n.pos, "a scalar subquery", "use a lookup join against a table");
  if (ctx instanceof P.FunctionCallContext) {
    const e = functionCall(cx, ctx.functionCallExpression(), n);
    if (e.kind === "call" && e.name === "TRY_CAST") return unsupported(cx.stmt, n.pos, "TRY_CAST");
    return e;
  }
  if (ctx instanceof P.SubscriptContext) return { ...n, kind: "subscript", arg: expr(cx, ctx.primaryExpression()), index: expr(cx, ctx.valueExpression()) };
  if (ctx instanceof P.ColumnReferenceContext || ctx instanceof P.DereferenceContext) {
    const inner = ctx instanceof P.ColumnReferenceContext ? ctx.columnNamePath() : ctx.dereferenceDefinition();
    return columnRef(n, uidParts(inner));
  }
  if (ctx instanceof P.ParenthesizedExpressionContext) return expr(cx, ctx.expression());
  if (ctx instanceof P.ExtractContext) {
    const unit = ctx.identifier().getText().toUpperCase();
    return call(n, "EXTRACT", [expr(cx, ctx.valueExpression())], { unit });
  }
  return unsupported(cx.stmt, n.pos, `the expression ${n.text}`);
}

/** `a`, `t.a`, `t.a.b` (a ROW field): a column, maybe qualified, maybe with field accesses. */
export function columnRef(n: Node, parts: string[]): Expr {
  if (parts.length === 1) return { ...n, kind: "column", name: parts[0] as string };
  // t.a.b: resolved later (t may be a table alias or a ROW column); keep the qualifier form.
  let e: Expr = { ...n, kind: "column", qualifier: parts[0] as string, name: parts[1] as string };
  for (const f of parts.slice(2)) e = { ...n, kind: "field", arg: e, name: f };
  return e;
}

/** Plain expression context types (for callers outside this module). */
export type ExpressionContext = InstanceType<typeof P.ExpressionContext>;
export { P };
