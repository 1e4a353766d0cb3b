/**
 * The state layout of every stateful operator of a job, by uid: what snapshots record as the
 * operator's state schema and what a restore compares against. Windows describe themselves from
 * their spec; keyed process functions may declare a layout (the declarative unbounded `over`
 * does); every other stateful operator records its kind, so state never silently moves between
 * operators of different kinds under one uid.
 */
import { isKeyedKind, type GraphNode, type JobGraph } from "../graph/graph.ts";
import type { StateLayout, StateSchema } from "../state/schema.ts";
import { windowStateLayout } from "../window/state-layout.ts";

const cache = new WeakMap<JobGraph, Map<string, StateLayout>>();

function layoutOf(node: GraphNode): StateLayout | undefined {
  const spec = node.spec;
  if (spec.kind === "window") return windowStateLayout(spec);
  if (spec.kind === "keyedProcess" && spec.state) return spec.state;
  return isKeyedKind(spec) ? { schema: { operator: spec.kind } } : undefined;
}

/** The state layouts of a job's stateful operators by uid (computed once per graph). */
export function stateLayouts(graph: JobGraph): Map<string, StateLayout> {
  let layouts = cache.get(graph);
  if (!layouts) {
    layouts = new Map();
    for (const node of graph.nodes) {
      const layout = layoutOf(node);
      if (layout) layouts.set(node.uid, layout);
    }
    cache.set(graph, layouts);
  }
  return layouts;
}

/** The state schemas a snapshot of the job records, by uid. */
export function stateSchemas(graph: JobGraph): Record<string, StateSchema> {
  const out: Record<string, StateSchema> = {};
  for (const [uid, layout] of stateLayouts(graph)) out[uid] = layout.schema;
  return out;
}
