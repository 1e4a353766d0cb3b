/**
 * Record codecs side by side: a repartitioned record written and read back with V8's structured
 * serialisation (what repartition topics used), with JSON (for scale: it cannot carry Maps, Sets,
 * undefined, NaN, bigints or Dates, so it is not a safe choice for arbitrary records), and with
 * the compact form Runnel uses (runtime/state/compact.ts via encodeRecord/decodeRecord). Each
 * codec's round trip is checked to give the record back before it is timed.
 */
import { isDeepStrictEqual } from "node:util";
import { deserialize, serialize } from "node:v8";
import { decodeRecord, encodeRecord } from "../runtime/exec/record-codec.ts";
import { fmtSpread, spreadOf, type Spread } from "./spread.ts";

/** Records of the shapes jobs repartition: the Kafka benchmark's click, a Nexmark bid, a nested order. */
const RECORDS: Record<string, unknown> = {
  "click {user, ts, n}": { user: "u42", ts: 1_767_225_600_123, n: 417 },
  "Nexmark bid (5 fields)": { auction: 1_000_123, bidder: 23_456, price: 1_234_567, channel: "channel-3", dateTime: 1_767_225_600_123 },
  "nested order (arrays, objects)": {
    user: { id: "u-1", tags: ["a", "b"] },
    items: [
      { sku: 1, qty: 2 },
      { sku: 2, qty: 0 },
    ],
    total: 12.5,
  },
};

/** A codec: bytes out, record back. */
interface Codec {
  name: string;
  encode(v: unknown): Buffer;
  decode(b: Buffer): unknown;
}

const CODECS: Codec[] = [
  { name: "V8 structured serialisation", encode: (v) => serialize({ v }), decode: (b) => (deserialize(b) as { v: unknown }).v },
  { name: "JSON (not safe for every record)", encode: (v) => Buffer.from(JSON.stringify(v)), decode: (b) => JSON.parse(b.toString()) as unknown },
  { name: "compact (Runnel)", encode: encodeRecord, decode: decodeRecord },
];

/** One row: a record shape, per codec the round trip's nanoseconds (median and spread of runs) and its size. */
export interface CodecRow {
  record: string;
  results: { codec: string; ns: Spread; bytes: number }[];
}

/** Times every codec's round trip of every record shape, `runs` times `rounds` round trips each. */
export function codecRuns(options: { runs: number; rounds?: number }): CodecRow[] {
  const rounds = options.rounds ?? 200_000;
  return Object.entries(RECORDS).map(([record, value]) => ({
    record,
    results: CODECS.map((c) => {
      const back = c.decode(c.encode(value));
      if (!isDeepStrictEqual(back, value)) throw new Error(`${c.name} does not round-trip ${record}: ${JSON.stringify(back)}`);
      for (let i = 0; i < 20_000; i++) c.decode(c.encode(value)); // warm-up
      const ns: number[] = [];
      for (let r = 0; r < options.runs; r++) {
        const t0 = performance.now();
        for (let i = 0; i < rounds; i++) c.decode(c.encode(value));
        ns.push(((performance.now() - t0) * 1e6) / rounds);
      }
      return { codec: c.name, ns: spreadOf(ns), bytes: c.encode(value).length };
    }),
  }));
}

/** The section's table: nanoseconds per round trip and bytes, per record shape and codec. */
export function codecTable(rows: CodecRow[]): string {
  const names = CODECS.map((c) => c.name);
  const head = `| record | ${names.map((n) => `${n}: ns per round trip (bytes)`).join(" | ")} |`;
  const sep = `|---|${names.map(() => "---:").join("|")}|`;
  const lines = rows.map((r) => `| ${r.record} | ${r.results.map((x) => `${fmtSpread(x.ns)} (${x.bytes})`).join(" | ")} |`);
  return [head, sep, ...lines].join("\n");
}
