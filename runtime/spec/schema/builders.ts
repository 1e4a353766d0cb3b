/**
 * The vocabulary the StreamJob/StreamSavepoint schema is written in: JSON-Schema-shaped objects
 * with a few source-only annotations (type names, CEL markers, hints, rule checks) that the
 * generators turn into a CRD, ajv code, TypeScript types and docs.
 */
import type { Rule } from "./rules.ts";
import { InternalError } from "../../errors.ts";

/** JSON types a structural schema may name. */
export type JsonType = "object" | "array" | "string" | "integer" | "number" | "boolean";

/** What a CEL expression must evaluate to; read later by the CEL type checker. */
export type CelType = "bool" | "string" | "int" | "double" | "number" | "timestamp" | "list" | "map" | "dyn";

/** Marks a string field as a CEL expression: its result type and the variables in scope. */
export interface CelMarker {
  returns: CelType;
  vars: readonly string[];
}

/** One schema node. Keys beyond OpenAPI's are source-only and never reach the CRD. */
export interface Schema {
  type?: JsonType;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema;
  items?: Schema;
  enum?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  format?: "date-time" | "int64" | "int32";
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  /** Source-only: the interface name in generated types and docs. */
  typeName?: string;
  /** Source-only: cross-field rules; become `x-kubernetes-validations`. */
  rules?: Rule[];
  /** Source-only (`x-runnel-cel`): this string is a CEL expression. */
  "x-runnel-cel"?: CelMarker;
  /** Source-only: what a value should look like, shown with errors. */
  hint?: string;
  /** Source-only: the TypeScript type alias to use instead of the JSON type. */
  tsType?: string;
}

/** Options common to scalar helpers. */
interface ScalarOptions<T> {
  default?: T;
  hint?: string;
}

/** A string; every string gets a maxLength so CEL cost estimates stay bounded. */
export function str(
  description: string,
  o: ScalarOptions<string> & { pattern?: string; minLength?: number; maxLength?: number; tsType?: string } = {},
): Schema {
  return clean({
    type: "string",
    description,
    default: o.default,
    pattern: o.pattern,
    minLength: o.minLength,
    maxLength: o.maxLength ?? 1024,
    hint: o.hint,
    tsType: o.tsType,
  });
}

/** An integer with optional bounds. */
export function int(description: string, o: ScalarOptions<number> & { min?: number; max?: number; int64?: boolean } = {}): Schema {
  return clean({ type: "integer", description, default: o.default, minimum: o.min, maximum: o.max, format: o.int64 ? "int64" : undefined, hint: o.hint });
}

/** A floating-point number with optional bounds. */
export function num(description: string, o: ScalarOptions<number> & { min?: number; max?: number } = {}): Schema {
  return clean({ type: "number", description, default: o.default, minimum: o.min, maximum: o.max, hint: o.hint });
}

/** A boolean, usually with a default. */
export function bool(description: string, def?: boolean): Schema {
  return clean({ type: "boolean", description, default: def });
}

/** A string restricted to the given values (maxLength keeps CEL cost estimates small). */
export function oneOf(values: readonly string[], description: string, def?: string): Schema {
  return clean({
    type: "string",
    description: `${description} One of: ${values.join(", ")}.`,
    enum: [...values],
    default: def,
    maxLength: Math.max(...values.map((v) => v.length)),
  });
}

/** Duration strings as CEL's duration() and Go accept them (no days: CEL rejects `d`). */
export const durationPattern = "^([0-9]+(ms|s|m|h))+$";

/** A duration like `30s`, `5m`, `1h30m`. */
export function duration(description: string, def?: string): Schema {
  return clean({
    type: "string",
    description: `${description} A duration such as 500ms, 30s, 5m or 1h30m.`,
    pattern: durationPattern,
    maxLength: 32,
    default: def,
    hint: "a duration: digits followed by ms, s, m or h, e.g. 30s, 5m, 1h30m (no days: write 24h)",
    tsType: "Duration",
  });
}

/** A CEL expression; `vars` are the names it may use, `returns` its expected type. */
export function cel(description: string, returns: CelType, vars: readonly string[]): Schema {
  return {
    type: "string",
    description: `${description} CEL expression returning ${returns}; variables: ${vars.join(", ")}.`,
    minLength: 1,
    maxLength: 4096,
    "x-runnel-cel": { returns, vars },
    tsType: "CelExpression",
  };
}

/** A named object type; `required` lists mandatory properties, `rules` cross-field checks. */
export function obj(
  typeName: string,
  description: string,
  properties: Record<string, Schema>,
  o: { required?: string[]; rules?: Rule[]; minProperties?: number } = {},
): Schema {
  for (const r of o.required ?? []) {
    if (!(r in properties)) throw new InternalError(`${typeName}: required property ${r} is not defined`);
  }
  return clean({
    type: "object",
    typeName,
    description,
    properties,
    required: o.required?.length ? o.required : undefined,
    rules: o.rules?.length ? o.rules : undefined,
    minProperties: o.minProperties,
  });
}

/** A map from string keys to `values`. */
export function map(description: string, values: Schema, maxProperties = 64): Schema {
  return { type: "object", description, additionalProperties: values, maxProperties };
}

/** A list; `mapKeys` makes it a keyed list (the apiserver rejects duplicate keys, SSA merges by key). */
export function list(description: string, items: Schema, o: { max: number; min?: number; mapKeys?: string[]; set?: boolean }): Schema {
  return clean({
    type: "array",
    description,
    items,
    minItems: o.min,
    maxItems: o.max,
    "x-kubernetes-list-type": o.mapKeys ? "map" : o.set ? "set" : undefined,
    "x-kubernetes-list-map-keys": o.mapKeys,
  });
}

/** An object whose contents are not checked here (validated where it is used, e.g. in a PodSpec). */
export function preserved(description: string, tsType = "Record<string, unknown>"): Schema {
  return { type: "object", description, "x-kubernetes-preserve-unknown-fields": true, tsType };
}

/** Any JSON value (string, number, object, …). */
export function anyValue(description: string): Schema {
  return { description, "x-kubernetes-preserve-unknown-fields": true, tsType: "unknown" };
}

/** An int-or-string value such as a resource quantity (`2`, `500m`, `1Gi`). */
export function intOrString(description: string, pattern?: string): Schema {
  return clean({ description, "x-kubernetes-int-or-string": true, pattern, maxLength: 64, tsType: "number | string" });
}

/** Returns the schema with a few properties overridden (e.g. a default for one use). */
export function withProps(schema: Schema, extra: Partial<Schema>): Schema {
  return clean({ ...schema, ...extra });
}

/** Drops undefined keys so generated output has no `key: undefined` noise. */
function clean(s: Record<string, unknown>): Schema {
  for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  return s;
}
