/**
 * The schema of a window operator's state: the assigner (kind, size, slide, offset, gap, time),
 * the trigger, the allowed lateness, the window function's kind and, for aggregations that
 * describe themselves, their accumulator fields. Windows in state are identified by their end
 * and cleaned up by timers registered under the old lateness, so any change but the
 * accumulators' is refused; accumulators are converted by their aggregate's own layout.
 */
import type { AccumulatorField, AccumulatorLayout, Key } from "../api/functions.ts";
import type { NodeSpec } from "../graph/graph.ts";
import { formatDuration } from "../spec/duration.ts";
import type { StateLayout, StateMigration, StateSchema } from "../state/schema.ts";
import type { PanedWindows } from "./sliding-panes.ts";
import type { WindowAssigner, WindowTrigger } from "./types.ts";

type WindowSpec = Extract<NodeSpec, { kind: "window" }>;

interface WindowSchema extends StateSchema {
  operator: "window";
  assigner: WindowAssigner;
  trigger: WindowTrigger;
  allowedLatenessMs: number;
  function: "aggregate" | "process";
  accumulators?: AccumulatorField[];
}

/** How a window reads in an error: `tumbling 1m`, `sliding 10m every 1m`, `session gap 30s`, `global`. */
export function describeAssigner(a: WindowAssigner): string {
  const time = a.kind !== "global" && a.time === "processing" ? " (processing time)" : "";
  const offset = (ms: number): string => (ms === 0 ? "" : ` offset ${formatDuration(Math.abs(ms))}${ms < 0 ? " back" : ""}`);
  switch (a.kind) {
    case "tumbling":
      return `tumbling ${formatDuration(a.sizeMs)}${offset(a.offsetMs)}${time}`;
    case "sliding":
      return `sliding ${formatDuration(a.sizeMs)} every ${formatDuration(a.slideMs)}${offset(a.offsetMs)}${time}`;
    case "session":
      return `session gap ${formatDuration(a.gapMs)}${time}`;
    case "global":
      return "global";
  }
}

const describeTrigger = (t: WindowTrigger): string => (t.kind === "count" ? `every ${t.count} records` : "at the watermark");
const describeFields = (f: readonly AccumulatorField[] | undefined): string =>
  f ? `[${f.map((x) => `${x.name}: ${x.kind}`).join(", ")}]` : "an aggregate without a described accumulator";

/** The state layout of a window node. */
export function windowStateLayout(spec: WindowSpec): StateLayout {
  const agg = spec.fn.kind === "aggregate" ? spec.fn.aggregate.layout : undefined;
  const schema: WindowSchema = {
    operator: "window",
    assigner: spec.assigner,
    trigger: spec.trigger,
    allowedLatenessMs: spec.allowedLatenessMs,
    function: spec.fn.kind,
    ...(agg ? { accumulators: agg.fields } : {}),
  };
  return {
    schema,
    migrate(from) {
      const was = from as WindowSchema;
      const now = schema;
      if (describeAssigner(was.assigner) !== describeAssigner(now.assigner))
        return `its window changed from ${describeAssigner(was.assigner)} to ${describeAssigner(now.assigner)}`;
      if (describeTrigger(was.trigger) !== describeTrigger(now.trigger))
        return `its trigger changed from ${describeTrigger(was.trigger)} to ${describeTrigger(now.trigger)}`;
      if (was.allowedLatenessMs !== now.allowedLatenessMs)
        return `its allowed lateness changed from ${formatDuration(was.allowedLatenessMs)} to ${formatDuration(now.allowedLatenessMs)}`;
      if (was.function !== now.function) return `its window function changed from ${was.function} to ${now.function}`;
      if (!was.accumulators || !agg) return `its aggregation changed from ${describeFields(was.accumulators)} to ${describeFields(now.accumulators)}`;
      const convert = agg.migrateFrom(was.accumulators);
      if (typeof convert === "string") return convert;
      return accumulatorMigration(convert);
    },
  };
}

/** Converts the accumulators inside a window operator's state tables (fixed windows and sessions). */
function accumulatorMigration(convert: (acc: unknown, key: Key) => unknown): StateMigration {
  return {
    windows: (value, key) => {
      const w = value as PanedWindows;
      const panes = w.paneEnds ? { paneEnds: w.paneEnds, paneAccs: (w.paneAccs ?? []).map((a) => convert(a, key)) } : {};
      return { ends: w.ends, accs: w.accs.map((a) => convert(a, key)), ...panes };
    },
    sessions: (value, key) => (value as [number, number, unknown][]).map(([s, e, a]) => [s, e, convert(a, key)]),
  };
}

/** The state layout of a keyed process function whose one state table holds an accumulator (an unbounded running aggregate). */
export function accumulatorStateLayout(table: string, layout: AccumulatorLayout | undefined): StateLayout {
  const schema: StateSchema = { operator: "keyedProcess", table, ...(layout ? { accumulators: layout.fields } : {}) };
  return {
    schema,
    migrate(from) {
      const was = from.accumulators as AccumulatorField[] | undefined;
      if (from.table !== table || !was || !layout) return `its aggregation changed from ${describeFields(was)} to ${describeFields(layout?.fields)}`;
      const convert = layout.migrateFrom(was);
      return typeof convert === "string" ? convert : { [table]: convert };
    },
  };
}
