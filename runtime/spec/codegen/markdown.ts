/** Writes docs/crd-reference.md: one table per named type, from the schema's descriptions. */
import type { Schema } from "../schema/builders.ts";
import { group, version, type ResourceDefinition } from "../schema/crds.ts";
import { generatedHeader } from "./header.ts";

const anchor = (name: string): string => name.toLowerCase();
const cell = (text: string): string => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/** The type column: named types link to their section. */
function typeCell(s: Schema): string {
  if (s.type === "object" && s.typeName) return `[${s.typeName}](#${anchor(s.typeName)})`;
  if (s.type === "array") return `${typeCell(s.items ?? {})}[]`;
  if (s.type === "object" && s.additionalProperties) return `map[string]${typeCell(s.additionalProperties)}`;
  if (s["x-runnel-cel"]) return "CEL";
  if (s.tsType === "Duration") return "duration";
  if (s["x-kubernetes-int-or-string"]) return "int-or-string";
  if (s["x-kubernetes-preserve-unknown-fields"]) return s.type ?? "any";
  return s.type ?? "any";
}

/** Constraints worth a reader's eye, appended to the description. */
function constraints(s: Schema): string {
  const parts: string[] = [];
  if (s.default !== undefined) parts.push(`Default: \`${JSON.stringify(s.default)}\`.`);
  if (s.minimum !== undefined) parts.push(`Min: ${s.minimum}.`);
  if (s.maximum !== undefined) parts.push(`Max: ${s.maximum}.`);
  if (s.minItems !== undefined) parts.push(`At least ${s.minItems} item(s).`);
  if (s["x-kubernetes-list-map-keys"]) parts.push(`Keyed by ${s["x-kubernetes-list-map-keys"].join(", ")}.`);
  if (s.pattern && !s.tsType) parts.push(`Pattern: \`${s.pattern}\`.`);
  return parts.join(" ");
}

/** Renders every named type reachable from the resources, breadth first. */
export function referenceSource(defs: readonly ResourceDefinition[]): string {
  const out: string[] = [
    generatedHeader("<!--"),
    "",
    "# CRD reference",
    "",
    `Group \`${group}\`, version \`${version}\`. Every expression field (type CEL) is a CEL string; durations are like \`30s\`, \`5m\`, \`1h30m\`.`,
    "",
  ];
  const done = new Set<string>();
  for (const def of defs) {
    out.push(
      `## ${def.kind}`,
      "",
      def.description,
      "",
      `Short names: ${def.shortNames.map((n) => `\`${n}\``).join(", ")}; categories: ${def.categories.join(", ")}.`,
      "",
    );
    out.push("| Column | JSON path | Description |", "|---|---|---|");
    for (const c of def.printerColumns) out.push(`| ${c.name} | \`${cell(c.jsonPath)}\` | ${cell(c.description)}${c.priority ? " (wide)" : ""} |`);
    if (def.scale)
      out.push(
        "",
        `Scale subresource: \`${def.scale.specReplicasPath}\` (spec), \`${def.scale.statusReplicasPath}\` (status), selector \`${def.scale.labelSelectorPath}\`.`,
      );
    out.push("");
    const queue: Schema[] = [def.spec, def.status];
    while (queue.length > 0) {
      const s = queue.shift() ?? {};
      const name = s.typeName ?? "";
      if (done.has(name)) continue;
      done.add(name);
      out.push(`### ${name}`, "", s.description ?? "", "", "| Field | Type | Required | Description |", "|---|---|---|---|");
      for (const [key, p] of Object.entries(s.properties ?? {})) {
        out.push(`| \`${key}\` | ${typeCell(p)} | ${s.required?.includes(key) ? "yes" : ""} | ${cell(`${p.description ?? ""} ${constraints(p)}`.trim())} |`);
        for (const child of [p, p.items, p.additionalProperties])
          if (child?.type === "object" && child.typeName && !done.has(child.typeName)) queue.push(child);
      }
      if (s.rules?.length) {
        out.push("", "Rules (checked by the apiserver as CEL and by `runnel validate`):", "");
        for (const r of s.rules) out.push(`- ${r.message}${r.fieldPath ? ` (at \`${r.fieldPath}\`)` : ""}: \`${r.rule}\``);
      }
      out.push("");
    }
  }
  return `${out.join("\n").trimEnd()}\n`;
}
