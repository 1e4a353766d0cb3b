/**
 * Turns a job graph into the graph one worker runs. Kafka is the only way data crosses tasks:
 * every keyBy (hash edge) becomes a repartition topic — a sink writing each record to its key's
 * partition and a source reading partition p in task p — so keyed state always lives in the
 * task that owns the key, in whichever worker runs it. Broadcast inputs are replicated: every
 * worker reads all their partitions. And no partition of an input may be left without a task.
 */
import type { Key } from "../api/functions.ts";
import type { KafkaConnection } from "../kafka/index.ts";
import { JobDefinitionError } from "../errors.ts";
import { taskCount, type GraphEdge, type GraphNode, type JobGraph } from "../graph/graph.ts";
import { planPreAggregation } from "../graph/pre-aggregate.ts";
import { repartitionSink, repartitionSource, type DrainProgress, type RepartitionWriter } from "./repartition.ts";
import { repartitionTopic, type InternalTopic } from "./topics.ts";

/** The graph a worker runs, and what it needs on the cluster. */
export interface DistributedPlan {
  graph: JobGraph;
  /** Number of tasks. */
  parallelism: number;
  /** Node ids every worker runs for all tasks (the broadcast inputs). */
  replicated: Set<number>;
  /** Repartition topics to create. */
  topics: InternalTopic[];
  /** Each repartition topic's writers (upstream tasks) and readers (downstream tasks), for savepoint drains. */
  repartitions: {
    sourceUid: string;
    /** The repartition topic (its records are purged once the reading task's checkpoint covers them). */
    topic: string;
    writers: Map<number, RepartitionWriter>;
    readers: Map<number, DrainProgress>;
    /** The repartition sources upstream of this topic's writers: it is drained once they are. */
    upstream: string[];
  }[];
}

/** Nodes that only feed broadcast edges (directly or through forward chains of such nodes). */
export function replicatedNodes(graph: JobGraph): Set<number> {
  const out = (id: number): GraphEdge[] => graph.edges.filter((e) => e.from === id);
  const candidates = new Set<number>();
  for (const n of graph.nodes) {
    const ins = graph.edges.filter((e) => e.to === n.id);
    if (n.spec.kind === "source" || (ins.length > 0 && ins.every((e) => e.partitioning === "forward" && candidates.has(e.from)))) candidates.add(n.id);
  }
  const keep = new Set<number>();
  for (const n of [...graph.nodes].reverse()) {
    if (!candidates.has(n.id)) continue;
    const edges = out(n.id);
    if (edges.length > 0 && edges.every((e) => e.partitioning === "broadcast" || (e.partitioning === "forward" && keep.has(e.to)))) keep.add(n.id);
  }
  return keep;
}

/** Every broadcast input must be replicated (read in full by every worker or thread, `who`): a node that also feeds something else cannot be. */
export function assertBroadcastInputsReplicated(graph: JobGraph, replicated: ReadonlySet<number>, who: string): void {
  for (const e of graph.edges) {
    if (e.partitioning === "broadcast" && !replicated.has(e.from)) {
      const n = graph.nodes[e.from] as GraphNode;
      throw new JobDefinitionError(
        `'${n.uid}' feeds a broadcast input and something else: a broadcast input must come from its own source, which every ${who} reads in full`,
      );
    }
  }
}

/** Options of planDistributed. */
export interface PlanOptions {
  connection: KafkaConnection;
  /** Prefix of the internal topic names (the job's, plus its generation after a savepoint restore). */
  prefix: string;
  /** Stem of this process's reader groups. */
  readerGroup: string;
  /** Creates the internal topics (before their readers open). */
  createTopics: (topics: InternalTopic[]) => Promise<void>;
}

/** Rewrites the graph for distributed execution (creating the repartition sources' readers). */
export async function planDistributed(job: JobGraph, options: PlanOptions): Promise<DistributedPlan> {
  // Keyed records cross processes through repartition topics: fold windows' records before their keyBy (ADR 40).
  const graph = planPreAggregation(job);
  const parallelism = taskCount(graph);
  const replicated = replicatedNodes(graph);
  assertBroadcastInputsReplicated(graph, replicated, "worker");
  for (const n of graph.nodes) {
    if (n.spec.kind !== "source" || replicated.has(n.id)) continue;
    const parts = n.spec.source.partitions;
    if (parts > parallelism) {
      throw new JobDefinitionError(
        `source '${n.uid}' (${n.spec.source.name}) has ${parts} partitions but the job runs ${parallelism} tasks: partitions beyond would never be read; set spec.parallelism to ${parts} (tasks are spread over the workers)`,
      );
    }
  }
  // A keyBy on the key its input topic is partitioned by stays inside the task.
  const hash = graph.edges.filter((e) => e.partitioning === "hash" && e.colocated !== true);
  const uidOf = (e: GraphEdge): string => `${(graph.nodes[e.to] as GraphNode).uid}.in${e.input}`;
  const topics: InternalTopic[] = hash.map((e) => ({
    topic: repartitionTopic(options.prefix, uidOf(e)),
    partitions: parallelism,
    compacted: false,
    purged: true,
  }));
  await options.createTopics(topics);
  const added: { source: GraphNode; sink: GraphNode; edge: GraphEdge }[] = [];
  const repartitions: DistributedPlan["repartitions"] = [];
  for (const e of hash) {
    const target = graph.nodes[e.to] as GraphNode;
    const uid = uidOf(e);
    const topic = repartitionTopic(options.prefix, uid);
    const key = e.key as (v: unknown) => Key;
    const source = await repartitionSource({ connection: options.connection, topic, readerGroup: `${options.readerGroup}.${uid}`, upstreamTasks: parallelism });
    const sink = repartitionSink({ topic, parallelism, key });
    const sourceUid = `${uid}.repartition-in`;
    repartitions.push({ sourceUid, topic, writers: sink.writers, readers: source.readers, upstream: [] });
    added.push({
      edge: e,
      source: { id: -1, uid: sourceUid, name: `repartition → ${target.name}`, spec: { kind: "source", source, watermarks: {} } },
      sink: { id: -1, uid: `${uid}.repartition-out`, name: `repartition ${target.name}`, spec: { kind: "sink", sink } },
    });
  }
  // New sources first (no inputs), the original nodes in their order, new sinks last: ids stay topological.
  const order: GraphNode[] = [...added.map((a) => a.source), ...graph.nodes, ...added.map((a) => a.sink)];
  const newId = new Map<GraphNode, number>(order.map((n, i) => [n, i]));
  const idOf = (old: number): number => newId.get(graph.nodes[old] as GraphNode) as number;
  const nodes = order.map((n, i) => ({ ...n, id: i }));
  const edges: GraphEdge[] = [];
  for (const e of graph.edges) {
    const a = added.find((x) => x.edge === e);
    if (!a) {
      edges.push({ ...e, from: idOf(e.from), to: idOf(e.to) });
      continue;
    }
    edges.push({ from: idOf(e.from), to: newId.get(a.sink) as number, input: 0, partitioning: "forward", ...(e.tag === undefined ? {} : { tag: e.tag }) });
    edges.push({ from: newId.get(a.source) as number, to: idOf(e.to), input: e.input, partitioning: "hash", key: e.key });
  }
  const plannedReplicated = new Set([...replicated].map(idOf));
  for (const [i, a] of added.entries()) {
    const r = repartitions[i] as DistributedPlan["repartitions"][number];
    r.upstream = upstreamSources(nodes, edges, newId.get(a.sink) as number).filter((uid) => repartitions.some((x) => x.sourceUid === uid));
  }
  return { graph: { ...graph, nodes, edges, config: { ...graph.config, parallelism } }, parallelism, replicated: plannedReplicated, topics, repartitions };
}

/** Uids of the sources a node reads from, directly or through other operators. */
function upstreamSources(nodes: GraphNode[], edges: GraphEdge[], id: number): string[] {
  const seen = new Set<number>();
  const stack = [id];
  const out: string[] = [];
  while (stack.length > 0) {
    const n = stack.pop() as number;
    if (seen.has(n)) continue;
    seen.add(n);
    const node = nodes[n] as GraphNode;
    if (node.spec.kind === "source") out.push(node.uid);
    for (const e of edges) if (e.to === n) stack.push(e.from);
  }
  return out;
}
