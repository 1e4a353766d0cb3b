/**
 * Tables from CREATE TABLE: their columns (physical, computed, time attributes), primary key and
 * connector. WITH options use Flink's names where Flink has the connector (`kafka`,
 * `upsert-kafka`, `filesystem`, `datagen`, `print`, `blackhole`); every option is either used or
 * refused by name — none is silently ignored. Each table maps onto a pipeline source and/or
 * sink spec, so SQL jobs read and write through the same connectors as declarative pipelines.
 */
import { REDIS_OPTIONS, redisTableOf, type RedisTable } from "./redis-table.ts";
import type { ColumnDef, Expr, Statement } from "./ast.ts";
import { fail, unsupported, type SqlPosition, type StatementRef } from "./errors.ts";
import type { Column } from "./expr-compile.ts";
import type { FieldGenerator, GeneratorSource, Sink as SinkSpec, Source as SourceSpec } from "../spec/generated/types.ts";
import { isInteger, typeName, type SqlType } from "./types.ts";
import type { JsonOptions } from "./values.ts";

type CreateTable = Extract<Statement, { kind: "createTable" }>;

/** The connectors SQL tables can use. */
export type ConnectorKind = "kafka" | "upsert-kafka" | "filesystem" | "datagen" | "print" | "blackhole" | "redis";

/** A table of the catalog. */
export interface TableDef {
  name: string;
  stmt: CreateTable;
  /** All columns in declared order (the row layout). */
  columns: Column[];
  /** Physical columns: read from the record. */
  physical: { name: string; type: SqlType; index: number }[];
  /** Computed columns: evaluated after the physical ones. */
  computed: { name: string; expr: Expr; index: number }[];
  /** The event-time attribute and its watermark delay. */
  rowtime?: { index: number; delayMs: number };
  primaryKey?: string[];
  connector: ConnectorKind;
  json: JsonOptions & { ignoreParseErrors: boolean; failOnMissingField: boolean };
  /** Options by name, read through `option()` so unused ones can be reported. */
  options: Map<string, { value: string; pos: SqlPosition }>;
  /** Reads end (a file, a bounded generator, a topic up to its end offsets). */
  bounded: boolean;
  /** 'scan.watermark.idle-timeout'. */
  idleMs?: number;
  /** Kafka brokers from 'properties.bootstrap.servers'. */
  brokers?: string[];
  /** Key column names for Kafka records ('key.fields', or the primary key of upsert-kafka). */
  keyFields?: string[];
  keyFormat: "raw" | "json";
  /** A Redis lookup table's endpoint and cache (redis-table.ts). */
  redis?: RedisTable;
}

const common = ["connector"];
const json = [
  "format",
  "value.format",
  "json.timestamp-format.standard",
  "json.ignore-parse-errors",
  "json.fail-on-missing-field",
  "json.encode.decimal-as-plain-number",
];
const kafkaCommon = ["topic", "properties.bootstrap.servers", "properties.group.id", "key.format", "key.fields", "value.fields-include"];
const allowed: Record<ConnectorKind, string[]> = {
  kafka: [...common, ...json, ...kafkaCommon, "scan.startup.mode", "scan.bounded.mode", "scan.watermark.idle-timeout"],
  "upsert-kafka": [...common, ...json, ...kafkaCommon],
  filesystem: [...common, ...json, "path", "source.monitor-interval"],
  datagen: [...common, "rows-per-second", "number-of-rows", "seed", "partitions", "out-of-orderness", "scan.watermark.idle-timeout"],
  print: [...common],
  blackhole: [...common],
  redis: [...common, ...REDIS_OPTIONS],
};

const fieldOption = /^fields\.([^.]+)\.(kind|min|max|length|start|end|values|weights|cardinality|prefix|skew|probability|value|null-rate)$/;

const durationUnits: Record<string, number> = {
  ms: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** Parses a Flink duration option ('5 s', '1 min', '500ms', '2h'; a bare number is milliseconds). */
export function durationOption(stmt: StatementRef, pos: SqlPosition, key: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const per = m ? durationUnits[(m[2] || "ms").toLowerCase()] : undefined;
  if (!m || per === undefined) return fail(stmt, pos, `'${key}' = '${text}' is not a duration`, "e.g. '5 s', '1 min', '500 ms'");
  return Number(m[1]) * per;
}

/** Builds a table from its CREATE TABLE statement, checking columns, time attributes and options. */
export function tableFromDdl(s: CreateTable): TableDef {
  const stmt = s.ref;
  const columns: Column[] = [];
  const physical: TableDef["physical"] = [];
  const computed: TableDef["computed"] = [];
  const seen = new Set<string>();
  s.columns.forEach((c: ColumnDef, index) => {
    if (seen.has(c.name)) fail(stmt, c.pos, `column '${c.name}' is declared twice`);
    seen.add(c.name);
    if (c.kind === "physical") {
      physical.push({ name: c.name, type: c.type, index });
      columns.push({ name: c.name, qualifier: s.name, type: c.type });
    } else {
      computed.push({ name: c.name, expr: c.expr, index });
      // Typed when the table's computed columns are compiled (sources.ts); PROCTIME() is known now.
      const proctime = c.expr.kind === "call" && c.expr.name === "PROCTIME";
      columns.push({ name: c.name, qualifier: s.name, type: proctime ? { kind: "TIMESTAMP", ltz: true, proctime: true } : { kind: "NULL" } });
    }
  });
  const options = s.options;
  const connectorOpt = options.get("connector");
  if (!connectorOpt)
    fail(stmt, s.pos, `table ${s.name} has no 'connector' option`, "add 'connector' = 'kafka' (or upsert-kafka, filesystem, datagen, print, blackhole)");
  const raw = connectorOpt.value;
  const connector = (raw === "stdout" ? "print" : raw === "generator" ? "datagen" : raw) as ConnectorKind;
  if (!(connector in allowed))
    fail(stmt, connectorOpt.pos, `unknown connector '${raw}'`, "use kafka, upsert-kafka, filesystem, datagen, print, blackhole or redis");
  for (const [key, { pos }] of options) {
    if (allowed[connector].includes(key)) continue;
    if (connector === "datagen" && fieldOption.test(key)) continue;
    const hint = key.startsWith("properties.")
      ? "only properties.bootstrap.servers (and properties.group.id, not needed: positions live in checkpoints) are used"
      : `the ${connector} connector takes: ${allowed[connector].join(", ")}`;
    fail(stmt, pos, `the option '${key}' is not supported for the ${connector} connector`, hint);
  }
  const get = (k: string): string | undefined => options.get(k)?.value;
  const posOf = (k: string): SqlPosition => options.get(k)?.pos ?? s.pos;
  const format = get("format") ?? get("value.format");
  if (["kafka", "upsert-kafka", "filesystem"].includes(connector)) {
    if (format === undefined) fail(stmt, s.pos, `table ${s.name} needs 'format' = 'json'`);
    if (format !== "json") unsupported(stmt, posOf(get("format") !== undefined ? "format" : "value.format"), `the format '${format}'`, "use 'json'");
  }
  const standard = get("json.timestamp-format.standard") ?? "SQL";
  if (standard !== "SQL" && standard !== "ISO-8601")
    fail(stmt, posOf("json.timestamp-format.standard"), `'json.timestamp-format.standard' must be 'SQL' or 'ISO-8601', got '${standard}'`);
  const bool = (k: string): boolean => {
    const v = get(k);
    if (v === undefined) return false;
    if (v !== "true" && v !== "false") fail(stmt, posOf(k), `'${k}' must be 'true' or 'false', got '${v}'`);
    return v === "true";
  };
  const def: TableDef = {
    name: s.name,
    stmt: s,
    columns,
    physical,
    computed,
    ...(s.primaryKey ? { primaryKey: s.primaryKey } : {}),
    connector,
    json: { timestampStandard: standard, ignoreParseErrors: bool("json.ignore-parse-errors"), failOnMissingField: bool("json.fail-on-missing-field") },
    options,
    bounded: false,
    keyFormat: "raw",
  };
  for (const k of s.primaryKey ?? []) if (!seen.has(k)) fail(stmt, s.pos, `PRIMARY KEY column '${k}' is not a column of ${s.name}`);
  if (s.watermark) def.rowtime = watermarkOf(stmt, s, def);
  const keyFormat = get("key.format");
  if (keyFormat !== undefined && keyFormat !== "raw" && keyFormat !== "json")
    unsupported(stmt, posOf("key.format"), `the key format '${keyFormat}'`, "use 'raw' or 'json'");
  def.keyFormat = keyFormat ?? (connector === "upsert-kafka" && (s.primaryKey?.length ?? 0) > 1 ? "json" : "raw");
  const keyFields = get("key.fields");
  if (keyFields !== undefined) {
    def.keyFields = keyFields.split(";").map((x) => x.trim());
    for (const k of def.keyFields) if (!seen.has(k)) fail(stmt, posOf("key.fields"), `'key.fields' names '${k}', which is not a column of ${s.name}`);
  }
  if (get("value.fields-include") !== undefined && get("value.fields-include") !== "ALL")
    unsupported(stmt, posOf("value.fields-include"), "'value.fields-include' other than 'ALL'");
  if (connector === "upsert-kafka") {
    if (!s.primaryKey) fail(stmt, s.pos, `an upsert-kafka table needs a PRIMARY KEY (the Kafka record key)`, "PRIMARY KEY (id) NOT ENFORCED");
    def.keyFields = s.primaryKey;
  }
  if (connector === "kafka" || connector === "upsert-kafka") {
    if (get("topic") === undefined) fail(stmt, s.pos, `table ${s.name} needs a 'topic'`);
    if (get("topic")?.includes(";")) unsupported(stmt, posOf("topic"), "several topics in one table");
    const servers = get("properties.bootstrap.servers");
    if (servers !== undefined) def.brokers = servers.split(",").map((x) => x.trim());
    const startup = get("scan.startup.mode");
    if (startup !== undefined && startup !== "earliest-offset" && startup !== "latest-offset")
      unsupported(stmt, posOf("scan.startup.mode"), `'scan.startup.mode' = '${startup}'`, "use 'earliest-offset' or 'latest-offset'");
    const bounded = get("scan.bounded.mode");
    if (bounded !== undefined && bounded !== "latest-offset" && bounded !== "unbounded")
      unsupported(
        stmt,
        posOf("scan.bounded.mode"),
        `'scan.bounded.mode' = '${bounded}'`,
        "use 'latest-offset' (read up to the end offsets at start, then finish)",
      );
    def.bounded = bounded === "latest-offset";
  }
  if (connector === "filesystem") {
    if (get("path") === undefined) fail(stmt, s.pos, `table ${s.name} needs a 'path'`);
    if (get("source.monitor-interval") !== undefined)
      unsupported(stmt, posOf("source.monitor-interval"), "watching a folder for new files ('source.monitor-interval')");
    def.bounded = true;
  }
  if (connector === "datagen") def.bounded = get("number-of-rows") !== undefined;
  if (connector === "redis") def.redis = redisTableOf(stmt, def, get, posOf, (k, text) => durationOption(stmt, posOf(k), k, text));
  const idle = get("scan.watermark.idle-timeout");
  if (idle !== undefined) def.idleMs = durationOption(stmt, posOf("scan.watermark.idle-timeout"), "scan.watermark.idle-timeout", idle);
  return def;
}

/** `WATERMARK FOR ts AS ts - INTERVAL 'n' unit` (or `AS ts`): the rowtime column and its delay. */
function watermarkOf(stmt: StatementRef, s: CreateTable, def: TableDef): { index: number; delayMs: number } {
  const w = s.watermark as NonNullable<CreateTable["watermark"]>;
  const index = def.columns.findIndex((c) => c.name === w.column);
  if (index < 0) fail(stmt, w.pos, `WATERMARK FOR names '${w.column}', which is not a column of ${s.name}`);
  const col = def.columns[index] as Column;
  const phys = def.physical.find((p) => p.index === index);
  if (phys && phys.type.kind !== "TIMESTAMP")
    fail(
      stmt,
      w.pos,
      `the time attribute '${w.column}' must be TIMESTAMP(3) or TIMESTAMP_LTZ(3), got ${typeName(phys.type)}`,
      "declare it TIMESTAMP(3), or compute one: ts AS TO_TIMESTAMP_LTZ(epoch_ms, 3)",
    );
  const e = w.expr;
  const isCol = (x: Expr): boolean => x.kind === "column" && x.name === w.column && x.qualifier === undefined;
  let delayMs: number;
  if (isCol(e)) delayMs = 0;
  else if (e.kind === "binary" && e.op === "-" && isCol(e.left) && e.right.kind === "interval") delayMs = e.right.ms;
  else return unsupported(stmt, e.pos, `the watermark expression ${e.text}`, `use ${w.column} - INTERVAL '5' SECOND (bounded out-of-orderness) or ${w.column}`);
  col.type = phys ? { ...(phys.type as { kind: "TIMESTAMP"; ltz: boolean }), rowtime: true } : col.type;
  return { index, delayMs };
}

/** A table option's value. */
export function option(t: TableDef, key: string): string | undefined {
  return t.options.get(key)?.value;
}

function generatorField(t: TableDef, name: string, type: SqlType): FieldGenerator {
  const stmt = t.stmt.ref;
  const get = (k: string): string | undefined => option(t, `fields.${name}.${k}`);
  const numOpt = (k: string): number | undefined => {
    const v = get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) fail(stmt, t.options.get(`fields.${name}.${k}`)?.pos ?? t.stmt.pos, `'fields.${name}.${k}' must be a number, got '${v}'`);
    return n;
  };
  const kind = get("kind");
  const values = get("values")
    ?.split(",")
    .map((x) => x.trim());
  const base = {
    ...(numOpt("min") !== undefined ? { min: numOpt("min") } : {}),
    ...(numOpt("max") !== undefined ? { max: numOpt("max") } : {}),
  };
  switch (kind) {
    case "sequence":
      return { kind: "sequence" };
    case "key":
      return {
        kind: "key",
        cardinality: numOpt("cardinality") ?? 1000,
        ...(get("prefix") ? { prefix: get("prefix") } : {}),
        ...(numOpt("skew") !== undefined ? { skew: numOpt("skew") } : {}),
      };
    case "choice":
      if (!values) fail(stmt, t.stmt.pos, `'fields.${name}.kind' = 'choice' needs 'fields.${name}.values' (comma-separated)`);
      return { kind: "choice", values, ...(get("weights") ? { weights: (get("weights") as string).split(",").map(Number) } : {}) };
    case "event-time":
      return { kind: "eventTime" };
    case "uuid":
      return { kind: "uuid" };
    case "constant":
      return { kind: "constant", value: get("value") ?? "" };
    case "random":
    case undefined:
      break;
    default:
      fail(
        stmt,
        t.options.get(`fields.${name}.kind`)?.pos ?? t.stmt.pos,
        `unknown generator kind '${kind}'`,
        "use random, sequence, key, choice, event-time, uuid or constant",
      );
  }
  switch (type.kind) {
    case "STRING":
      return values ? { kind: "choice", values } : { kind: "uuid" };
    case "INT":
    case "BIGINT":
      return { kind: "int", min: 0, max: 1000, ...base };
    case "DOUBLE":
    case "DECIMAL":
      return { kind: "double", min: 0, max: 1, ...base };
    case "BOOLEAN":
      return { kind: "bool", ...(numOpt("probability") !== undefined ? { probability: numOpt("probability") } : {}) };
    case "TIMESTAMP":
      return { kind: "eventTime" };
    default:
      return unsupported(stmt, t.stmt.pos, `generating ${typeName(type)} values (column ${name})`);
  }
}

/** The generator spec of a datagen table. */
function generatorSpec(t: TableDef): GeneratorSource {
  const stmt = t.stmt.ref;
  const n = (k: string): number | undefined => {
    const v = option(t, k);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isInteger(x) || x < 0) fail(stmt, t.options.get(k)?.pos ?? t.stmt.pos, `'${k}' must be a whole number, got '${v}'`);
    return x;
  };
  for (const key of t.options.keys()) {
    const m = fieldOption.exec(key);
    if (m && !t.physical.some((p) => p.name === m[1]))
      fail(stmt, t.options.get(key)?.pos ?? t.stmt.pos, `'${key}' names '${m[1]}', which is not a physical column of ${t.name}`);
  }
  const ooo = option(t, "out-of-orderness");
  return {
    rate: n("rows-per-second") ?? 10_000,
    ...(n("number-of-rows") !== undefined ? { count: n("number-of-rows") } : {}),
    seed: n("seed") ?? 1,
    partitions: n("partitions") ?? 4,
    ...(ooo !== undefined
      ? { outOfOrderness: `${durationOption(stmt, t.options.get("out-of-orderness")?.pos ?? t.stmt.pos, "out-of-orderness", ooo)}ms` }
      : {}),
    fields: Object.fromEntries(t.physical.map((p) => [p.name, generatorField(t, p.name, p.type)])),
  };
}

/** The pipeline source spec a table is read through (mode table for lookup joins). */
export function sourceSpec(t: TableDef, mode: "stream" | "table"): SourceSpec {
  switch (t.connector) {
    case "kafka":
    case "upsert-kafka": {
      const startup = option(t, "scan.startup.mode");
      return {
        id: t.name,
        mode,
        kafka: {
          topic: option(t, "topic") as string,
          format: "json",
          keyFormat: "string",
          startOffset: startup === "latest-offset" ? "latest" : "earliest",
          bounded: t.bounded,
        },
      };
    }
    case "filesystem":
      return { id: t.name, mode, local: { file: { path: option(t, "path") as string } } };
    case "datagen":
      return { id: t.name, mode, local: { generator: generatorSpec(t) } };
    case "redis":
      return fail(
        t.stmt.ref,
        t.stmt.pos,
        `table ${t.name} is a Redis lookup table: it is read only by a lookup join`,
        `JOIN ${t.name} FOR SYSTEM_TIME AS OF s.proc_time AS d ON s.<column> = d.${t.primaryKey?.[0] ?? "id"}`,
      );
    default:
      return unsupported(t.stmt.ref, t.stmt.pos, `reading the ${t.connector} connector (table ${t.name} can only be written)`);
  }
}

/** The pipeline sink spec a table is written through. */
export function sinkSpec(t: TableDef, id: string, input: string): SinkSpec {
  switch (t.connector) {
    case "kafka":
    case "upsert-kafka":
      return { id, input, kafka: { topic: option(t, "topic") as string, format: "json" } };
    case "filesystem":
      return { id, input, file: { path: option(t, "path") as string, format: "ndjson" } };
    case "print":
      return { id, input, stdout: { format: "json" } };
    case "blackhole":
      return { id, input, blackhole: {} };
    case "redis":
      return unsupported(t.stmt.ref, t.stmt.pos, `writing to a Redis table (${t.name})`, "write Redis from a pipeline's redis sink (sorted sets, hashes)");
    default:
      return unsupported(t.stmt.ref, t.stmt.pos, `writing to the ${t.connector} connector (table ${t.name} can only be read)`);
  }
}

/** Whether a column type can hold a Kafka key or primary key value. */
export function keyable(t: SqlType): boolean {
  return (
    t.kind === "STRING" || isInteger(t) || t.kind === "BOOLEAN" || t.kind === "DATE" || t.kind === "TIMESTAMP" || t.kind === "DECIMAL" || t.kind === "DOUBLE"
  );
}
