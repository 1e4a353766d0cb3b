/**
 * SQL types and how their values travel: STRING as a string; INT, BIGINT, DOUBLE and DECIMAL as
 * numbers (DECIMAL rounded to its scale, BIGINT exact up to 2^53); BOOLEAN; TIMESTAMP(3) and
 * TIMESTAMP_LTZ(3) as epoch milliseconds (TIMESTAMP read and written as UTC wall-clock time);
 * DATE as days since the epoch; MAP as a plain object; ARRAY as an array; ROW as an object.
 * NULL is `null`.
 */

/** A SQL type. Time attributes are TIMESTAMP columns marked rowtime (event time) or proctime. */
export type SqlType =
  | { kind: "STRING" }
  | { kind: "INT" }
  | { kind: "BIGINT" }
  | { kind: "DOUBLE" }
  | { kind: "DECIMAL"; precision: number; scale: number }
  | { kind: "BOOLEAN" }
  | { kind: "TIMESTAMP"; ltz: boolean; rowtime?: boolean; proctime?: boolean }
  | { kind: "DATE" }
  | { kind: "MAP"; key: SqlType; value: SqlType }
  | { kind: "ARRAY"; element: SqlType }
  | { kind: "MULTISET"; element: SqlType }
  | { kind: "ROW"; fields: { name: string; type: SqlType }[] }
  | { kind: "INTERVAL" }
  | { kind: "NULL" };

export const STRING: SqlType = { kind: "STRING" };
export const INT: SqlType = { kind: "INT" };
export const BIGINT: SqlType = { kind: "BIGINT" };
export const DOUBLE: SqlType = { kind: "DOUBLE" };
export const BOOLEAN: SqlType = { kind: "BOOLEAN" };
export const TIMESTAMP: SqlType = { kind: "TIMESTAMP", ltz: false };
export const DATE: SqlType = { kind: "DATE" };
export const NULL_TYPE: SqlType = { kind: "NULL" };
export const INTERVAL: SqlType = { kind: "INTERVAL" };

/** The type as SQL writes it, e.g. `MAP<STRING, INT>`. */
export function typeName(t: SqlType): string {
  switch (t.kind) {
    case "DECIMAL":
      return `DECIMAL(${t.precision}, ${t.scale})`;
    case "TIMESTAMP":
      return t.ltz ? "TIMESTAMP_LTZ(3)" : "TIMESTAMP(3)";
    case "MAP":
      return `MAP<${typeName(t.key)}, ${typeName(t.value)}>`;
    case "ARRAY":
      return `ARRAY<${typeName(t.element)}>`;
    case "MULTISET":
      return `MULTISET<${typeName(t.element)}>`;
    case "ROW":
      return `ROW<${t.fields.map((f) => `${f.name} ${typeName(f.type)}`).join(", ")}>`;
    case "INTERVAL":
      return "INTERVAL DAY TO SECOND";
    default:
      return t.kind;
  }
}

/** Numeric types (arithmetic, SUM, AVG). */
export function isNumeric(t: SqlType): boolean {
  return t.kind === "INT" || t.kind === "BIGINT" || t.kind === "DOUBLE" || t.kind === "DECIMAL" || t.kind === "NULL";
}

/** Integer types. */
export function isInteger(t: SqlType): boolean {
  return t.kind === "INT" || t.kind === "BIGINT";
}

/** The same type without time-attribute marks (what a computed value of it is). */
export function plainType(t: SqlType): SqlType {
  return t.kind === "TIMESTAMP" && (t.rowtime || t.proctime) ? { kind: "TIMESTAMP", ltz: t.ltz } : t;
}

/** The wider of two numeric types (INT < BIGINT < DECIMAL < DOUBLE). */
export function widerNumeric(a: SqlType, b: SqlType): SqlType {
  if (a.kind === "NULL") return b;
  if (b.kind === "NULL") return a;
  if (a.kind === "DOUBLE" || b.kind === "DOUBLE") return DOUBLE;
  if (a.kind === "DECIMAL" || b.kind === "DECIMAL") {
    const scale = Math.max(a.kind === "DECIMAL" ? a.scale : 0, b.kind === "DECIMAL" ? b.scale : 0);
    return { kind: "DECIMAL", precision: 38, scale };
  }
  if (a.kind === "BIGINT" || b.kind === "BIGINT") return BIGINT;
  return INT;
}

/** Whether values of the two types can be compared (=, <, IN, CASE branches, COALESCE). */
export function comparable(a: SqlType, b: SqlType): boolean {
  if (a.kind === "NULL" || b.kind === "NULL") return true;
  if (isNumeric(a) && isNumeric(b)) return true;
  if (a.kind === "TIMESTAMP" && b.kind === "TIMESTAMP") return true;
  if (a.kind === "ARRAY" && b.kind === "ARRAY") return comparable(a.element, b.element);
  if (a.kind === "MAP" && b.kind === "MAP") return comparable(a.key, b.key) && comparable(a.value, b.value);
  return a.kind === b.kind;
}

/** The common type of several values (CASE, COALESCE, IN lists): undefined when there is none. */
export function commonType(types: SqlType[]): SqlType | undefined {
  let out: SqlType = NULL_TYPE;
  for (const t of types) {
    if (t.kind === "NULL") continue;
    if (out.kind === "NULL") out = plainType(t);
    else if (isNumeric(out) && isNumeric(t)) out = widerNumeric(out, t);
    else if (!comparable(out, t)) return undefined;
  }
  return out;
}

/** Rounds a number to a DECIMAL scale (half away from zero, as Flink's DECIMAL does). */
export function roundScale(v: number, scale: number): number {
  const f = 10 ** scale;
  const x = Math.abs(v) * f;
  // Nudge values a binary fraction below .5 (1.005 * 100 = 100.49999…) up before rounding.
  const r = Math.round(x + x * Number.EPSILON * 4) / f;
  return v < 0 ? -r : r;
}
