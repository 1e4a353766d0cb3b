/**
 * Checks every CEL expression of a StreamJob: it parses, type-checks with its site's variables,
 * and returns the type the site needs. A problem found with declared types is an error; one found
 * only with record shapes inferred along the pipeline is a warning (the inference may be
 * incomplete). Declared source field types are checked too.
 */
import { check, excerpt, type CelDiagnostic } from "../cel/compile.ts";
import { declarableTypes, parseDeclaredType, type Scope } from "../cel/types.ts";
import { celSites, type CelSite } from "./cel-sites.ts";
import { inferTypes, siteScope, type PipelineTypes } from "./cel-scopes.ts";
import type { Finding, Severity } from "./findings.ts";
import type { StreamJob } from "./generated/types.ts";
import { closest } from "./paths.ts";
import { buildGraph } from "./pipeline-graph.ts";

/** Checks the declared field types and every expression of a schema-valid StreamJob. */
export function checkExpressions(job: StreamJob): Finding[] {
  const pipeline = job.spec.pipeline;
  if (!pipeline) return [];
  const out = checkDeclaredFields(job);
  const types = inferTypes(buildGraph(pipeline));
  for (const site of celSites(job)) out.push(...checkSite(types, site));
  return out;
}

/** The findings of one expression site. */
function checkSite(types: PipelineTypes, site: CelSite): Finding[] {
  const declared = siteScope(types, site, "declared");
  const first = check(site.expression, declared);
  if (!first.ok) return first.errors.map((d) => withFields(toFinding(site, d, "error"), declared, "declared by the source"));
  const inferred = siteScope(types, site, "inferred");
  if (JSON.stringify(inferred) === JSON.stringify(declared)) return [];
  const second = check(site.expression, inferred);
  if (second.ok) return [];
  // Only the inferred shapes reject it: likely a mistake, but the inference may not know everything.
  return second.errors.map((d) => withFields(toFinding(site, d, "warning"), inferred, "inferred from the steps before"));
}

/** Adds the record's known fields to the hint of a finding about a field. */
function withFields(f: Finding, scope: Scope, origin: string): Finding {
  const fields = recordFields(scope);
  const [text = "", caret = ""] = f.excerpt ?? [];
  // Only for a field of `record` (not of rule, row, state or match).
  if (!fields || !f.message.startsWith("no field") || !/record\.\s*$/.test(text.slice(0, caret.indexOf("^")))) return f;
  const note = `records here have the fields ${fields} (${origin})`;
  return { ...f, hint: f.hint ? `${f.hint}; ${note}` : note };
}

/** The record fields of a scope, for hints. */
function recordFields(scope: Scope): string | undefined {
  if (scope.vars.record !== "Record") return undefined;
  const rec = scope.types?.find((t) => t.name === "Record");
  return rec ? Object.keys(rec.fields).join(", ") : undefined;
}

/** A CEL diagnostic as a finding at the expression's path, with the position and a caret excerpt. */
function toFinding(site: CelSite, d: CelDiagnostic, severity: Severity): Finding {
  const where = site.expression.includes("\n") ? `line ${d.line}, column ${d.column}` : `column ${d.column}`;
  return {
    path: site.path,
    message: `${d.message} (${where})`,
    ...(d.hint ? { hint: d.hint } : {}),
    severity,
    excerpt: excerpt(d),
  };
}

/** Each `fields` entry of a source names a CEL type Runnel understands. */
function checkDeclaredFields(job: StreamJob): Finding[] {
  const out: Finding[] = [];
  job.spec.pipeline?.sources.forEach((s, i) => {
    for (const [name, type] of Object.entries(s.fields ?? {})) {
      if (parseDeclaredType(type) !== undefined) continue;
      const guess = closest(type, declarableTypes);
      out.push({
        path: `.spec.pipeline.sources[${i}].fields.${name}`,
        message: `unknown CEL type ${JSON.stringify(type)}`,
        hint: guess ? `did you mean ${guess}?` : `one of: ${declarableTypes.join(", ")}`,
        severity: "error",
      });
    }
  });
  return out;
}
