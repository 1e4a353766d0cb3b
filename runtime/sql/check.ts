/**
 * `runnel validate` for `spec.sql`: the whole script is compiled as a worker would compile it,
 * with every connector stubbed (no file, topic or broker is touched), so names, types,
 * aggregation rules, time attributes and unsupported constructs are all checked. A problem
 * becomes a finding at `.spec.sql` naming the statement, line and column, with the source line
 * and a caret under the problem.
 */
import type { Source } from "../connectors/types.ts";
import { blackholeSink } from "../connectors/sinks.ts";
import type { Finding } from "../spec/findings.ts";
import type { StreamJob } from "../spec/generated/types.ts";
import { compileSql } from "./compile.ts";
import { SqlError } from "./errors.ts";

const noInput: Source<unknown> = {
  name: "validate",
  partitions: 1,
  open: async () => ({ read: async () => ({ records: [], done: true }), position: () => 0, close: async () => {} }),
};

/** The source line of a position and a caret under its column. */
function excerpt(sql: string, line: number, column: number): string[] {
  const text = sql.split("\n")[line - 1];
  if (text === undefined) return [];
  return [text, `${" ".repeat(Math.max(0, column - 1))}^`];
}

/** Checks a StreamJob's SQL script; no findings when it compiles. */
export function checkSql(job: StreamJob): Finding[] {
  const sql = job.spec.sql;
  if (sql === undefined) return [];
  try {
    compileSql(job, {
      mode: "cluster",
      baseDir: ".",
      sourceOverride: () => noInput,
      tableOverride: () => ({ rows: [] }),
      sinkOverride: () => blackholeSink(),
    });
    return [];
  } catch (err) {
    if (!(err instanceof SqlError)) {
      return [{ path: ".spec.sql", message: err instanceof Error ? err.message : String(err), severity: "error" }];
    }
    const l = err.location;
    return [
      {
        path: ".spec.sql",
        message: `statement ${l.statement} (${l.label}), line ${l.line}, column ${l.column}: ${err.problem}`,
        ...(err.hint ? { hint: err.hint } : {}),
        severity: "error",
        excerpt: excerpt(sql, l.line, l.column),
      },
    ];
  }
}
