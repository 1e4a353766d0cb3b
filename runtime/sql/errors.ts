/** Errors of the SQL compiler: which statement, where in the script, what is wrong and what was expected. */
import { JobDefinitionError } from "../errors.ts";

/** A place in the SQL script: 1-based line and column. */
export interface SqlPosition {
  line: number;
  column: number;
}

/** Where an error is: the statement (1-based ordinal and its opening words) and the position. */
export interface SqlLocation extends SqlPosition {
  /** 1-based ordinal of the statement in the script. */
  statement: number;
  /** The statement's first words, e.g. `INSERT INTO user_stats`. */
  label: string;
}

/** SQL that cannot be compiled: a syntax error, an unknown name, a type error or an unsupported construct. */
export class SqlError extends JobDefinitionError {
  /** Where it is. */
  readonly location: SqlLocation;
  /** The problem, without the location. */
  readonly problem: string;
  /** What to do about it. */
  readonly hint: string | undefined;
  constructor(location: SqlLocation, problem: string, hint?: string) {
    super(`${formatLocation(location)}: ${problem}${hint ? ` (hint: ${hint})` : ""}`);
    this.location = location;
    this.problem = problem;
    this.hint = hint;
  }
}

/** `statement 2 (INSERT INTO stats), line 14, column 9`. */
export function formatLocation(l: SqlLocation): string {
  return `statement ${l.statement} (${l.label}), line ${l.line}, column ${l.column}`;
}

/** What the compiler knows of the statement it is working on, to place errors. */
export interface StatementRef {
  ordinal: number;
  label: string;
}

/** Throws a SqlError at `pos` of `stmt`. */
export function fail(stmt: StatementRef, pos: SqlPosition, problem: string, hint?: string): never {
  throw new SqlError({ statement: stmt.ordinal, label: stmt.label, line: pos.line, column: pos.column }, problem, hint);
}

/** Throws the SqlError for a construct Runnel does not run, named as such. */
export function unsupported(stmt: StatementRef, pos: SqlPosition, construct: string, hint?: string): never {
  fail(stmt, pos, `${construct} is not supported`, hint);
}
