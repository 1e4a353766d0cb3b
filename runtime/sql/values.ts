/**
 * Converting values between their JSON form, their SQL type and each other (CAST). Readers throw
 * a ValueError naming what was wrong; the row that held it goes to the dead-letter stream.
 */
import { RecordError } from "../errors.ts";
import { formatDate, formatTimestamp, formatTimestampFull, parseDate, parseTimestamp, dateOf, dateToTimestamp } from "./time.ts";
import { roundScale, typeName, type SqlType } from "./types.ts";

/** A value that does not fit its type (its record is dead-lettered). */
export class ValueError extends RecordError {}

/** How the JSON format reads and writes: Flink's `json.*` options. */
export interface JsonOptions {
  /** 'json.timestamp-format.standard': how TIMESTAMP text looks. */
  timestampStandard: "SQL" | "ISO-8601";
}

function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A primitive as text (strings as they are); anything else as JSON. */
export function textOf(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return `${v}`;
  return JSON.stringify(v) ?? "null";
}

/** Reads a JSON value as `type` (null stays null); throws ValueError when it does not fit. */
export function jsonReader(type: SqlType): (v: unknown) => unknown {
  switch (type.kind) {
    case "STRING":
      return (v) => (v === null || v === undefined ? null : textOf(v));
    case "INT":
    case "BIGINT":
      return (v) => {
        if (v === null || v === undefined) return null;
        const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
        if (!Number.isInteger(n)) throw new ValueError(`${describe(v)} is not an ${type.kind}`);
        return n;
      };
    case "DOUBLE":
      return (v) => {
        if (v === null || v === undefined) return null;
        const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
        if (Number.isNaN(n) && v !== "NaN") throw new ValueError(`${describe(v)} is not a DOUBLE`);
        return n;
      };
    case "DECIMAL": {
      const scale = type.scale;
      return (v) => {
        if (v === null || v === undefined) return null;
        const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
        if (!Number.isFinite(n)) throw new ValueError(`${describe(v)} is not a ${typeName(type)}`);
        return roundScale(n, scale);
      };
    }
    case "BOOLEAN":
      return (v) => {
        if (v === null || v === undefined) return null;
        if (typeof v === "boolean") return v;
        if (v === "true" || v === "TRUE") return true;
        if (v === "false" || v === "FALSE") return false;
        throw new ValueError(`${describe(v)} is not a BOOLEAN`);
      };
    case "TIMESTAMP":
      return (v) => {
        if (v === null || v === undefined) return null;
        // Epoch milliseconds are accepted too (generators and many producers write them).
        const ms = typeof v === "number" ? v : typeof v === "string" ? parseTimestamp(v) : Number.NaN;
        if (!Number.isFinite(ms))
          throw new ValueError(`${describe(v)} is not a timestamp (expected 'yyyy-MM-dd HH:mm:ss[.SSS]', ISO-8601 or epoch milliseconds)`);
        return ms;
      };
    case "DATE":
      return (v) => {
        if (v === null || v === undefined) return null;
        const days = typeof v === "string" ? parseDate(v) : typeof v === "number" && Number.isInteger(v) ? v : Number.NaN;
        if (!Number.isFinite(days)) throw new ValueError(`${describe(v)} is not a DATE (expected 'yyyy-MM-dd')`);
        return days;
      };
    case "MAP": {
      const value = jsonReader(type.value);
      return (v) => {
        if (v === null || v === undefined) return null;
        if (typeof v !== "object" || Array.isArray(v)) throw new ValueError(`${describe(v)} is not a ${typeName(type)} (expected a JSON object)`);
        const out: Record<string, unknown> = {};
        for (const k in v as Record<string, unknown>) out[k] = value((v as Record<string, unknown>)[k]);
        return out;
      };
    }
    case "ARRAY":
    case "MULTISET": {
      const el = jsonReader(type.element);
      return (v) => {
        if (v === null || v === undefined) return null;
        if (!Array.isArray(v)) throw new ValueError(`${describe(v)} is not an ${typeName(type)} (expected a JSON array)`);
        return v.map(el);
      };
    }
    case "ROW": {
      const fields = type.fields.map((f) => [f.name, jsonReader(f.type)] as const);
      return (v) => {
        if (v === null || v === undefined) return null;
        if (typeof v !== "object" || Array.isArray(v)) throw new ValueError(`${describe(v)} is not a ${typeName(type)} (expected a JSON object)`);
        const out: Record<string, unknown> = {};
        for (const [name, read] of fields) out[name] = read((v as Record<string, unknown>)[name]);
        return out;
      };
    }
    default:
      return (v) => (v === undefined ? null : v);
  }
}

/** Writes a value of `type` as JSON would carry it (timestamps and dates as text). */
export function jsonWriter(type: SqlType, options: JsonOptions): ((v: unknown) => unknown) | undefined {
  switch (type.kind) {
    case "DECIMAL": {
      const scale = type.scale;
      return (v) => (v === null ? null : roundScale(v as number, scale));
    }
    case "INT":
    case "BIGINT":
      return (v) => (v === null ? null : Math.trunc(v as number));
    case "TIMESTAMP": {
      // Window bounds repeat: the last text is kept (one entry per writer).
      let lastMs = Number.NaN;
      let lastText = "";
      return (v) => {
        if (v === null) return null;
        if (v !== lastMs) {
          lastText = formatTimestamp(v as number, options.timestampStandard);
          lastMs = v as number;
        }
        return lastText;
      };
    }
    case "DATE":
      return (v) => (v === null ? null : formatDate(v as number));
    case "MAP": {
      const value = jsonWriter(type.value, options);
      if (!value) return undefined;
      return (v) => (v === null ? null : Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, value(x)])));
    }
    case "ARRAY": {
      const el = jsonWriter(type.element, options);
      return el ? (v) => (v === null ? null : (v as unknown[]).map(el)) : undefined;
    }
    case "ROW": {
      const fields = type.fields.map((f) => [f.name, jsonWriter(f.type, options)] as const);
      if (fields.every(([, w]) => w === undefined)) return undefined;
      return (v) => {
        if (v === null) return null;
        const r = v as Record<string, unknown>;
        return Object.fromEntries(fields.map(([n, w]) => [n, w ? w(r[n] ?? null) : (r[n] ?? null)]));
      };
    }
    default:
      return undefined;
  }
}

/** A DOUBLE as Java prints it (1.0, 1.5, 1.0E10), so CAST(x AS STRING) matches Flink. */
function doubleText(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
  const abs = Math.abs(n);
  if (abs !== 0 && (abs >= 1e7 || abs < 1e-3)) {
    const [m, e] = n.toExponential().split("e");
    return `${(m as string).includes(".") ? m : `${m}.0`}E${Number(e)}`;
  }
  return Number.isInteger(n) ? n.toFixed(1) : String(n);
}

/** The text of a value as CAST(... AS STRING) gives it. */
export function castToString(v: unknown, from: SqlType): string {
  switch (from.kind) {
    case "DOUBLE":
      return doubleText(v as number);
    case "DECIMAL":
      return (v as number).toFixed(from.scale);
    case "TIMESTAMP":
      return formatTimestampFull(v as number);
    case "DATE":
      return formatDate(v as number);
    case "BOOLEAN":
      return v ? "TRUE" : "FALSE";
    case "MAP":
    case "ARRAY":
    case "ROW":
    case "MULTISET":
      return JSON.stringify(v);
    default:
      return String(v);
  }
}

/** The cast of a value from one type to another; undefined when SQL forbids the cast. */
export function castFn(from: SqlType, to: SqlType): ((v: unknown) => unknown) | undefined {
  const f = from.kind;
  if (f === "NULL") return () => null;
  switch (to.kind) {
    case "STRING":
      return (v) => castToString(v, from);
    case "INT":
    case "BIGINT":
      if (f === "STRING")
        return (v) => {
          const n = Number((v as string).trim());
          if (!Number.isFinite(n) || (v as string).trim() === "") throw new ValueError(`cannot cast ${describe(v)} to ${to.kind}`);
          return Math.trunc(n);
        };
      if (f === "INT" || f === "BIGINT" || f === "DOUBLE" || f === "DECIMAL") return (v) => Math.trunc(v as number);
      if (f === "BOOLEAN") return (v) => (v ? 1 : 0);
      if (f === "TIMESTAMP" && to.kind === "BIGINT") return (v) => Math.floor((v as number) / 1000);
      return undefined;
    case "DOUBLE":
    case "DECIMAL": {
      const round = to.kind === "DECIMAL" ? (n: number) => roundScale(n, to.scale) : (n: number) => n;
      if (f === "STRING")
        return (v) => {
          const t = (v as string).trim();
          const n = Number(t);
          if (t === "" || (Number.isNaN(n) && t !== "NaN")) throw new ValueError(`cannot cast ${describe(v)} to ${typeName(to)}`);
          return round(n);
        };
      if (f === "INT" || f === "BIGINT" || f === "DOUBLE" || f === "DECIMAL") return (v) => round(v as number);
      if (f === "BOOLEAN") return (v) => (v ? 1 : 0);
      return undefined;
    }
    case "BOOLEAN":
      if (f === "BOOLEAN") return (v) => v;
      if (f === "STRING")
        return (v) => {
          const t = (v as string).trim().toLowerCase();
          if (t === "true" || t === "1") return true;
          if (t === "false" || t === "0") return false;
          throw new ValueError(`cannot cast ${describe(v)} to BOOLEAN`);
        };
      if (f === "INT" || f === "BIGINT" || f === "DOUBLE" || f === "DECIMAL") return (v) => v !== 0;
      return undefined;
    case "TIMESTAMP":
      if (f === "TIMESTAMP") return (v) => v;
      if (f === "DATE") return (v) => dateToTimestamp(v as number);
      if (f === "STRING")
        return (v) => {
          const ms = parseTimestamp(v as string);
          if (!Number.isFinite(ms)) throw new ValueError(`cannot cast ${describe(v)} to TIMESTAMP (expected 'yyyy-MM-dd HH:mm:ss[.SSS]')`);
          return ms;
        };
      return undefined;
    case "DATE":
      if (f === "DATE") return (v) => v;
      if (f === "TIMESTAMP") return (v) => dateOf(v as number);
      if (f === "STRING")
        return (v) => {
          const d = parseDate(v as string);
          if (!Number.isFinite(d)) throw new ValueError(`cannot cast ${describe(v)} to DATE (expected 'yyyy-MM-dd')`);
          return d;
        };
      return undefined;
    case "MAP":
    case "ARRAY":
    case "ROW":
    case "MULTISET":
      return f === to.kind ? (v) => v : undefined;
    default:
      return undefined;
  }
}

/** Orders two non-null values of one type (numbers, text, booleans; arrays element-wise). */
export function compareValues(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return a === b ? 0 : a ? 1 : -1;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0;
}

/** SQL equality of two non-null values (structural for collections). */
export function equalValues(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "object" && typeof b === "object") return JSON.stringify(a) === JSON.stringify(b);
  return false;
}
