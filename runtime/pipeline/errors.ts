/** Errors of the pipeline compiler: what in the manifest is wrong, at which field path, and a hint. */
import { JobDefinitionError } from "../errors.ts";

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
