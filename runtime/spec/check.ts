/**
 * Everything `runnel validate` checks in one manifest document, in order: schema and cross-field
 * rules (as the apiserver will), then duration bounds, the pipeline graph, the CEL expressions or
 * the SQL script, and (given the manifest's folder) the local files its sources read. The later
 * stages read a structurally valid spec, so they run once the schema errors are fixed.
 */
import { checkExpressions } from "./cel-checks.ts";
import { checkDurations } from "./duration-checks.ts";
import { fromSpecErrors, type Finding } from "./findings.ts";
import { checkGraph } from "./graph-checks.ts";
import { checkLocalFiles } from "./local-checks.ts";
import { checkTransactionTimeout } from "./transaction-timeout.ts";
import { parseStreamJob, validateStreamSavepoint } from "./validate.ts";

/** The outcome for one document of a manifest file. */
export interface DocumentReport {
  /** `StreamJob`, `StreamSavepoint`, or the kind of a skipped document. */
  kind: string;
  name?: string;
  /** False for documents that are not Runnel resources (they are skipped). */
  checked: boolean;
  findings: Finding[];
  /** Why a document was skipped, or which checks did not run yet. */
  note?: string;
}

const runnelGroup = /^runnel\.dev\//;

/**
 * Checks one parsed YAML document; with `baseDir` (the manifest's folder) also the local files its
 * sources read. Asynchronous because a `spec.sql` script is checked by the SQL compiler, which is
 * loaded only then: its parser costs every process that loads it ~35 MiB and ~150 ms (ADR 38).
 */
export async function checkDocument(doc: unknown, options: { baseDir?: string } = {}): Promise<DocumentReport> {
  const obj = doc !== null && typeof doc === "object" && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  const kind = typeof obj?.kind === "string" ? obj.kind : undefined;
  const apiVersion = typeof obj?.apiVersion === "string" ? obj.apiVersion : "";
  const meta = obj?.metadata as Record<string, unknown> | undefined;
  const name = typeof meta?.name === "string" ? meta.name : undefined;
  const base = { kind: kind ?? "unknown", ...(name !== undefined ? { name } : {}) };
  const ours = kind === "StreamJob" || kind === "StreamSavepoint";
  if (!ours || (apiVersion !== "" && !runnelGroup.test(apiVersion))) {
    return {
      ...base,
      checked: false,
      findings: [],
      note: kind ? `${apiVersion ? `${apiVersion} ` : ""}${kind} is not a Runnel resource; skipped` : "a document without kind; skipped",
    };
  }
  if (kind === "StreamSavepoint") return { ...base, checked: true, findings: fromSpecErrors(validateStreamSavepoint(doc)) };
  const { value, errors } = parseStreamJob(doc);
  if (errors.length > 0) {
    return { ...base, checked: true, findings: fromSpecErrors(errors), note: "graph and expression checks run once the schema errors are fixed" };
  }
  const local = options.baseDir === undefined ? [] : checkLocalFiles(value.spec, options.baseDir);
  return {
    ...base,
    checked: true,
    findings: dedupe([
      ...checkDurations(value),
      ...checkGraph(value.spec),
      ...checkTransactionTimeout(value.spec),
      ...checkExpressions(value),
      ...(value.spec.sql === undefined ? [] : (await import("../sql/check.ts")).checkSql(value)),
      ...local,
    ]),
  };
}

/** Drops a finding repeated at the same path with the same message. */
function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const k = `${f.path}\u0000${f.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
