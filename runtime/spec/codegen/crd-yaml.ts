/** Writes the CustomResourceDefinitions: structural OpenAPI v3 with descriptions and CEL rules. */
import { stringify } from "yaml";
import type { Schema } from "../schema/builders.ts";
import { group, rootSchema, version, type ResourceDefinition } from "../schema/crds.ts";
import { generatedHeader } from "./header.ts";

/** OpenAPI keywords the apiserver accepts in a CRD schema, in the order they are written. */
const kept = [
  "type",
  "description",
  "format",
  "enum",
  "default",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
] as const;

/** Converts a source schema node to an apiserver schema node (source-only keys dropped, rules as CEL). */
export function toOpenApi(s: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of kept) {
    const v = s[key];
    if (v === undefined) continue;
    if (key === "properties") {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([k, p]) => [k, toOpenApi(p)]));
    } else if (key === "items" || key === "additionalProperties") {
      out[key] = toOpenApi(v as Schema);
    } else {
      out[key] = v;
    }
  }
  if (s.rules?.length) {
    out["x-kubernetes-validations"] = s.rules.map((r) => ({
      rule: r.rule,
      message: r.message,
      ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    }));
  }
  return out;
}

/** The root schema; the apiserver owns `metadata` and accepts only its type and name constraints. */
function openApiRoot(def: ResourceDefinition): Record<string, unknown> {
  const root = toOpenApi(rootSchema(def));
  (root.properties as Record<string, unknown>).metadata = { type: "object", properties: { name: toOpenApi(def.name) } };
  return root;
}

/** The CRD object for one resource. */
export function crdObject(def: ResourceDefinition): Record<string, unknown> {
  const subresources: Record<string, unknown> = { status: {} };
  if (def.scale) subresources.scale = def.scale;
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${def.plural}.${group}`, labels: { "app.kubernetes.io/part-of": "runnel" } },
    spec: {
      group,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: def.categories,
      },
      scope: "Namespaced",
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiRoot(def) },
          subresources,
          additionalPrinterColumns: def.printerColumns,
        },
      ],
    },
  };
}

/**
 * The CRD as a template of the operator chart (charts/runnel-operator/templates/crds/). Helm never
 * upgrades files in a chart's crds/ folder, so the chart carries the CRDs as templates: `helm
 * upgrade` applies a changed schema; `keep` stops `helm uninstall` from deleting them (and with
 * them every StreamJob); Argo CD applies them first and server-side (they exceed the size of the
 * annotation client-side apply writes). ADR 27.
 */
export function chartCrdTemplate(def: ResourceDefinition): string {
  const crd = crdObject(def);
  const metadata = crd.metadata as { annotations?: Record<string, string> };
  metadata.annotations = {
    "helm.sh/resource-policy": "keep",
    "argocd.argoproj.io/sync-wave": "-1",
    "argocd.argoproj.io/sync-options": "ServerSideApply=true",
  };
  const body = stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false });
  return `${generatedHeader("#")}\n{{- if .Values.crds.install }}\n${body}{{- end }}\n`;
}

/** The CRD as YAML text, with the generated-file header. */
export function crdYaml(def: ResourceDefinition): string {
  return `${generatedHeader("#")}\n${stringify(crdObject(def), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
