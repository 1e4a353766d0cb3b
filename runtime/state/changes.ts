/** A set of state changes in store form, as checkpoints, changelogs and state rewrites pass them. */

/** State changes since the last checkpoint, in store form: what a changelog records. */
export interface StateChanges {
  /** Keys set, with their encoded values. */
  puts: [string, Uint8Array][];
  /** Keys removed. */
  dels: string[];
}

/** Applies `convert` to entries: the changes it makes (unchanged values are left out). */
export function convertEntries(entries: [string, Uint8Array][], convert: (key: string, value: Uint8Array) => Uint8Array | null): StateChanges {
  const puts: [string, Uint8Array][] = [];
  const dels: string[] = [];
  for (const [k, v] of entries) {
    const next = convert(k, v);
    if (next === null) dels.push(k);
    else if (next !== v) puts.push([k, next]);
  }
  return { puts, dels };
}
