/**
 * Values as the compiled pipeline carries them. Records are the plain objects sources produce;
 * CEL ints are `bigint`. A keyed stream's key travels on the record under a symbol (invisible to
 * CEL and to JSON), so steps that rebuild a record can carry the key over without an envelope
 * object per record, and downstream keyed steps partition by it.
 */
import type { Key } from "../api/functions.ts";

/** The record property holding the key of a keyed stream (the CEL value, before normalising). */
// Registered (Symbol.for) so repartition topics can carry it across processes.
export const KEY: unique symbol = Symbol.for("runnel.key");

/** Marks a deletion of its key (a Kafka tombstone: the key with a null value), e.g. an updating SQL result's deleted row. */
export const TOMBSTONE: unique symbol = Symbol.for("runnel.tombstone");

/** A record of a declarative pipeline: a plain object, maybe carrying its key. */
export type Rec = Record<string, unknown> & { [KEY]?: unknown };

/** The key a record carries (`null` on a stream that is not keyed). */
export function keyOf(record: unknown): unknown {
  const k = (record as Rec | null)?.[KEY];
  return k === undefined ? null : k;
}

/** Gives `out` the key of `from` (when `from` carries one); returns `out`. */
export function carryKey<T>(out: T, from: unknown): T {
  const k = (from as Rec | null)?.[KEY];
  if (k !== undefined && out !== null && typeof out === "object") (out as Rec)[KEY] = k;
  return out;
}

/** A CEL value as a partitioning key: strings and safe numbers as they are, the rest as canonical JSON. */
export function toKey(value: unknown): Key {
  if (typeof value === "string") return value;
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  return toJson(value);
}

/** A number from a CEL number (int or double); NaN for anything else, so aggregates show the problem. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return Number.NaN;
}

/** JSON.stringify with CEL ints as JSON numbers, Maps as objects and Sets as lists. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer) ?? "null";
}

/** The replacer of toJson. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return toKey(value);
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  return value;
}

/** Whether a value holds a CEL int, a Map or a Set anywhere (only then does plain() copy it). */
function needsCopy(value: unknown): boolean {
  if (typeof value === "bigint" || value instanceof Map || value instanceof Set) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (needsCopy(v)) return true;
    return false;
  }
  if (value !== null && typeof value === "object") {
    for (const k in value) if (needsCopy((value as Record<string, unknown>)[k])) return true;
  }
  return false;
}

/** The value with CEL ints as JS numbers (Maps as objects, Sets as lists): what a sink outside CEL sees. Copies only when needed. */
export function plain(value: unknown): unknown {
  return needsCopy(value) ? plainCopy(value) : value;
}

function plainCopy(value: unknown): unknown {
  if (typeof value === "bigint") return toKey(value);
  if (Array.isArray(value)) return value.map(plainCopy);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plainCopy(v)]));
  if (value instanceof Set) return [...value].map(plainCopy);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainCopy(v);
    return out;
  }
  return value;
}
