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
    else if (offending && offending.type === -1)
      message = `the statement ends too early; ${expectedText(recognizer as unknown as Recognizer<ATNSimulator>, e)}`;
    else message = `unexpected ${JSON.stringify(text ?? "")}; ${expectedText(recognizer as unknown as Recognizer<ATNSimulator>, e)}`;
    this.issues.push({ line, column: column + 1, offset: offending?.start ?? 0, message: message.replace(/; $/, "") });
  }
}

/** A parsed script: the parse tree, the token stream (for source text) and syntax errors. */
export interface ParsedScript {
  program: ProgramContext;
  tokens: CommonTokenStream;
  issues: SyntaxIssue[];
}

/** Parses a whole script; errors are collected, never thrown. */
export function parseScript(sql: string): ParsedScript {
  const listener = new CollectingListener();
  const lexer = new lexerModule.FlinkSqlLexer(CharStreams.fromString(sql));
  lexer.removeErrorListeners();
  lexer.addErrorListener(listener);
  const tokens = new CommonTokenStream(lexer);
  const parser = new parserModule.FlinkSqlParser(tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(listener);
  const program = parser.program();
  return { program, tokens, issues: listener.issues };
}
