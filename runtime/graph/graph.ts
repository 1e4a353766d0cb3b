/**
 * The job graph: the plain description both the typed API and the declarative pipeline
 * compiler produce, and the only thing the execution engine reads. Functions are carried as
 * values (the pipeline compiler fills them with compiled CEL), everything else is plain data.
 */
import type {
  AggregateFunction,
  CoProcessFunction,
  Factory,
  Key,
  KeyedBroadcastProcessFunction,
  KeyedProcessFunction,
  ProcessFunction,
  WatermarkStrategy,
} from "../api/functions.ts";
import type { Sink, Source } from "../connectors/types.ts";
import type { StateLayout } from "../state/schema.ts";
import type { WindowAssigner, WindowFunctionSpec, WindowTrigger } from "../window/types.ts";

/** How records travel along an edge between tasks. */
export type Partitioning = "forward" | "hash" | "broadcast";

/** Extracts the key a hash edge partitions by. */
export type KeySelector = (value: never) => Key;

/** What an operator does; `kind` selects the engine's implementation. */
export type NodeSpec =
  | { kind: "source"; source: Source<unknown>; watermarks: WatermarkStrategy<unknown> }
  | { kind: "map"; fn: (value: unknown) => unknown }
  | { kind: "filter"; fn: (value: unknown) => boolean }
  | { kind: "flatMap"; fn: (value: unknown, out: { collect(v: unknown): void }) => void }
  | { kind: "process"; factory: Factory<ProcessFunction<unknown, unknown>> }
  | { kind: "keyedProcess"; factory: Factory<KeyedProcessFunction<Key, unknown, unknown>>; state?: StateLayout }
  | { kind: "coProcess"; keyed: boolean; factory: Factory<CoProcessFunction<Key, unknown, unknown, unknown>> }
  | { kind: "broadcastProcess"; factory: Factory<KeyedBroadcastProcessFunction<Key, unknown, unknown, unknown>> }
  | {
      kind: "window";
      assigner: WindowAssigner;
      trigger: WindowTrigger;
      allowedLatenessMs: number;
      lateTag?: string;
      fn: WindowFunctionSpec;
      /** Its input may hold partial aggregates folded before the keyBy (ADR 40). */
      preAggregated?: boolean;
    }
  | {
      /** Folds a window's records per key and pane before its keyBy (ADR 40; planned by graph/pre-aggregate.ts). */
      kind: "preAggregate";
      assigner: WindowAssigner;
      aggregate: AggregateFunction<unknown, unknown, unknown>;
      key: KeySelector;
    }
  | {
      kind: "over";
      rangeMs: number;
      aggregate: AggregateFunction<unknown, unknown, unknown>;
      select: (value: unknown, result: unknown) => unknown;
    }
  | { kind: "union" }
  | { kind: "sink"; sink: Sink<unknown> };

/** Operator kinds. */
export type NodeKind = NodeSpec["kind"];

/** One operator of the job. */
export interface GraphNode {
  /** Dense index in `nodes`, in build (hence topological) order. */
  id: number;
  /** Stable identity across job versions: state and checkpoints are mapped by it. */
  uid: string;
  /** Display name. */
  name: string;
  /** The operator. */
  spec: NodeSpec;
}

/** A connection from one operator's output to one input of another. */
export interface GraphEdge {
  /** Upstream node id. */
  from: number;
  /** Downstream node id. */
  to: number;
  /** Which input of the downstream operator (0 or 1 for connect). */
  input: number;
  /** How records are routed between tasks. */
  partitioning: Partitioning;
  /** Key of hash edges. */
  key?: KeySelector;
  /**
   * The upstream is already partitioned by this key (a Kafka topic keyed by it): a distributed run
   * keeps the edge inside each task instead of going through a repartition topic.
   */
  colocated?: boolean;
  /** Side output carried by this edge (absent: the main output). */
  tag?: string;
}

/** Job-wide settings. */
export interface JobConfig {
  /** Number of tasks; defaults to the largest source partition count. */
  parallelism?: number;
  /** Records read per source partition per round (the micro-batch). */
  batchSize?: number;
  /**
   * Fold a window's records before its keyBy where that gives the same results (ADR 40): by
   * default where they cross a repartition topic (distributed workers); true: also in a local
   * run and between threads; false: never.
   */
  preAggregate?: boolean;
}

/** A whole job. */
export interface JobGraph {
  /** Job name. */
  name: string;
  /** Operators in topological order. */
  nodes: GraphNode[];
  /** Connections. */
  edges: GraphEdge[];
  /** Settings. */
  config: JobConfig;
}

/** Number of tasks of a job: its parallelism, else the largest source partition count. */
export function taskCount(graph: JobGraph): number {
  return graph.config.parallelism ?? Math.max(1, ...graph.nodes.map((n) => (n.spec.kind === "source" ? n.spec.source.partitions : 1)));
}

/** Kinds whose operator keeps keyed state and therefore needs hash-partitioned inputs. */
export function isKeyedKind(spec: NodeSpec): boolean {
  return (
    spec.kind === "keyedProcess" ||
    spec.kind === "window" ||
    spec.kind === "over" ||
    spec.kind === "broadcastProcess" ||
    (spec.kind === "coProcess" && spec.keyed)
  );
}

/** A JSON-friendly view of the graph (functions omitted) for logs, `validate` and tests. */
export function describeGraph(graph: JobGraph): object {
  return {
    name: graph.name,
    config: graph.config,
    nodes: graph.nodes.map((n) => ({ id: n.id, uid: n.uid, name: n.name, kind: n.spec.kind })),
    edges: graph.edges.map((e) => ({
      from: e.from,
      to: e.to,
      input: e.input,
      partitioning: e.partitioning,
      ...(e.tag === undefined ? {} : { tag: e.tag }),
    })),
  };
}
