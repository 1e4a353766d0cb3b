/**
 * Pre-aggregation before a window's keyBy (ADR 40): the records one task sends a window in a
 * round are folded per key and pane into one partial accumulator, and the window merges the
 * partial into its pane as it would add each record. Fewer records cross the keyBy (a thread,
 * a repartition topic) and the window does one state update per partial. Flink SQL calls this
 * local-global aggregation.
 *
 * The results are the same as without it because the planner (graph/pre-aggregate.ts) uses it
 * only where they are: event-time tumbling or sliding windows with the default trigger, no
 * allowed lateness (a late record re-fires a window once per record) and no late side output
 * (it needs the records), and an aggregate whose merge is exact (AggregateFunction.mergesExactly).
 * All records of a partial belong to one pane, so the window takes all of them or none; partials
 * are emitted (flush) before anything downstream reads the round's output, and a round's records
 * reach the window before the round's watermarks, so a partial is seen against the watermark its
 * records would be, and the window gets each key's records in the order it would without.
 */
import type { AggregateFunction, Key } from "../api/functions.ts";
import { InternalError } from "../errors.ts";
import type { KeySelector } from "../graph/graph.ts";
import type { Operator, Output } from "../exec/operator.ts";
import { windowStart } from "./assigners.ts";
import { gcd } from "./sliding-panes.ts";
import type { WindowAssigner } from "./types.ts";

/** Marks a partial (a registered symbol: it crosses threads and repartition topics with the record, record-codec.ts). */
const PARTIAL = Symbol.for("runnel.partial");

/** The accumulator of some records of one key and pane, and how many records it holds. */
export interface Partial {
  /** The key the records were partitioned by. */
  key: Key;
  /** Their accumulator. */
  acc: unknown;
  /** Number of records folded in. */
  n: number;
}

/** A partial as a record (the symbol marks it). */
function partial(key: Key, acc: unknown, n: number): Partial {
  const p: Partial = { key, acc, n };
  (p as unknown as Record<symbol, unknown>)[PARTIAL] = true;
  return p;
}

/** The partial `value` is, or undefined for an ordinary record. */
export function asPartial(value: unknown): Partial | undefined {
  return value !== null && typeof value === "object" && (value as Record<symbol, unknown>)[PARTIAL] === true ? (value as Partial) : undefined;
}

/** The keyBy's key selector for a stream that also carries partials (which hold their key). */
export function partialAwareKey(key: KeySelector): KeySelector {
  const k = key as (value: unknown) => Key;
  return (value: unknown) => asPartial(value)?.key ?? k(value);
}

/** The window's aggregate over a stream with partials: a partial is merged, a record added. */
export function partialAwareAggregate(agg: AggregateFunction<unknown, unknown, unknown>): AggregateFunction<unknown, unknown, unknown> {
  return {
    ...agg,
    add: (value, acc) => {
      const p = asPartial(value);
      return p === undefined ? agg.add(value, acc) : agg.merge(acc, p.acc);
    },
  };
}

/** Number of records a value stands for: a partial's count, else 1 (late-record counters). */
export function recordsIn(value: unknown): number {
  return asPartial(value)?.n ?? 1;
}

/** The records of one key and pane seen this round. */
interface Group {
  /** End of the pane. */
  end: number;
  /** Timestamp of the first record (any record's would do: they share the pane). */
  ts: number;
  /** The first record, sent as it is when it stays alone. */
  first: unknown;
  /** The accumulator, once a second record came. */
  acc: unknown;
  n: number;
  /** The key's group of another pane. */
  next: Group | undefined;
}

/** Options of a pre-aggregation (the graph node's spec). */
export interface PreAggregateOptions {
  /** The window's assigner: tumbling or sliding, event time. */
  assigner: WindowAssigner;
  /** The window's aggregate (mergesExactly). */
  aggregate: AggregateFunction<unknown, unknown, unknown>;
  /** The keyBy's key. */
  key: KeySelector;
}

/** Creates a pre-aggregation instance: folds records per key and pane until flushed. */
export function preAggregateOperator(options: PreAggregateOptions): Operator {
  const { assigner, aggregate: agg } = options;
  const key = options.key as (value: unknown) => Key;
  if (assigner.kind !== "tumbling" && assigner.kind !== "sliding") throw new InternalError(`pre-aggregation of ${assigner.kind} windows`);
  // A sliding window's pane, as its window operator keeps them (sliding-panes.ts).
  const pane = assigner.kind === "sliding" ? gcd(assigner.sizeMs, assigner.slideMs) : assigner.sizeMs;
  const offset = assigner.offsetMs;
  const groups = new Map<Key, Group>();
  // Groups live for one round: reused rather than left to the GC (which would promote them, a
  // round outlasting a young-generation collection).
  const free: Group[] = [];
  const group = (end: number, ts: number, value: unknown): Group => {
    const g = free.pop();
    if (g === undefined) return { end, ts, first: value, acc: undefined, n: 1, next: undefined };
    g.end = end;
    g.ts = ts;
    g.first = value;
    g.n = 1;
    return g;
  };
  // The pane of the last record: records of neighbouring keys mostly share it, and a double's % costs more than two comparisons.
  let paneEnd = Number.NaN;
  let paneStart = Number.NaN;
  let out: Output;
  return {
    open: async (ctx) => {
      out = ctx.output;
    },
    processElement: (_input, value, ts) => {
      const k = key(value);
      if (!(ts >= paneStart && ts < paneEnd)) {
        paneStart = windowStart(ts, pane, offset);
        paneEnd = paneStart + pane;
      }
      const end = paneEnd;
      let g = groups.get(k);
      if (g === undefined) {
        groups.set(k, group(end, ts, value));
        return;
      }
      while (g.end !== end) {
        if (g.next === undefined) {
          g.next = group(end, ts, value);
          return;
        }
        g = g.next;
      }
      if (g.n === 1) g.acc = agg.add(g.first, agg.createAccumulator());
      g.acc = agg.add(value, g.acc);
      g.n++;
    },
    flush: () => {
      if (groups.size === 0) return;
      // In the order keys and their panes first came: a key's records reach each pane in the order they came.
      for (const [k, head] of groups) {
        let g: Group | undefined = head;
        while (g !== undefined) {
          out.emit(g.n === 1 ? g.first : partial(k, g.acc, g.n), g.ts);
          const next: Group | undefined = g.next;
          g.first = undefined;
          g.acc = undefined;
          g.next = undefined;
          free.push(g);
          g = next;
        }
      }
      groups.clear();
    },
  };
}
