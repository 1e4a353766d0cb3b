/** Finds every CEL expression in a manifest through the schema's `x-runnel-cel` markers (and walks a manifest beside its schema). */
import type { CelType, Schema } from "./schema/builders.ts";
import { rootSchema, streamJob } from "./schema/crds.ts";
import { formatPath, type Segment } from "./paths.ts";

/** One CEL expression of a manifest and what it must be. */
export interface CelSite {
  /** kubectl-style path of the expression. */
  path: string;
  expression: string;
  returns: CelType;
  /** Variables in scope. */
  vars: readonly string[];
}

const root = rootSchema(streamJob);

/** Every CEL expression in a StreamJob object, in document order (for the CEL type checker). */
export function celSites(job: unknown): CelSite[] {
  const out: CelSite[] = [];
  visitSchema(job, (s, v, path) => {
    const marker = s["x-runnel-cel"];
    if (!marker || typeof v !== "string") return false;
    out.push({ path, expression: v, returns: marker.returns, vars: marker.vars });
    return true;
  });
  return out;
}

/**
 * Walks a StreamJob object beside its schema, calling `site` for every value with the schema that
 * describes it and its kubectl-style path; `site` returns true when it took the value (its
 * children are not visited).
 */
export function visitSchema(job: unknown, site: (s: Schema, v: unknown, path: string) => boolean): void {
  visit(root, job, [], site);
}

function visit(s: Schema | undefined, v: unknown, at: Segment[], site: (s: Schema, v: unknown, path: string) => boolean): void {
  if (!s) return;
  if (site(s, v, formatPath(at))) return;
  if (Array.isArray(v)) v.forEach((item, i) => visit(s.items, item, [...at, i], site));
  else if (v !== null && typeof v === "object") {
    for (const [k, child] of Object.entries(v)) visit(s.properties?.[k] ?? s.additionalProperties, child, [...at, k], site);
  }
}
