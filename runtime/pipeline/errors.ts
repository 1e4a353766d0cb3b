/** Errors of the pipeline compiler: what in the manifest is wrong, at which field path, and a hint. */
import { JobDefinitionError } from "../errors.ts";
import { formatFindings, type Finding } from "../spec/findings.ts";

/** A manifest that cannot be compiled (or run in the requested mode), with the offending field path. */
export class PipelineError extends JobDefinitionError {
  /** kubectl-style path, e.g. `.spec.pipeline.sources[2].local`. */
  readonly path: string;
  /** What to do about it. */
  readonly hint: string | undefined;
  constructor(path: string, message: string, hint?: string) {
    super(`${path}: ${message}${hint ? ` (hint: ${hint})` : ""}`);
    this.path = path;
    this.hint = hint;
  }
}

/** A manifest that does not pass validation; `findings` are what `runnel validate` prints. */
export class ManifestInvalidError extends JobDefinitionError {
  /** The errors (and warnings) found. */
  readonly findings: Finding[];
  /** The manifest as named. */
  readonly file: string;
  constructor(file: string, findings: Finding[]) {
    super(`${file} is not a valid StreamJob:\n${formatFindings(findings)}`);
    this.findings = findings;
    this.file = file;
  }
}
