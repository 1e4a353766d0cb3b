/**
 * The stream graph of a declarative pipeline, as `runnel validate` and the record-type inference
 * read it: which node every reference names, the side outputs each step produces, topological
 * order and keyedness. Built from a schema-valid pipeline (the checks run after the schema's).
 */
import type { Pipeline, Sink, Source, Step } from "./generated/types.ts";
import { operatorNames } from "./schema/pipeline-steps.ts";

/** The reserved stream of records that failed a check or an expression. */
export const DEAD_LETTER = "dead-letter";

/** A source or a step: something a reference can name. */
export interface GraphNode {
  id: string;
  kind: "source" | "step";
  index: number;
  /** Path of the source or step, e.g. `.spec.pipeline.steps[2]`. */
  path: string;
  source?: Source;
  step?: Step;
  /** The step's operator field (`filter`, `window`, …), or `source`. */
  operator: string;
}

/** One reference to a stream, with where it is written. */
export interface StreamRef {
  ref: string;
  /** Path of the field holding the reference. */
  path: string;
  /** input: a main input; rules: a broadcastRules source; table: a lookupJoin table. */
  role: "input" | "rules" | "table";
  /** Id of the step or sink that holds it. */
  owner: string;
  ownerKind: "step" | "sink";
}

/** The pipeline as a graph. */
export interface PipelineGraph {
  pipeline: Pipeline;
  nodes: Map<string, GraphNode>;
  sources: GraphNode[];
  steps: GraphNode[];
  sinks: { sink: Sink; index: number; path: string }[];
  refs: StreamRef[];
}

const base = ".spec.pipeline";

/** The operator field set on a step. */
export function operatorOf(step: Step): string {
  return operatorNames.find((name) => (step as unknown as Record<string, unknown>)[name] !== undefined) ?? "unknown";
}

/** Splits `step.output` into the node id and the side output name. */
export function parseRef(ref: string): { id: string; output?: string } {
  const dot = ref.indexOf(".");
  return dot < 0 ? { id: ref } : { id: ref.slice(0, dot), output: ref.slice(dot + 1) };
}

/** Builds the graph of a schema-valid pipeline. */
export function buildGraph(pipeline: Pipeline): PipelineGraph {
  const nodes = new Map<string, GraphNode>();
  const sources = pipeline.sources.map((source, index): GraphNode => ({
    id: source.id,
    kind: "source",
    index,
    path: `${base}.sources[${index}]`,
    source,
    operator: "source",
  }));
  const steps = (pipeline.steps ?? []).map((step, index): GraphNode => ({
    id: step.id,
    kind: "step",
    index,
    path: `${base}.steps[${index}]`,
    step,
    operator: operatorOf(step),
  }));
  for (const n of [...sources, ...steps]) if (!nodes.has(n.id)) nodes.set(n.id, n);
  const refs: StreamRef[] = [];
  for (const n of steps) {
    const step = n.step as Step;
    if (step.input !== undefined) refs.push({ ref: step.input, path: `${n.path}.input`, role: "input", owner: n.id, ownerKind: "step" });
    step.inputs?.forEach((ref, i) => refs.push({ ref, path: `${n.path}.inputs[${i}]`, role: "input", owner: n.id, ownerKind: "step" }));
    if (step.broadcastRules)
      refs.push({ ref: step.broadcastRules.rules, path: `${n.path}.broadcastRules.rules`, role: "rules", owner: n.id, ownerKind: "step" });
    if (step.lookupJoin?.table !== undefined)
      refs.push({ ref: step.lookupJoin.table, path: `${n.path}.lookupJoin.table`, role: "table", owner: n.id, ownerKind: "step" });
  }
  const sinks = pipeline.sinks.map((sink, index) => ({ sink, index, path: `${base}.sinks[${index}]` }));
  for (const s of sinks) refs.push({ ref: s.sink.input, path: `${s.path}.input`, role: "input", owner: s.sink.id, ownerKind: "sink" });
  return { pipeline, nodes, sources, steps, sinks, refs };
}

/** The main-input references of a step (input or inputs). */
export function mainInputs(graph: PipelineGraph, stepId: string): StreamRef[] {
  return graph.refs.filter((r) => r.ownerKind === "step" && r.owner === stepId && r.role === "input");
}

/** The side outputs a step produces (`<id>.<name>`), by name. */
export function sideOutputs(step: Step): string[] {
  const out: string[] = [];
  if (step.filter?.onReject === "side-output") out.push("rejected");
  if (step.clean?.onInvalid === "side-output") out.push("invalid");
  for (const r of step.route?.routes ?? []) out.push(r.name);
  if (step.window?.lateOutput === true) out.push("late");
  if (step.cep?.timedOut === true) out.push("timedOut");
  const actions = [...(step.process?.onRecord ?? []), ...(step.process?.timers ?? []).flatMap((t) => t.actions)];
  for (const a of actions) if (a.emitTo !== undefined && !out.includes(a.emitTo)) out.push(a.emitTo);
  return out;
}

/**
 * Whether any source or step sends records to the dead-letter stream: a stream source that reads
 * a file, declares field types or reads event time (records failing those checks), and every step
 * on expression errors unless onError says otherwise.
 */
export function producesDeadLetter(pipeline: Pipeline): boolean {
  const checkedSource = pipeline.sources.some(
    (s) => (s.mode ?? "stream") === "stream" && (s.local?.file !== undefined || s.fields !== undefined || s.timestamp !== undefined),
  );
  return (
    checkedSource ||
    (pipeline.steps ?? []).some(
      (s) =>
        (s.onError ?? "dead-letter") === "dead-letter" ||
        s.filter?.onReject === "dead-letter" ||
        (s.clean !== undefined && (s.clean.onInvalid ?? "dead-letter") === "dead-letter"),
    )
  );
}

/** Every cycle among the steps, each with the reference that closes it and the step ids around it. */
export function findCycles(graph: PipelineGraph): { ref: StreamRef; cycle: string[] }[] {
  const state = new Map<string, "visiting" | "done">();
  const found: { ref: StreamRef; cycle: string[] }[] = [];
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, "visiting");
    stack.push(id);
    for (const r of graph.refs) {
      if (r.ownerKind !== "step" || r.owner !== id) continue;
      const target = parseRef(r.ref).id;
      if (graph.nodes.get(target)?.kind !== "step") continue;
      const s = state.get(target);
      if (s === "visiting") found.push({ ref: r, cycle: [...stack.slice(stack.indexOf(target)), target] });
      else if (s === undefined) visit(target);
    }
    stack.pop();
    state.set(id, "done");
  };
  for (const n of graph.steps) if (!state.has(n.id)) visit(n.id);
  return found;
}

/** Whether the stream a reference names is keyed (by a keyBy upstream, through steps that keep the key). */
export function isKeyed(graph: PipelineGraph, ref: string, seen: Set<string> = new Set()): boolean {
  const { id } = parseRef(ref);
  const node = graph.nodes.get(id);
  if (!node || node.kind === "source" || seen.has(id)) return false;
  seen.add(id);
  const step = node.step as Step;
  if (step.keyBy) return true;
  const inputs = mainInputs(graph, id);
  // A union is keyed only when every input is; any other step keeps its input's key (`key` is carried beside the record).
  return inputs.length > 0 && inputs.every((r) => isKeyed(graph, r.ref, new Set(seen)));
}

/** Step ids in an order where every step comes after the steps it reads (steps in cycles are left out). */
export function topologicalSteps(graph: PipelineGraph): GraphNode[] {
  const out: GraphNode[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (n: GraphNode): boolean => {
    if (done.has(n.id)) return true;
    if (visiting.has(n.id)) return false;
    visiting.add(n.id);
    let ok = true;
    for (const r of graph.refs) {
      if (r.ownerKind !== "step" || r.owner !== n.id) continue;
      const target = graph.nodes.get(parseRef(r.ref).id);
      if (target?.kind === "step") ok = visit(target) && ok;
    }
    visiting.delete(n.id);
    if (ok) {
      done.add(n.id);
      out.push(n);
    }
    return ok;
  };
  for (const n of graph.steps) visit(n);
  return out;
}
