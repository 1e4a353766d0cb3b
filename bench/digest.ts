/**
 * Comparing two implementations' results by content, not by count: a sink that folds every record
 * into an order-independent digest (two 32-bit hashes of each record's canonical form, summed,
 * plus the count). Canonical form: the record's values in field order — field names differ
 * between SQL and pipelines (window_end, end) — with Dates, timestamps written as ISO strings and
 * bigints as numbers of milliseconds or plain numbers. Used untimed, after the timed runs.
 */
import type { BlackholeSink } from "../runtime/connectors/sinks.ts";

/** A blackhole that also digests what it receives. */
export interface DigestSink<T> extends BlackholeSink<T> {
  /** `<count>:<sum of hash a>:<sum of hash b>`: equal for equal multisets of records (up to hash collisions). */
  digest(): string;
}

const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?$/;

/** One value in the canonical form both sides agree on. */
function canonicalValue(v: unknown): unknown {
  if (v instanceof Date) return v.getTime();
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string" && ISO.test(v)) return Date.parse(v.endsWith("Z") ? v.replace(" ", "T") : `${v.replace(" ", "T")}Z`);
  if (Array.isArray(v)) return v.map(canonicalValue);
  if (v !== null && typeof v === "object") return Object.values(v).map(canonicalValue);
  return v;
}

/** Two independent 32-bit FNV-1a-style hashes of a string. */
function hashes(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  return [a >>> 0, b >>> 0];
}

/** Creates a digesting sink. */
export function digestSink<T>(): DigestSink<T> {
  let a = 0;
  let b = 0;
  const sink: DigestSink<T> = {
    name: "digest",
    count: 0,
    last: undefined,
    async open() {
      return {
        write: (value: T) => {
          sink.count++;
          sink.last = value;
          const [x, y] = hashes(JSON.stringify(canonicalValue(value)));
          a = (a + x) % 4294967296;
          b = (b + y) % 4294967296;
        },
        flush: async () => {},
        close: async () => {},
      };
    },
    digest: () => `${sink.count}:${a}:${b}`,
  };
  return sink;
}
