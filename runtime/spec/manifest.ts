/**
 * Reads manifest YAML the way kubectl does. kubectl's YAML is 1.1, where an unquoted `n`, `y`,
 * `no`, `on` or `off` is a boolean; the `yaml` package defaults to 1.2, where they are strings.
 * Parsing as 1.1 makes `runnel validate` see what the apiserver will see.
 */
import { parseAllDocuments } from "yaml";
import { JobDefinitionError } from "../errors.ts";

/** Parses every non-empty document of a (multi-document) manifest, kubectl-style. */
export function parseManifests(text: string): unknown[] {
  const docs = parseAllDocuments(text, { version: "1.1" });
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new JobDefinitionError(`invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}
