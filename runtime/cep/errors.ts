/** Errors of the CEP library. */

/** A pattern that cannot be compiled (Flink's MalformedPatternException). */
export class PatternDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternDefinitionError";
  }
}
