/**
 * What a spec change means. The spec is validated exactly as `runnel validate` does (schema
 * defaults, cross-field rules, the pipeline graph, CEL); a valid spec is split into what the
 * workers run (hashed: a different hash is an upgrade) and what only the operator reads
 * (parallelism: a rescale; state, nonces, policies: no restart at all). Changes are classified
 * against the spec the workers run now, never against the previous object.
 */
import { createHash } from "node:crypto";
import { checkDocument } from "../../runtime/spec/check.ts";
import type { Finding } from "../../runtime/spec/findings.ts";
import type { StreamJob, StreamJobSpec } from "../../runtime/spec/generated/types.ts";
import { parseStreamJob } from "../../runtime/spec/validate.ts";

/** The outcome of validating a StreamJob object. */
export type Validation = { valid: true; spec: StreamJobSpec } | { valid: false; errors: Finding[] };

/** Validates a StreamJob as `runnel validate` does; a valid one comes back with defaults applied. */
export async function validateJob(job: StreamJob): Promise<Validation> {
  const doc = { apiVersion: job.apiVersion, kind: "StreamJob", metadata: { name: job.metadata?.name }, spec: job.spec };
  const report = await checkDocument(doc);
  const errors = report.findings.filter((f) => f.severity === "error");
  if (errors.length > 0) return { valid: false, errors };
  return { valid: true, spec: parseStreamJob(doc).value.spec };
}

/** One line naming each invalid field and what is wrong, for a condition message. */
export function describeErrors(errors: readonly Finding[], max = 5): string {
  const shown = errors.slice(0, max).map((f) => `spec${f.path.replace(/^\.spec/, "")}: ${f.message}${f.hint ? ` (${f.hint})` : ""}`);
  return shown.join("; ") + (errors.length > max ? `; and ${errors.length - max} more` : "");
}

/** Fields only the operator reads: changing them never restarts the workers. */
const OPERATOR_ONLY: readonly (keyof StreamJobSpec)[] = [
  "parallelism",
  "state",
  "upgradeMode",
  "savepointTriggerNonce",
  "restartNonce",
  "restartPolicy",
  "rollback",
  "restoreFrom",
  "allowNonRestoredState",
];

/** Savepoint settings only the operator reads (the storage location is the workers'). */
const OPERATOR_ONLY_SAVEPOINT = ["interval", "historyMax", "historyMaxAge", "timeout"] as const;

/** The part of a spec the workers run: a change to it is an upgrade. */
export function workerSpec(spec: StreamJobSpec): StreamJobSpec {
  const out: Record<string, unknown> = { ...spec };
  for (const k of OPERATOR_ONLY) delete out[k];
  if (spec.savepoint) {
    const sp: Record<string, unknown> = { ...spec.savepoint };
    for (const k of OPERATOR_ONLY_SAVEPOINT) delete sp[k];
    out.savepoint = sp;
  }
  return out;
}

/**
 * The value without undefined fields and empty objects. Server-side apply stores an empty map as
 * null (which the schema then rejects), so statuses are written compacted, and hashes treat an
 * empty object as absent to match.
 */
export function compactJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => compactJson(v)) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const c = compactJson(v);
      if (c === undefined || (c !== null && typeof c === "object" && !Array.isArray(c) && Object.keys(c).length === 0)) continue;
      out[k] = c;
    }
    return out as T;
  }
  return value;
}

/**
 * A StreamJob status ready to apply: compacted (compactJson), except the copies of specs it keeps
 * (currentSpec, lastStableSpec.spec, pendingAction.targetSpec), which are stored as they are —
 * they are schemaless (preserved) fields, so the apiserver keeps their empty objects, and an
 * empty object there can be meaningful (`union: {}` selects the operator): dropping it would
 * hand the workers an invalid spec on the next upgrade or restart.
 */
export function statusForApply<T extends object>(status: T): T {
  const s = status as Record<string, unknown> & {
    currentSpec?: unknown;
    lastStableSpec?: { spec?: unknown };
    pendingAction?: { targetSpec?: unknown };
  };
  const out = compactJson(s);
  if (s.currentSpec !== undefined) out.currentSpec = s.currentSpec;
  if (s.lastStableSpec?.spec !== undefined && out.lastStableSpec) out.lastStableSpec.spec = s.lastStableSpec.spec;
  if (s.pendingAction?.targetSpec !== undefined && out.pendingAction) out.pendingAction.targetSpec = s.pendingAction.targetSpec;
  return out as T;
}

/** JSON with object keys sorted and empty objects dropped, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return canonical(compactJson(value));
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A short stable hash of any JSON value. */
export function hashOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}

/** The hash of the part of a spec the workers run. */
export function specHash(spec: StreamJobSpec): string {
  return hashOf(workerSpec(spec));
}

/** What a change from the running spec to the desired one asks for. */
export type SpecChange = "none" | "scale" | "upgrade";

/** Classifies the desired spec against what runs (its worker-spec hash and worker count). */
export function classifyChange(running: { specHash: string; parallelism: number }, desired: StreamJobSpec): SpecChange {
  if (specHash(desired) !== running.specHash) return "upgrade";
  if ((desired.parallelism ?? 1) !== running.parallelism) return "scale";
  return "none";
}
