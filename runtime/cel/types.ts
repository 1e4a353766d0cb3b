/**
 * The type vocabulary of Runnel's CEL layer: type strings as cel-js spells them (`int`,
 * `list<string>`, `map<string, dyn>`, or the name of an object type declared in a scope), the
 * scope an expression is checked in, and whether a result type fits what a site expects.
 */
import type { CelType } from "../spec/schema/builders.ts";

export type { CelType };

/** A cel-js type string, e.g. `int`, `list<string>`, `map<string, dyn>`, `Record_orders`. */
export type TypeString = string;

/** An object type with known fields (a record shape, the window, the state of a process step). */
export interface ObjectType {
  /** A CEL identifier, unique within its scope (at least two characters, not a built-in name). */
  name: string;
  fields: Readonly<Record<string, TypeString>>;
}

/** Everything an expression is checked against: its variables' types and the result it must have. */
export interface Scope {
  returns: CelType;
  vars: Readonly<Record<string, TypeString>>;
  /** Object types the variables (or their fields) name, in dependency order. */
  types?: readonly ObjectType[];
}

/** The window of a window step's `select` (start and end in ms since the epoch). */
export const windowType: ObjectType = { name: "Window", fields: { start: "int", end: "int" } };

/** The firing timer of a process step's timer actions (`timestamp` in ms since the epoch). */
export const timerType: ObjectType = { name: "Timer", fields: { name: "string", timestamp: "int" } };

/**
 * What each variable is when nothing more is known: records and rules are maps of JSON values, a
 * key is whatever the keyBy computed, a lookup row may be null (left joins), CEP matches are lists
 * of records by stage name.
 */
export const defaultVarTypes: Readonly<Record<string, TypeString>> = {
  record: "map",
  key: "dyn",
  rule: "map",
  row: "dyn",
  state: "map",
  match: "map<string, list<dyn>>",
  window: windowType.name,
  timer: timerType.name,
};

/** A scope with the default variable types for the given variable names (what the runtime compiles with). */
export function defaultScope(returns: CelType, vars: readonly string[]): Scope {
  const types: ObjectType[] = [];
  if (vars.includes("window")) types.push(windowType);
  if (vars.includes("timer")) types.push(timerType);
  return { returns, vars: Object.fromEntries(vars.map((v) => [v, defaultVarTypes[v] ?? "dyn"])), types };
}

const scalars = new Set(["int", "uint", "double", "string", "bool", "bytes", "timestamp", "duration", "dyn", "null_type"]);
const wellKnown: Record<string, string> = { "google.protobuf.Timestamp": "timestamp", "google.protobuf.Duration": "duration", null: "null_type" };

/** Splits `a, map<b, c>` at top-level commas. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "<") depth++;
    else if (c === ">") depth--;
    else if (c === "," && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

/**
 * Parses a declared field type (`string`, `list<int>`, `map<string, double>`, …) into the canonical
 * type string, or returns undefined when it is not one (for an error with a hint).
 */
export function parseDeclaredType(text: string): TypeString | undefined {
  const t = text.trim();
  if (scalars.has(t)) return t;
  if (t === "list" || t === "map") return t;
  const m = /^(list|map)<(.+)>$/.exec(t);
  if (!m) return undefined;
  const args = splitArgs(m[2] ?? "").map(parseDeclaredType);
  if (args.some((a) => a === undefined)) return undefined;
  if (m[1] === "list" && args.length === 1) return `list<${args[0]}>`;
  if (m[1] === "map" && args.length === 2 && (args[0] === "string" || args[0] === "int")) return `map<${args[0]}, ${args[1]}>`;
  return undefined;
}

/** The names a declared type may use, for hints. */
export const declarableTypes: readonly string[] = ["string", "int", "double", "bool", "bytes", "timestamp", "duration", "dyn", "list<T>", "map<string, T>"];

/**
 * Reduces a checked result type to one that can describe a record field in another scope: object
 * types become `dyn` (their declarations are local to the scope that produced them).
 */
export function portableType(type: string): TypeString {
  const t = wellKnown[type] ?? type;
  if (scalars.has(t) || t === "list" || t === "map") return t === "null_type" ? "dyn" : t;
  const m = /^(list|map)<(.+)>$/.exec(t);
  if (!m) return "dyn";
  const args = splitArgs(m[2] ?? "").map(portableType);
  return `${m[1]}<${args.join(", ")}>`;
}

/** The element type of a list type (`dyn` when unknown). */
export function elementType(type: string): TypeString {
  const m = /^list<(.+)>$/.exec(type);
  return m?.[1] ?? "dyn";
}

/** A readable name for a checked type (`google.protobuf.Timestamp` → `timestamp`). */
export function displayType(type: string): string {
  return type.replaceAll("google.protobuf.Timestamp", "timestamp").replaceAll("google.protobuf.Duration", "duration");
}

/**
 * Whether an expression of type `actual` may stand where `expected` is required. `dyn` fits
 * anything (checked at run time), and so does an object type (a record is a map at run time); an
 * int fits where a double is expected (the runtime widens it); `list`/`map` accept any element types.
 */
export function assignable(actual: string, expected: CelType): boolean {
  const t = portableType(actual);
  if (t === "dyn" || expected === "dyn") return true;
  switch (expected) {
    case "double":
    case "number":
      return t === "double" || t === "int" || t === "uint";
    case "int":
      return t === "int" || t === "uint";
    case "list":
      return t === "list" || t.startsWith("list<");
    case "map":
      return t === "map" || t.startsWith("map<");
    default:
      return t === expected;
  }
}

/** How to turn a value of type `actual` into `expected`, for hints (`string(...)`, `double(...)`). */
export function conversionHint(actual: string, expected: CelType, expression: string): string | undefined {
  const t = portableType(actual);
  const conv: Partial<Record<CelType, string>> = { string: "string", int: "int", double: "double", number: "double" };
  const fn = conv[expected];
  if (fn && ["int", "uint", "double", "string", "bool", "timestamp", "duration"].includes(t)) return `convert it: ${fn}(${expression.trim()})`;
  if (expected === "bool") return "a condition must be true or false, e.g. a comparison (==, >, in) or has(...)";
  return undefined;
}
