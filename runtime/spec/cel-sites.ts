/** Finds every CEL expression in a manifest through the schema's `x-runnel-cel` markers. */
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
  visit(root, job, [], out);
  return out;
}

function visit(s: Schema | undefined, v: unknown, at: Segment[], out: CelSite[]): void {
  if (!s) return;
  const marker = s["x-runnel-cel"];
  if (marker && typeof v === "string") {
    out.push({ path: formatPath(at), expression: v, returns: marker.returns, vars: marker.vars });
    return;
  }
  if (Array.isArray(v)) v.forEach((item, i) => visit(s.items, item, [...at, i], out));
  else if (v !== null && typeof v === "object") {
    for (const [k, child] of Object.entries(v)) visit(s.properties?.[k] ?? s.additionalProperties, child, [...at, k], out);
  }
}
