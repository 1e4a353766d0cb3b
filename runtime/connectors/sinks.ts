/** Terminal sinks for local mode: stdout (ndjson lines) and blackhole (benchmarks). */
import type { Sink } from "./types.ts";

/** Writes each record as one JSON line to stdout, once per round. */
export function stdoutSink<T>(options: { format?: (value: T) => string } = {}): Sink<T> {
  const format = options.format ?? ((v: T) => JSON.stringify(v));
  return {
    name: "stdout",
    async open() {
      let lines: string[] = [];
      return {
        write: (value: T) => {
          lines.push(format(value));
        },
        async flush() {
          if (lines.length === 0) return;
          const text = `${lines.join("\n")}\n`;
          lines = [];
          await new Promise<void>((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
        },
        close: async () => {},
      };
    },
  };
}

/** Discards records but counts them (and keeps the last, so the JIT cannot elide work). */
export interface BlackholeSink<T> extends Sink<T> {
  /** Records received. */
  count: number;
  /** The last record received. */
  last: T | undefined;
}

/** Creates a blackhole sink. */
export function blackholeSink<T>(): BlackholeSink<T> {
  const sink: BlackholeSink<T> = {
    name: "blackhole",
    count: 0,
    last: undefined,
    async open() {
      return {
        write: (value: T) => {
          sink.count++;
          sink.last = value;
        },
        flush: async () => {},
        close: async () => {},
      };
    },
  };
  return sink;
}
