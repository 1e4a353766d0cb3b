/**
 * Validates StreamJob and StreamSavepoint manifests the way the apiserver will: defaults first,
 * then the structural schema (generated ajv code), then the cross-field rules (the TypeScript
 * twins of the CRD's CEL rules). Errors carry kubectl-style paths and hints.
 */
import type { ErrorObject } from "ajv";
import * as generated from "./generated/validators.ts";
import type { StreamJob, StreamSavepoint } from "./generated/types.ts";
import type { Schema } from "./schema/builders.ts";
import { rootSchema, streamJob, streamSavepoint, type ResourceDefinition } from "./schema/crds.ts";
import type { Obj } from "./schema/rules.ts";
import { closest, firstSentence, formatPath, pointerSegments, schemaAt, type Segment } from "./paths.ts";
import { InternalError } from "../errors.ts";

/** One problem in a manifest. */
export interface SpecError {
  /** kubectl-style path, e.g. `.spec.pipeline.steps[2].window.size`. */
  path: string;
  message: string;
  hint?: string;
  /** For a cross-field rule: its CEL expression (the apiserver reports the same message). */
  rule?: string;
}

/** The result of validating: the defaulted object (as the apiserver would store it) and the errors. */
export interface Validated<T> {
  value: T;
  errors: SpecError[];
}

type AjvValidate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

const kinds = [
  { def: streamJob, ajv: generated.validateStreamJob as unknown as AjvValidate, root: rootSchema(streamJob) },
  { def: streamSavepoint, ajv: generated.validateStreamSavepoint as unknown as AjvValidate, root: rootSchema(streamSavepoint) },
];

/** Validates a StreamJob manifest (a parsed YAML/JSON object); an empty list means valid. */
export function validateStreamJob(obj: unknown): SpecError[] {
  return check(streamJob, obj).errors;
}

/** Validates a StreamJob and returns it with defaults applied, for the compiler and the CLI. */
export function parseStreamJob(obj: unknown): Validated<StreamJob> {
  return check(streamJob, obj) as Validated<StreamJob>;
}

/** Validates a StreamSavepoint manifest; an empty list means valid. */
export function validateStreamSavepoint(obj: unknown): SpecError[] {
  return check(streamSavepoint, obj).errors;
}

/** Parses a StreamSavepoint with defaults applied. */
export function parseStreamSavepoint(obj: unknown): Validated<StreamSavepoint> {
  return check(streamSavepoint, obj) as Validated<StreamSavepoint>;
}

function check(def: ResourceDefinition, obj: unknown): Validated<unknown> {
  const kind = kinds.find((k) => k.def === def);
  if (!kind) throw new InternalError(`unknown kind ${def.kind}`);
  // ajv applies defaults in place, like the apiserver before it runs CEL rules; keep the caller's object intact.
  const value: unknown = structuredClone(obj);
  const errors: SpecError[] = [];
  if (!kind.ajv(value)) {
    for (const e of kind.ajv.errors ?? []) errors.push(fromAjv(e, value, kind.root));
  }
  walkRules(kind.root, value, [], errors);
  return { value, errors: dedupe(errors) };
}

/** Turns one ajv error into a SpecError with a friendlier message and a hint. */
function fromAjv(e: ErrorObject, data: unknown, root: Schema): SpecError {
  const at = pointerSegments(e.instancePath, data);
  const node = schemaAt(root, at);
  const got = valueAt(data, at);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required": {
      const field = String(params.missingProperty);
      return { path: formatPath([...at, field]), message: "is required", ...opt(firstSentence(node?.properties?.[field]?.description)) };
    }
    case "additionalProperties": {
      const field = String(params.additionalProperty);
      const known = Object.keys(node?.properties ?? {});
      const guess = closest(field, known);
      return { path: formatPath([...at, field]), message: "unknown field", hint: guess ? `did you mean ${guess}?` : `known fields: ${known.join(", ")}` };
    }
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const guess = typeof got === "string" ? closest(got, allowed) : undefined;
      return {
        path: formatPath(at),
        message: `must be one of: ${allowed.join(", ")}`,
        hint: guess ? `got ${JSON.stringify(got)}; did you mean ${guess}?` : `got ${JSON.stringify(got)}`,
      };
    }
    case "pattern":
      return {
        path: formatPath(at),
        message: node?.hint ? `must be ${node.hint}` : `must match ${String(params.pattern)}`,
        hint: `got ${JSON.stringify(got)}`,
      };
    case "type":
      return { path: formatPath(at), message: `must be ${String(params.type).replace(",", " or ")}`, hint: `got ${describe(got)}` };
    case "minItems":
      return { path: formatPath(at), message: `must have at least ${String(params.limit)} item(s)`, ...opt(firstSentence(node?.description)) };
    case "minLength":
      return { path: formatPath(at), message: params.limit === 1 ? "must not be empty" : `must be at least ${String(params.limit)} characters long` };
    case "maxLength":
      return {
        path: formatPath(at),
        message: `must be at most ${String(params.limit)} characters long`,
        hint: `it has ${typeof got === "string" ? [...got].length : "?"}`,
      };
    case "maxItems":
      return { path: formatPath(at), message: `must have at most ${String(params.limit)} item(s)` };
    default:
      return { path: formatPath(at), message: e.message ?? e.keyword, ...opt(got === undefined ? undefined : `got ${JSON.stringify(got)}`) };
  }
}

/** Runs the cross-field rules and keyed-list uniqueness over the (defaulted) object. */
function walkRules(s: Schema | undefined, v: unknown, at: Segment[], errors: SpecError[]): void {
  if (!s || v === null || typeof v !== "object") return;
  if (Array.isArray(v)) {
    const keys = s["x-kubernetes-list-map-keys"];
    if (keys) uniqueKeys(v, keys, at, errors);
    v.forEach((item, i) => walkRules(s.items, item, [...at, i], errors));
    return;
  }
  const o = v as Obj;
  const prefix = formatPath(at);
  // A rule is only meaningful when its own fields have the right types (ajv reported none here).
  const typeBroken = errors.some((e) => e.path === prefix || (e.path.startsWith(prefix) && !/[.[]/.test(e.path.slice(prefix.length + 1))));
  for (const rule of s.rules ?? []) {
    if (!rule.check || typeBroken) continue;
    let ok = true;
    try {
      ok = rule.check(o);
    } catch {
      ok = true; // a check that cannot read the value leaves it to the schema errors
    }
    if (!ok) errors.push({ path: prefix + (rule.fieldPath ?? ""), message: rule.message, ...opt(rule.hint?.(o)), rule: rule.rule });
  }
  for (const [k, child] of Object.entries(o)) {
    const cs = s.properties?.[k] ?? s.additionalProperties;
    walkRules(cs, child, [...at, k], errors);
  }
}

function uniqueKeys(items: unknown[], keys: readonly string[], at: Segment[], errors: SpecError[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (item === null || typeof item !== "object") return;
    const key = JSON.stringify(keys.map((k) => (item as Obj)[k]));
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      errors.push({
        path: formatPath([...at, i]),
        message: `duplicate ${keys.join("/")} ${keys.map((k) => JSON.stringify((item as Obj)[k])).join("/")}`,
        hint: `also used by ${formatPath([...at, first])}`,
      });
  });
}

function valueAt(data: unknown, at: readonly Segment[]): unknown {
  let cur = data;
  for (const s of at) cur = cur !== null && typeof cur === "object" ? (cur as Record<string | number, unknown>)[s] : undefined;
  return cur;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function opt(hint: string | undefined): { hint?: string } {
  return hint === undefined ? {} : { hint };
}

function dedupe(errors: SpecError[]): SpecError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.path}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Formats errors one per line: `path: message (hint)`. */
export function formatErrors(errors: readonly SpecError[]): string {
  return errors.map((e) => `${e.path || "."}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`).join("\n");
}
