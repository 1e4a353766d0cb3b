/** Structural checks of a job graph, with messages that name the offending operator. */
import { JobDefinitionError } from "../errors.ts";
import { isKeyedKind, type JobGraph } from "./graph.ts";

/** Throws JobDefinitionError on the first structural problem of the graph. */
export function validateGraph(graph: JobGraph): void {
  const uids = new Set<string>();
  for (const [i, node] of graph.nodes.entries()) {
    if (node.id !== i) throw new JobDefinitionError(`node ${node.uid}: id ${node.id} is not its index ${i}`);
    if (uids.has(node.uid)) throw new JobDefinitionError(`duplicate operator uid '${node.uid}'`);
    uids.add(node.uid);
    const inputs = graph.edges.filter((e) => e.to === i);
    if (node.spec.kind === "source" && inputs.length > 0) {
      throw new JobDefinitionError(`source '${node.uid}' cannot have inputs`);
    }
    if (node.spec.kind !== "source" && inputs.length === 0) {
      throw new JobDefinitionError(`operator '${node.uid}' has no input`);
    }
    // A keyed operator's inputs are keyed (hash), except the rules input of a broadcast process.
    const keyedInputOk = (input: number, p: string): boolean => p === "hash" || (node.spec.kind === "broadcastProcess" && input === 1 && p === "broadcast");
    if (isKeyedKind(node.spec) && inputs.some((e) => !keyedInputOk(e.input, e.partitioning))) {
      throw new JobDefinitionError(`keyed operator '${node.uid}' must be fed by keyBy (hash) edges only`);
    }
    for (const e of inputs) {
      if (e.from >= i) throw new JobDefinitionError(`operator '${node.uid}': edges must point forward in build order`);
      if (e.partitioning === "hash" && !e.key) throw new JobDefinitionError(`operator '${node.uid}': hash edge without key`);
    }
  }
  if (!graph.nodes.some((n) => n.spec.kind === "sink")) {
    throw new JobDefinitionError(`job '${graph.name}' has no sink: nothing would be observable`);
  }
  const p = graph.config.parallelism;
  if (p !== undefined && (!Number.isInteger(p) || p < 1)) {
    throw new JobDefinitionError(`parallelism must be a positive integer, got ${p}`);
  }
}
