/** Errors of the CEP library. */
import { JobDefinitionError } from "../errors.ts";

/** A pattern that cannot be compiled (Flink's MalformedPatternException). */
export class PatternDefinitionError extends JobDefinitionError {}
