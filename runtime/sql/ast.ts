/**
 * The SQL syntax tree the compiler works on: what the parse tree says, reduced to the constructs
 * Runnel runs. Every node keeps its position, so later errors point at the source.
 */
import type { SqlPosition, StatementRef } from "./errors.ts";
import type { SqlType } from "./types.ts";

/** A position plus the node's source text (normalised: single spaces), for messages and uids. */
export interface Node {
  pos: SqlPosition;
  text: string;
}

/** An expression. */
export type Expr =
  | (Node & { kind: "column"; qualifier?: string; name: string })
  | (Node & { kind: "literal"; value: unknown; type: SqlType })
  | (Node & { kind: "interval"; ms: number })
  | (Node & { kind: "call"; name: string; args: Expr[]; distinct: boolean; star: boolean; unit?: string })
  | (Node & { kind: "unary"; op: "-" | "NOT"; arg: Expr })
  | (Node & { kind: "binary"; op: BinaryOp; left: Expr; right: Expr })
  | (Node & { kind: "is"; arg: Expr; not: boolean; what: "NULL" | "TRUE" | "FALSE" | "UNKNOWN" })
  | (Node & { kind: "distinctFrom"; left: Expr; right: Expr; not: boolean })
  | (Node & { kind: "between"; arg: Expr; low: Expr; high: Expr; not: boolean })
  | (Node & { kind: "in"; arg: Expr; list: Expr[]; not: boolean })
  | (Node & { kind: "like"; arg: Expr; pattern: Expr; not: boolean; escape?: string })
  | (Node & { kind: "case"; operand?: Expr; whens: { when: Expr; then: Expr }[]; otherwise?: Expr })
  | (Node & { kind: "cast"; arg: Expr; type: SqlType; safe: boolean })
  | (Node & { kind: "subscript"; arg: Expr; index: Expr })
  | (Node & { kind: "field"; arg: Expr; name: string })
  | (Node & { kind: "star"; qualifier?: string });

/** Binary operators. */
export type BinaryOp = "+" | "-" | "*" | "/" | "%" | "||" | "=" | "<>" | "<" | "<=" | ">" | ">=" | "AND" | "OR";

/** An OVER window: partition, order (a time attribute) and frame. */
export interface WindowSpec extends Node {
  partitionBy: Expr[];
  orderBy?: Expr;
  /** RANGE with an interval (ms), ROWS with a count, or UNBOUNDED; CURRENT ROW is always the end. */
  frame: { kind: "range"; ms: number } | { kind: "rows"; count: number } | { kind: "unbounded" };
}

/** One item of a select list. */
export type SelectItem =
  | (Node & { kind: "expr"; expr: Expr; alias?: string })
  | (Node & { kind: "over"; call: Expr; window: WindowSpec | { name: string; pos: SqlPosition }; alias: string })
  | (Node & { kind: "star"; qualifier?: string });

/** What a FROM clause reads. */
export type FromItem =
  | (Node & { kind: "table"; name: string; alias?: string; systemTime?: Expr })
  | (Node & { kind: "subquery"; query: Query; alias?: string })
  | (Node & { kind: "join"; type: "inner" | "left"; left: FromItem; right: FromItem; on: Expr })
  | (Node & { kind: "tvf"; fn: "TUMBLE" | "HOP" | "CUMULATE"; table: string; timeColumn: string; sizeMs: number; slideMs?: number; offsetMs?: number });

/** A group window function in GROUP BY: TUMBLE(ts, size), HOP(ts, slide, size), SESSION(ts, gap). */
export interface GroupWindow extends Node {
  fn: "TUMBLE" | "HOP" | "SESSION";
  timeColumn: string;
  /** TUMBLE: size; HOP: size; SESSION: gap. */
  sizeMs: number;
  /** HOP only. */
  slideMs?: number;
}

/** A SELECT (with its common table expressions). */
export interface Select extends Node {
  kind: "select";
  with: { name: string; columns?: string[]; query: Query; pos: SqlPosition }[];
  distinct: boolean;
  items: SelectItem[];
  from?: FromItem;
  where?: Expr;
  groupBy: Expr[];
  groupWindow?: GroupWindow;
  having?: Expr;
  windows: Map<string, WindowSpec>;
}

/** A query: a SELECT, or UNION ALL of several. */
export type Query = Select | (Node & { kind: "union"; inputs: Query[]; with: Select["with"] });

/** A column of CREATE TABLE: physical (typed) or computed. */
export type ColumnDef = (Node & { kind: "physical"; name: string; type: SqlType }) | (Node & { kind: "computed"; name: string; expr: Expr });

/** A statement of the script. */
export type Statement = (
  | {
      kind: "createTable";
      name: string;
      columns: ColumnDef[];
      watermark?: { column: string; expr: Expr; pos: SqlPosition };
      primaryKey?: string[];
      options: Map<string, { value: string; pos: SqlPosition }>;
    }
  | { kind: "createView"; name: string; columns?: string[]; query: Query }
  | { kind: "insert"; target: string; columns?: string[]; query: Query }
  | { kind: "set"; key: string; value: string }
) & { ref: StatementRef; pos: SqlPosition; text: string };
