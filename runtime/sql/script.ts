/**
 * A SQL script as a whole: its tables, views, settings and INSERT statements, and the pipeline
 * sources and sinks it maps onto (what `runnel worker` opens on Kafka for it). Statements are
 * read in order; a name is defined once.
 */
import type { Sink as SinkSpec, Source as SourceSpec } from "../spec/generated/types.ts";
import type { FromItem, Query, Statement } from "./ast.ts";
import { sinkSpec, sourceSpec, tableFromDdl, durationOption, type TableDef } from "./catalog.ts";
import { parseStatements } from "./cst.ts";
import { fail, unsupported, type StatementRef } from "./errors.ts";

type Insert = Extract<Statement, { kind: "insert" }>;

/** A script, analysed. */
export interface Script {
  statements: Statement[];
  tables: Map<string, TableDef>;
  views: Map<string, { query: Query; columns?: string[]; ref: StatementRef }>;
  inserts: { stmt: Insert; target: TableDef; sinkId: string; scope: string }[];
  /** Tables read as streams and as lookup (dimension) tables. */
  streamTables: TableDef[];
  lookupTables: TableDef[];
  /** How many times each table is read as a stream. */
  reads: Map<string, number>;
  batch: boolean;
  idleMs?: number;
}

/** The stream a sink reads: the INSERT's result, registered under this reference. */
export function insertRef(i: number): string {
  return `sql.insert.${i}`;
}

/** Counts the tables a query reads, as streams and as lookup tables, following views and CTEs (each use of one plans it again). */
function readsOf(
  q: Query,
  views: Script["views"],
  ctes: Map<string, Query>,
  out: { stream: Map<string, number>; lookup: Set<string> },
  seen: Set<string>,
): void {
  const inner = new Map(ctes);
  for (const c of q.with) inner.set(c.name, c.query);
  const from = (f: FromItem | undefined, lookup: boolean): void => {
    if (!f) return;
    if (f.kind === "join") {
      from(f.left, false);
      from(f.right, true);
    } else if (f.kind === "subquery") readsOf(f.query, views, inner, out, seen);
    else {
      const name = f.kind === "tvf" ? f.table : f.name;
      const body = inner.get(name) ?? views.get(name)?.query;
      if (body) {
        if (seen.has(name)) return;
        seen.add(name);
        readsOf(body, views, views.has(name) && !inner.has(name) ? new Map<string, Query>() : inner, out, seen);
        seen.delete(name);
        return;
      }
      if (lookup) out.lookup.add(name);
      else out.stream.set(name, (out.stream.get(name) ?? 0) + 1);
    }
  };
  if (q.kind === "union") for (const i of q.inputs) readsOf(i, views, inner, out, seen);
  else from(q.from, false);
}

const settings: Record<string, string> = {
  "execution.runtime-mode": "'streaming' or 'batch'",
  "table.exec.source.idle-timeout": "a duration, e.g. '1 min'",
  "table.local-time-zone": "'UTC'",
};

/** Parses and analyses a script: names defined once, targets and read tables known, settings valid. */
export function analyzeScript(sql: string): Script {
  const statements = parseStatements(sql);
  const tables = new Map<string, TableDef>();
  const views: Script["views"] = new Map();
  const inserts: Script["inserts"] = [];
  const targets = new Map<string, number>();
  let mode: string | undefined;
  let idleMs: number | undefined;
  let modeRef: { ref: StatementRef; pos: Statement["pos"] } | undefined;
  for (const s of statements) {
    switch (s.kind) {
      case "createTable":
        if (tables.has(s.name) || views.has(s.name)) fail(s.ref, s.pos, `'${s.name}' is already defined`);
        tables.set(s.name, tableFromDdl(s));
        break;
      case "createView":
        if (tables.has(s.name) || views.has(s.name)) fail(s.ref, s.pos, `'${s.name}' is already defined`);
        views.set(s.name, { query: s.query, ...(s.columns ? { columns: s.columns } : {}), ref: s.ref });
        break;
      case "set": {
        const expect = settings[s.key];
        if (!expect)
          unsupported(
            s.ref,
            s.pos,
            `SET '${s.key}'`,
            `settings Runnel reads: ${Object.keys(settings).join(", ")}; parallelism and checkpoints are spec fields`,
          );
        if (s.key === "execution.runtime-mode") {
          if (s.value !== "streaming" && s.value !== "batch") fail(s.ref, s.pos, `'execution.runtime-mode' must be ${expect}, got '${s.value}'`);
          mode = s.value;
          modeRef = { ref: s.ref, pos: s.pos };
        } else if (s.key === "table.exec.source.idle-timeout") idleMs = durationOption(s.ref, s.pos, s.key, s.value);
        else if (s.value !== "UTC") unsupported(s.ref, s.pos, `'table.local-time-zone' = '${s.value}'`, "Runnel reads and writes TIMESTAMP values in UTC");
        break;
      }
      case "insert": {
        const target = tables.get(s.target);
        if (!target)
          fail(
            s.ref,
            s.pos,
            `INSERT INTO '${s.target}': no such table`,
            views.has(s.target) ? "a view cannot be written; INSERT INTO a table" : "declare it with CREATE TABLE before the INSERT",
          );
        const n = (targets.get(s.target) ?? 0) + 1;
        targets.set(s.target, n);
        const scope = n === 1 ? s.target : `${s.target}#${n}`;
        inserts.push({ stmt: s, target, sinkId: scope, scope });
        break;
      }
    }
  }
  if (inserts.length === 0) {
    const last = statements[statements.length - 1];
    fail(
      last?.ref ?? { ordinal: 1, label: "script" },
      last?.pos ?? { line: 1, column: 1 },
      "the script has no INSERT INTO statement, so the job would produce nothing",
      "add INSERT INTO <table> SELECT ...",
    );
  }
  const reads = { stream: new Map<string, number>(), lookup: new Set<string>() };
  for (const i of inserts) readsOf(i.stmt.query, views, new Map(), reads, new Set());
  const known = (name: string): TableDef | undefined => tables.get(name);
  const streamTables = [...reads.stream.keys()].map(known).filter((t): t is TableDef => t !== undefined);
  const lookupTables = [...reads.lookup].map(known).filter((t): t is TableDef => t !== undefined);
  for (const t of lookupTables)
    if (reads.stream.has(t.name))
      fail(t.stmt.ref, t.stmt.pos, `table ${t.name} is read both as a stream and as a lookup table; declare two tables over its topic`);
  const unbounded = streamTables.filter((t) => !t.bounded);
  if (mode === "batch" && unbounded.length > 0 && modeRef) {
    const t = unbounded[0] as TableDef;
    fail(
      modeRef.ref,
      modeRef.pos,
      `batch mode needs bounded inputs, but table ${t.name} is unbounded`,
      t.connector === "kafka" ? "add 'scan.bounded.mode' = 'latest-offset'" : t.connector === "datagen" ? "add 'number-of-rows'" : undefined,
    );
  }
  // Bounded inputs run as a batch unless the script asks for streaming.
  const batch = mode === "batch" || (mode === undefined && streamTables.length > 0 && unbounded.length === 0);
  return { statements, tables, views, inserts, streamTables, lookupTables, reads: reads.stream, batch, ...(idleMs === undefined ? {} : { idleMs }) };
}

/** The pipeline sources and sinks a script reads and writes (no graph is built). */
export function scriptConnectors(script: Script): { sources: SourceSpec[]; sinks: SinkSpec[]; brokers: string[] } {
  // A Redis table is read by its lookup join itself (no source).
  const tables = script.lookupTables.filter((t) => t.connector !== "redis");
  const sources = [...script.streamTables.map((t) => sourceSpec(t, "stream")), ...tables.map((t) => sourceSpec(t, "table"))];
  const sinks = script.inserts.map((i, n) => sinkSpec(i.target, i.sinkId, insertRef(n)));
  const brokers = [...new Set([...script.tables.values()].flatMap((t) => t.brokers ?? []))];
  return { sources, sinks, brokers };
}

/**
 * The column names the script's queries and views mention, or undefined when one selects `*`
 * (which reads every column). A table column no statement mentions is not read from its records
 * (Flink's projection push-down into the JSON format: a value there is neither converted nor checked).
 */
export function mentionedColumns(script: Script): Set<string> | undefined {
  const names = new Set<string>();
  let star = false;
  const walk = (node: unknown): void => {
    if (star || node === null || typeof node !== "object") return;
    if (node instanceof Map) {
      for (const v of node.values()) walk(v);
      return;
    }
    if (Array.isArray(node)) {
      for (const v of node) walk(v);
      return;
    }
    const n = node as { kind?: unknown; name?: unknown; qualifier?: unknown; timeColumn?: unknown };
    if (n.kind === "star") star = true;
    if (n.kind === "column" && typeof n.name === "string") names.add(n.name);
    // `a.b` may be column a's field b as well as table a's column b.
    if (n.kind === "column" && typeof n.qualifier === "string") names.add(n.qualifier);
    if (typeof n.timeColumn === "string") names.add(n.timeColumn);
    for (const v of Object.values(node)) walk(v);
  };
  for (const ins of script.inserts) walk(ins.stmt.query);
  for (const v of script.views.values()) walk(v.query);
  return star ? undefined : names;
}
