/**
 * The `local.generator` of a source: records built field by field from a manifest's field
 * generators. Record i of partition p is a pure function of (seed, p, i), so a restored run
 * replays exactly, and the same seed gives the same records on every machine.
 */
import { hashRandom } from "../connectors/generator.ts";
import type { ReadResult, Source, SourceReader } from "../connectors/types.ts";
import type { FieldGenerator, GeneratorSource } from "../spec/generated/types.ts";
import { parseDuration } from "../spec/duration.ts";
import { systemClock } from "../time/clock.ts";

/** The event time of a generated record, for sources that declare no `timestamp`. */
export const GENERATED_TS: unique symbol = Symbol("runnel.generatedTs");

type FieldFn = (seq: number, ts: number) => unknown;

function pick(spec: FieldGenerator, u: number): unknown {
  const values = spec.values ?? [];
  const weights = spec.weights;
  if (!weights) return values[Math.min(values.length - 1, Math.floor(u * values.length))];
  const total = weights.reduce((a, b) => a + b, 0);
  let x = u * total;
  for (let i = 0; i < values.length; i++) {
    x -= weights[i] ?? 0;
    if (x < 0) return values[i];
  }
  return values[values.length - 1];
}

function uuid(seed: number, seq: number, salt: number): string {
  const hex = (n: number): string =>
    Math.floor(hashRandom(seed, seq, salt * 16 + n) * 0x10000)
      .toString(16)
      .padStart(4, "0");
  return `${hex(0)}${hex(1)}-${hex(2)}-4${hex(3).slice(1)}-a${hex(4).slice(1)}-${hex(5)}${hex(6)}${hex(7)}`;
}

/** One field's value function. */
function fieldFn(spec: FieldGenerator, seed: number, salt: number): FieldFn {
  const u = (seq: number): number => hashRandom(seed, seq, salt);
  switch (spec.kind) {
    case "key": {
      const card = spec.cardinality ?? 1000;
      const exponent = 1 + (spec.skew ?? 0);
      const prefix = spec.prefix ?? "";
      return (seq) => `${prefix}${Math.min(card - 1, Math.floor(card * Math.pow(u(seq), exponent)))}`;
    }
    case "choice":
      return (seq) => pick(spec, u(seq));
    case "int": {
      const min = Math.ceil(spec.min ?? 0);
      const max = Math.floor(spec.max ?? 100);
      return (seq) => min + Math.floor(u(seq) * (max - min + 1));
    }
    case "double": {
      const min = spec.min ?? 0;
      const max = spec.max ?? 1;
      // Rounded to 3 decimals: readable output, and the same value survives a JSON round trip.
      return (seq) => Math.round((min + u(seq) * (max - min)) * 1000) / 1000;
    }
    case "bool": {
      const p = spec.probability ?? 0.5;
      return (seq) => u(seq) < p;
    }
    case "uuid":
      return (seq) => uuid(seed, seq, salt);
    case "sequence":
      return (seq) => seq;
    case "eventTime":
      return (_seq, ts) => ts;
    case "constant":
      return () => spec.value;
  }
}

/** Options of a manifest generator beyond its spec. */
export interface GeneratorRunOptions {
  /** Event time of record 0. */
  startTime: number;
  /** Pace reads at `rate` records per second of wall-clock time. */
  throttle: boolean;
  /** Caps the record count. */
  maxRecords?: number;
}

/** A Source of the records a manifest's generator describes. */
export function manifestGenerator(spec: GeneratorSource, options: GeneratorRunOptions): Source<Record<string, unknown>> {
  const partitions = spec.partitions ?? 4;
  const seed = spec.seed ?? 1;
  const rate = spec.rate ?? 1000;
  // rate 0 means "as fast as possible"; event time still needs a spacing: 1000 records per second.
  const msPerRecord = 1000 / (rate > 0 ? rate : 1000);
  const ooo = parseDuration(spec.outOfOrderness ?? "0s");
  const cap = options.maxRecords;
  const total = spec.count === undefined ? (cap ?? Infinity) : Math.min(spec.count, cap ?? Infinity);
  const fields = Object.entries(spec.fields).map(([name, f], i) => [name, fieldFn(f, seed, 10 + i)] as const);
  const make = (seq: number): Record<string, unknown> => {
    const delay = ooo > 0 ? Math.floor(hashRandom(seed, seq, 2) * (ooo + 1)) : 0;
    const ts = options.startTime + Math.floor(seq * msPerRecord) - delay;
    const r: Record<string, unknown> = {};
    for (const [name, fn] of fields) r[name] = fn(seq, ts);
    Object.defineProperty(r, GENERATED_TS, { value: ts, enumerable: false });
    return r;
  };
  return {
    name: "generator",
    partitions,
    async open(partition, position): Promise<SourceReader<Record<string, unknown>>> {
      // Partition p holds the records seq ≡ p (mod partitions) below the total.
      const limit = total === Infinity ? Infinity : Math.max(0, Math.ceil((total - partition) / partitions));
      let next = typeof position === "number" ? position : 0;
      const openedAt = systemClock.now();
      const startIndex = next;
      return {
        async read(max): Promise<ReadResult<Record<string, unknown>>> {
          let end = Math.min(limit, next + max);
          if (options.throttle && rate > 0) end = Math.min(end, startIndex + Math.floor(((systemClock.now() - openedAt) * rate) / 1000 / partitions));
          const records: Record<string, unknown>[] = [];
          for (let i = next; i < end; i++) records.push(make(i * partitions + partition));
          next = Math.max(next, end);
          return { records, done: next >= limit };
        },
        position: () => next,
        close: async () => {},
      };
    },
  };
}

/** Every record of a bounded generator, in sequence order (tables loaded at compile time). */
export function generateAll(spec: GeneratorSource, startTime: number): Record<string, unknown>[] {
  const seed = spec.seed ?? 1;
  const fields = Object.entries(spec.fields).map(([name, f], i) => [name, fieldFn(f, seed, 10 + i)] as const);
  const rate = spec.rate ?? 1000;
  const msPerRecord = 1000 / (rate > 0 ? rate : 1000);
  const out: Record<string, unknown>[] = [];
  for (let seq = 0; seq < (spec.count ?? 0); seq++) {
    const r: Record<string, unknown> = {};
    for (const [name, fn] of fields) r[name] = fn(seq, startTime + Math.floor(seq * msPerRecord));
    out.push(r);
  }
  return out;
}
