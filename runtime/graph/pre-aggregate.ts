/**
 * Plans pre-aggregation (ADR 40): each keyBy into a window whose results do not depend on
 * whether its records come one by one or folded per key and pane gets a pre-aggregation node
 * before it (runtime/window/pre-aggregate.ts), on the upstream side, so what crosses the keyBy
 * is one partial per key, pane and round. A distributed worker plans it before its repartition
 * topics (distributed/plan.ts); an engine only when the job asks (JobConfig.preAggregate).
 */
import { partialAwareKey } from "../window/pre-aggregate.ts";
import type { WindowFunctionSpec } from "../window/types.ts";
import type { GraphEdge, GraphNode, JobGraph, NodeSpec } from "./graph.ts";

type WindowSpec = Extract<NodeSpec, { kind: "window" }>;
type AggregateSpec = Extract<WindowFunctionSpec, { kind: "aggregate" }>;

/** Why a window's records must reach it one by one, or undefined when they may come folded. */
export function whyNotPreAggregated(spec: WindowSpec): string | undefined {
  const a = spec.assigner;
  if (a.kind !== "tumbling" && a.kind !== "sliding") return `${a.kind} windows`;
  if (a.time === "processing") return "processing-time windows (they assign records by the window's clock)";
  if (spec.trigger.kind !== "eventTime") return "a count trigger";
  if (spec.allowedLatenessMs > 0) return "allowed lateness (each late record fires its window again)";
  if (spec.lateTag !== undefined) return "a late-data side output (it carries the records)";
  if (spec.fn.kind !== "aggregate") return "a process window function (it sees the records)";
  if (spec.fn.aggregate.mergesExactly !== true) return "an aggregate whose merge is not exact";
  return undefined;
}

/** Whether a keyBy edge crosses tasks: hash-partitioned and not already partitioned by its key. */
function crosses(e: GraphEdge): boolean {
  return e.partitioning === "hash" && e.colocated !== true && e.key !== undefined;
}

/** The graph with a pre-aggregation before every window that can take one (the graph itself when none can). */
export function planPreAggregation(graph: JobGraph): JobGraph {
  if (graph.config.preAggregate === false) return graph;
  const eligible = (n: GraphNode): n is GraphNode & { spec: WindowSpec } =>
    n.spec.kind === "window" && n.spec.preAggregated !== true && whyNotPreAggregated(n.spec) === undefined;
  const windows = new Set(graph.nodes.filter(eligible).map((n) => n.id));
  const folded = graph.edges.filter((e) => windows.has(e.to) && crosses(e));
  if (folded.length === 0) return graph;
  const nodes: GraphNode[] = [];
  const newId = new Map<number, number>();
  const before = new Map<GraphEdge, GraphNode>();
  for (const node of graph.nodes) {
    const inputs = folded.filter((e) => e.to === node.id);
    const spec = node.spec as WindowSpec;
    for (const [k, e] of inputs.entries()) {
      const pre: GraphNode = {
        id: nodes.length,
        uid: `${node.uid}.pre-aggregate${k === 0 ? "" : `-${k}`}`,
        name: `pre-aggregate → ${node.name}`,
        spec: { kind: "preAggregate", assigner: spec.assigner, aggregate: (spec.fn as AggregateSpec).aggregate, key: e.key as NonNullable<GraphEdge["key"]> },
      };
      nodes.push(pre);
      before.set(e, pre);
    }
    newId.set(node.id, nodes.length);
    nodes.push({ ...node, id: nodes.length, spec: inputs.length > 0 ? { ...spec, preAggregated: true } : node.spec });
  }
  const edges: GraphEdge[] = [];
  for (const e of graph.edges) {
    const from = newId.get(e.from) as number;
    const to = newId.get(e.to) as number;
    const pre = before.get(e);
    if (pre === undefined) {
      edges.push({ ...e, from, to });
      continue;
    }
    // upstream → pre-aggregation in the upstream's task; partials and lone records → the window by key.
    edges.push({ from, to: pre.id, input: 0, partitioning: "forward", ...(e.tag === undefined ? {} : { tag: e.tag }) });
    edges.push({ from: pre.id, to, input: e.input, partitioning: "hash", key: partialAwareKey(e.key as NonNullable<GraphEdge["key"]>) });
  }
  return { ...graph, nodes, edges };
}
