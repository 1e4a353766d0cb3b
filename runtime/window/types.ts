/** Window descriptions shared by the API, the graph and the window operator. */
import type { AggregateFunction, Collector, Key } from "../api/functions.ts";

/** A half-open time interval [start, end); its last timestamp is end - 1. */
export interface TimeWindow {
  /** Inclusive start (ms). */
  start: number;
  /** Exclusive end (ms). */
  end: number;
}

/**
 * Which clock assigns records to windows and fires them: event time (the record's timestamp and
 * the watermark, the default) or processing time (the task's clock when the record arrives and
 * processing-time timers — Flink's *ProcessingTimeWindows; never late, not deterministic).
 */
export type WindowTime = "event" | "processing";

/** How records are assigned to windows. */
export type WindowAssigner =
  | { kind: "tumbling"; sizeMs: number; offsetMs: number; time?: WindowTime }
  | { kind: "sliding"; sizeMs: number; slideMs: number; offsetMs: number; time?: WindowTime }
  | { kind: "session"; gapMs: number; time?: WindowTime }
  | { kind: "global" };

/** When a window emits: at the watermark (event time, the default) or every N records. */
export type WindowTrigger = { kind: "eventTime" } | { kind: "count"; count: number };

/** What a window computes when it fires. */
export type WindowFunctionSpec =
  | {
      kind: "aggregate";
      aggregate: AggregateFunction<unknown, unknown, unknown>;
      /** Optional shaping of the result with the key and the window. */
      window?: (result: unknown, info: WindowInfo<Key>) => unknown;
    }
  | { kind: "process"; process: WindowProcessFunction<Key, unknown, unknown> };

/** Key and window of a firing. */
export interface WindowInfo<K extends Key> {
  /** The key. */
  key: K;
  /** The window. */
  window: TimeWindow;
}

/** A full-window function: sees all records of the window when it fires. */
export type WindowProcessFunction<K extends Key, I, O> = (elements: readonly I[], info: WindowInfo<K>, out: Collector<O>) => void;
