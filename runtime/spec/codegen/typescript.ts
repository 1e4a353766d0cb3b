/** Writes TypeScript interfaces for the resources, with the schema's descriptions as doc comments. */
import type { Schema } from "../schema/builders.ts";
import { rootSchema, type ResourceDefinition } from "../schema/crds.ts";
import { generatedHeader } from "./header.ts";
import { InternalError } from "../../errors.ts";

const prelude = `/** A CEL expression (compiled once by the pipeline compiler; never JavaScript). */
export type CelExpression = string;

/** A duration such as 500ms, 30s, 5m or 1h30m. */
export type Duration = string;

/** The parts of Kubernetes object metadata that Runnel reads. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  generation?: number;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}
`;

/** Collects named object types in first-seen order and renders them as interfaces. */
class Emitter {
  private readonly named = new Map<string, Schema>();
  private readonly order: string[] = [];

  /** The TypeScript type of a schema node, registering named objects on the way. */
  typeOf(s: Schema): string {
    if (s.tsType) return s.tsType;
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
    switch (s.type) {
      case "string":
        return "string";
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "array": {
        const inner = this.typeOf(s.items ?? {});
        return /[|&]/.test(inner) ? `(${inner})[]` : `${inner}[]`;
      }
      case "object":
        if (s.typeName) {
          this.register(s);
          return s.typeName;
        }
        if (s.additionalProperties) return `Record<string, ${this.typeOf(s.additionalProperties)}>`;
        if (s.properties)
          return `{ ${Object.entries(s.properties)
            .map(([k, p]) => `${k}${s.required?.includes(k) ? "" : "?"}: ${this.typeOf(p)}`)
            .join("; ")} }`;
        return "Record<string, unknown>";
      default:
        return "unknown";
    }
  }

  private register(s: Schema): void {
    const name = s.typeName ?? "";
    const prior = this.named.get(name);
    if (prior) {
      if (prior !== s && JSON.stringify(prior) !== JSON.stringify(s)) throw new InternalError(`two different schemas are both named ${name}`);
      return;
    }
    this.named.set(name, s);
    this.order.push(name);
    for (const p of Object.values(s.properties ?? {})) this.typeOf(p);
  }

  /** All registered interfaces, in first-seen order. */
  render(): string {
    return this.order.map((name) => this.renderInterface(this.named.get(name) ?? {})).join("\n");
  }

  private renderInterface(s: Schema): string {
    // An object with no fields (e.g. `union: {}`) admits only the empty object.
    if (Object.keys(s.properties ?? {}).length === 0)
      return `${[...doc(s.description ?? "", ""), `export type ${s.typeName ?? ""} = Record<string, never>;`].join("\n")}\n`;
    const lines = [...doc(s.description ?? "", ""), `export interface ${s.typeName ?? ""} {`];
    for (const [key, prop] of Object.entries(s.properties ?? {})) {
      lines.push(...doc(propertyDoc(prop), "  "));
      lines.push(`  ${key}${s.required?.includes(key) ? "" : "?"}: ${this.typeOf(prop)};`);
    }
    lines.push("}");
    return `${lines.join("\n")}\n`;
  }
}

/** A property's doc: its description plus its default. */
function propertyDoc(p: Schema): string {
  const def = p.default === undefined ? "" : ` Default: ${JSON.stringify(p.default)}.`;
  return `${p.description ?? ""}${def}`;
}

/** A JSDoc block (descriptions never contain `*\/`, but escape it anyway). */
function doc(text: string, indent: string): string[] {
  if (!text) return [];
  return [`${indent}/** ${text.replaceAll("*/", "*\\/")} */`];
}

/** The generated types module for all resources. */
export function typesSource(defs: readonly ResourceDefinition[]): string {
  const emitter = new Emitter();
  for (const def of defs) emitter.typeOf(rootSchema(def));
  return `${generatedHeader("//")}\n${prelude}\n${emitter.render()}`;
}
