/**
 * The live progress line of `runnel run`. On a terminal it is redrawn in place on stderr; any
 * other output of the process (results a stdout sink prints, warnings) first clears it and then
 * has it redrawn below, so a result never lands on the progress line's row. Off a terminal each
 * update is a line of its own.
 */

/** A progress line that owns its terminal row. */
export interface ProgressDisplay {
  /** Shows `text` as the current progress. */
  update(text: string): void;
  /** Leaves the last progress on its own line and stops watching the other output. */
  close(): void;
}

/** A stream's write method as we call it: with the stream as `this`. */
type Write = (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) => boolean;

const CLEAR = "\r\u001b[2K";

/** A progress display on `err` (stderr), watching `out` (stdout) when it is the same kind of terminal. */
export function progressDisplay(options: { err?: NodeJS.WriteStream; out?: NodeJS.WriteStream } = {}): ProgressDisplay {
  const err = options.err ?? process.stderr;
  const out = options.out ?? process.stdout;
  if (!err.isTTY) return { update: (text) => void err.write(`${text}\n`), close: () => {} };
  // The write methods are kept as found (maybe already wrapped by someone else) and put back on close.
  const errWrite = Reflect.get(err, "write") as Write;
  const raw = (text: string): boolean => errWrite.call(err, text);
  /** The progress text on screen (undefined: none drawn yet). */
  let shown: string | undefined;
  /** The last other output ended mid-line: the next draw starts a new line instead of erasing it. */
  let partial = false;
  const watched = [err, ...(out.isTTY && out !== err ? [out] : [])];
  const originals = new Map<NodeJS.WriteStream, Write>();
  for (const stream of watched) {
    const original = Reflect.get(stream, "write") as Write;
    originals.set(stream, original);
    const watching: Write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      if (shown !== undefined && !partial) raw(CLEAR);
      const result = original.call(this, chunk, ...rest);
      const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : "";
      if (text.length > 0) partial = !text.endsWith("\n");
      if (shown !== undefined && !partial) raw(shown);
      return result;
    };
    Reflect.set(stream, "write", watching);
  }
  return {
    update(text) {
      raw(partial ? `\n${text}` : `${CLEAR}${text}`);
      partial = false;
      shown = text;
    },
    close() {
      for (const [stream, original] of originals) Reflect.set(stream, "write", original);
      originals.clear();
      if (shown !== undefined && !partial) raw("\n");
      shown = undefined;
    },
  };
}
