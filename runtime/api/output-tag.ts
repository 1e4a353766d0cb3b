/** Side outputs: a typed name a function emits to and a stream is selected by. */

/** Identifies a side output; the type parameter is the side output's record type. */
export class OutputTag<T> {
  /** Unique name of the side output within the job. */
  readonly id: string;
  /** Phantom field carrying the record type. */
  declare readonly __type?: T;
  constructor(id: string) {
    this.id = id;
  }
}

/** Creates an output tag for records of type T. */
export function outputTag<T>(id: string): OutputTag<T> {
  return new OutputTag<T>(id);
}
