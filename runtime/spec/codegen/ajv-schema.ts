/**
 * The schema as ajv sees it: named types become `$defs` (compiled once each), objects reject
 * unknown fields (typos are errors in `runnel validate`, as in `kubectl apply --validate=strict`),
 * and Kubernetes-only keywords turn into their JSON Schema equivalents.
 */
import type { Schema } from "../schema/builders.ts";
import { group, rootSchema, version, type ResourceDefinition } from "../schema/crds.ts";
import { InternalError } from "../../errors.ts";

type Json = Record<string, unknown>;

const plain = ["enum", "default", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "minProperties", "maxProperties"] as const;

/** Builds the ajv schema of one resource (a root with its own `$defs`). */
export function ajvSchema(def: ResourceDefinition): Json {
  const defs: Record<string, Json> = {};
  const seen = new Map<string, Schema>();

  function convert(s: Schema): Json {
    if (s.typeName && s.type === "object") {
      const prior = seen.get(s.typeName);
      if (prior === undefined) {
        seen.set(s.typeName, s);
        defs[s.typeName] = {}; // reserve the slot so recursion terminates and order is stable
        defs[s.typeName] = node(s);
      } else if (prior !== s && JSON.stringify(prior) !== JSON.stringify(s)) {
        throw new InternalError(`two different schemas are both named ${s.typeName}`);
      }
      return { $ref: `#/$defs/${s.typeName}` };
    }
    return node(s);
  }

  function node(s: Schema): Json {
    const out: Json = {};
    if (s["x-kubernetes-int-or-string"]) out.type = ["integer", "string"];
    else if (s.type) out.type = s.type;
    for (const key of plain) if (s[key] !== undefined) out[key] = s[key];
    if (s.type === "object" && !s["x-kubernetes-preserve-unknown-fields"]) {
      if (s.properties) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, p]) => [k, convert(p)]));
      if (s.required) out.required = s.required;
      out.additionalProperties = s.additionalProperties ? convert(s.additionalProperties) : false;
    }
    if (s.items) out.items = convert(s.items);
    return out;
  }

  const root = convert(rootSchema(def));
  const rootDef = defs[def.kind];
  if (!rootDef || !root.$ref) throw new InternalError(`root of ${def.kind} must be a named object`);
  // apiVersion and kind are fixed for validation (the CRD leaves them to the apiserver's routing).
  const props = rootDef.properties as Json;
  props.apiVersion = { type: "string", enum: [`${group}/${version}`] };
  props.kind = { type: "string", enum: [def.kind] };
  props.metadata = { type: "object", properties: { name: convert(def.name) }, required: ["name"] };
  rootDef.required = ["apiVersion", "kind", "metadata", "spec"];
  return { $id: def.kind, $ref: `#/$defs/${def.kind}`, $defs: defs };
}
