/**
 * Parses a SQL script with the Flink SQL grammar of `dt-sql-parser` (ADR 23): an ANTLR parser
 * generated from a grammar that follows Flink's own. Only its generated lexer and parser are
 * used. The package's build imports `../SQLParserBase` without a file extension, which Node's
 * ESM loader refuses, so a resolve hook adds the extension for that package's files alone.
 * Syntax errors are collected (not printed) with their line, column and what was expected.
 */
import { registerHooks } from "node:module";
import { BaseErrorListener, CharStreams, CommonTokenStream, type ATNSimulator, type RecognitionException, type Recognizer, type Token } from "antlr4ng";

const PACKAGE_DIR = "/node_modules/dt-sql-parser/dist/";

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith(".") && !/\.[cm]?js$/.test(specifier) && context.parentURL?.includes(PACKAGE_DIR)) {
      return nextResolve(`${specifier}.js`, context);
    }
    return nextResolve(specifier, context);
  },
});

const lexerModule = await import("dt-sql-parser/dist/lib/flink/FlinkSqlLexer.js");
const parserModule = await import("dt-sql-parser/dist/lib/flink/FlinkSqlParser.js");

/** The generated parser's classes (rule contexts are matched with instanceof). */
export const P = parserModule;
export type ProgramContext = InstanceType<typeof parserModule.ProgramContext>;
export type SingleStatementContext = InstanceType<typeof parserModule.SingleStatementContext>;

/** One syntax error: where, the offending text, and what the parser was reading. */
export interface SyntaxIssue {
  line: number;
  /** 1-based. */
  column: number;
  /** Offset of the offending token in the script. */
  offset: number;
  message: string;
}

/** What a grammar rule reads, in words, for "expected …" messages (innermost known rule wins). */
const ruleWords: Record<string, string> = {
  columnType: "a column type (STRING, INT, BIGINT, DOUBLE, DECIMAL(p, s), BOOLEAN, TIMESTAMP(3), DATE, MAP<K, V>, ARRAY<T>, ROW<...>)",
  tablePropertyList: "a WITH option list: ('key' = 'value', ...)",
  tableProperty: "an option 'key' = 'value'",
  withOption: "WITH ('key' = 'value', ...)",
  columnOptionDefinition: "a column definition (name TYPE, or name AS expression)",
  watermarkDefinition: "WATERMARK FOR <column> AS <column> - INTERVAL '<n>' <unit>",
  tableConstraint: "PRIMARY KEY (<columns>) NOT ENFORCED",
  timeIntervalExpression: "an interval such as INTERVAL '5' SECOND",
  selectList: "a select list",
  columnProjectItem: "a select item (an expression, optionally AS alias)",
  fromClause: "FROM <table>",
  tableExpression: "a table, a subquery or a join",
  joinCondition: "ON <condition>",
  groupByClause: "GROUP BY <expressions>",
  windowSpec: "a window specification (PARTITION BY ... ORDER BY ... RANGE|ROWS BETWEEN ...)",
  windowFrame: "RANGE BETWEEN INTERVAL '<n>' <unit> PRECEDING AND CURRENT ROW, or ROWS BETWEEN <n> PRECEDING AND CURRENT ROW",
  functionCallExpression: "a function call",
  expression: "an expression",
  booleanExpression: "an expression",
  valueExpression: "an expression",
  primaryExpression: "an expression",
  queryStatement: "a query (SELECT ...)",
  insertSimpleStatement: "INSERT INTO <table> SELECT ...",
  tablePath: "a table name",
  tablePathCreate: "a table name",
  columnName: "a column name",
  uid: "a name",
  identifier: "a name",
  sqlStatement: "a statement (CREATE TABLE, CREATE VIEW, INSERT INTO, SET)",
  singleStatement: "a statement (CREATE TABLE, CREATE VIEW, INSERT INTO, SET)",
};

/** Summarises the tokens the parser expected: a short list as is, a long one by the rule being read. */
function expectedText(recognizer: Recognizer<ATNSimulator>, e: RecognitionException | null): string {
  const parser = recognizer as unknown as InstanceType<typeof parserModule.FlinkSqlParser>;
  let set: { toArray(): number[] } | null = null;
  try {
    set = e?.getExpectedTokens() ?? parser.getExpectedTokens();
  } catch {
    set = null;
  }
  const tokens = (set?.toArray() ?? []).filter((t) => t > 0);
  const names = tokens.map((t) => parser.vocabulary.getDisplayName(t) ?? String(t)).map((n) => n.replace(/^KW_/, ""));
  if (names.length > 0 && names.length <= 6) return `expected ${names.join(", ")}`;
  const stack = parser.getRuleInvocationStack();
  for (const rule of stack) {
    const words = ruleWords[rule];
    if (words) return `expected ${words}`;
  }
  return "";
}

class CollectingListener extends BaseErrorListener {
  readonly issues: SyntaxIssue[] = [];
  override syntaxError<S extends Token, T extends ATNSimulator>(
    recognizer: Recognizer<T>,
    offending: S | null,
    line: number,
    column: number,
    msg: string,
    e: RecognitionException | null,
  ): void {
    const text = offending?.text;
    const isParser = "getRuleInvocationStack" in recognizer;
    let message: string;
    if (!isParser) message = msg.replace(/^token recognition error at: /, "unexpected character ");
    else if (offending && offending.type === -1) message = `the statement ends too early; ${expectedText(recognizer, e)}`;
    else message = `unexpected ${JSON.stringify(text ?? "")}; ${expectedText(recognizer, e)}`;
    this.issues.push({ line, column: column + 1, offset: offending?.start ?? 0, message: message.replace(/; $/, "") });
  }
}

/**
 * Function names the grammar lexes as keywords yet does not accept in a call (CHAR_LENGTH, SQRT,
 * ARRAY_AGG, …): written before `(` they are names. A reserved word naming the unit of
 * EXTRACT(<unit> FROM …) is a name there too.
 */
const CALLABLE = [
  "CHAR_LENGTH",
  "CHARACTER_LENGTH",
  "SQRT",
  "ARRAY_AGG",
  "LISTAGG",
  "LOCATE",
  "REPLACE",
  "CONCAT",
  "CONCAT_WS",
  "INITCAP",
  "REVERSE",
  "REPEAT",
  "LTRIM",
  "RTRIM",
  "LPAD",
  "RPAD",
  "REGEXP",
  "REGEXP_REPLACE",
  "REGEXP_EXTRACT",
  "SPLIT_INDEX",
  "SIGN",
  "LOG10",
  "LOG2",
  "GREATEST",
  "LEAST",
  "IFNULL",
  "DATE_FORMAT",
  "TO_TIMESTAMP",
  "TO_TIMESTAMP_LTZ",
  "TO_DATE",
  "UNIX_TIMESTAMP",
  "FROM_UNIXTIME",
  "TIMESTAMPDIFF",
  "TIMESTAMPADD",
  "ARRAY_CONTAINS",
  "ARRAY_JOIN",
  "ARRAY_DISTINCT",
  "MAP_KEYS",
  "MAP_VALUES",
  "TYPEOF",
  "NOW",
  "PROCTIME",
  "DAYOFMONTH",
  "SUBSTR",
  "CHAR",

  "UUID",
  "TUMBLE_START",
  "TUMBLE_END",
  "TUMBLE_ROWTIME",
  "HOP_START",
  "HOP_END",
  "HOP_ROWTIME",
  "SESSION_START",
  "SESSION_END",
  "SESSION_ROWTIME",
];
const lexerTypes = lexerModule.FlinkSqlLexer as unknown as Record<string, number>;
const callableTypes = new Set(CALLABLE.map((n) => lexerTypes[`KW_${n}`]).filter((t): t is number => typeof t === "number"));
const ID = lexerTypes.ID_LITERAL as number;
const OPEN = lexerTypes.LR_BRACKET as number;
const EXTRACT = lexerTypes.KW_EXTRACT as number;

function retypeFunctionNames(tokens: CommonTokenStream): void {
  tokens.fill();
  const visible = tokens.getTokens().filter((t) => t.channel === 0);
  for (let i = 0; i + 1 < visible.length; i++) {
    const t = visible[i] as Token & { type: number };
    const next = visible[i + 1] as Token;
    if (next.type === OPEN && callableTypes.has(t.type)) t.type = ID;
    else if (t.type === EXTRACT && next.type === OPEN) {
      const unit = visible[i + 2];
      if (unit && unit.type !== ID && /^[A-Za-z_]+$/.test(unit.text ?? "")) unit.type = ID;
    }
  }
}

/** A parsed script: the parse tree, the token stream (for source text) and syntax errors. */
export interface ParsedScript {
  program: ProgramContext;
  tokens: CommonTokenStream;
  issues: SyntaxIssue[];
}

/** A parser over `text` whose lexer and parser report to one collecting listener. */
function newParser(text: string): { parser: InstanceType<typeof parserModule.FlinkSqlParser>; tokens: CommonTokenStream; listener: CollectingListener } {
  const listener = new CollectingListener();
  const lexer = new lexerModule.FlinkSqlLexer(CharStreams.fromString(text));
  lexer.removeErrorListeners();
  lexer.addErrorListener(listener);
  const tokens = new CommonTokenStream(lexer);
  retypeFunctionNames(tokens);
  const parser = new parserModule.FlinkSqlParser(tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(listener);
  return { parser, tokens, listener };
}

/** Parses a whole script; errors are collected, never thrown. */
export function parseScript(sql: string): ParsedScript {
  const { parser, tokens, listener } = newParser(sql);
  const program = parser.program();
  return { program, tokens, issues: listener.issues };
}

/**
 * Parses the text at [start, stop] of a script as one expression, keeping its offsets, lines and
 * columns (the rest of the script is blanked, newlines kept). The grammar reads a select item
 * `a + 1` as the column `a` followed by the expression `+ 1`; the compiler reads it again here.
 */
export function parseExpressionAt(
  sql: string,
  start: number,
  stop: number,
): { expression: InstanceType<typeof parserModule.ExpressionContext>; issues: SyntaxIssue[] } {
  const blank = (t: string): string => t.replace(/[^\n]/g, " ");
  const masked = blank(sql.slice(0, start)) + sql.slice(start, stop + 1) + blank(sql.slice(stop + 1));
  const { parser, listener } = newParser(masked);
  const expression = parser.expression();
  if (listener.issues.length === 0 && parser.getCurrentToken().type !== -1) {
    const t = parser.getCurrentToken();
    listener.issues.push({ line: t.line, column: t.column + 1, offset: t.start, message: `unexpected ${JSON.stringify(t.text ?? "")} after the expression` });
  }
  return { expression, issues: listener.issues };
}
