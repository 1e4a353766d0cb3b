/**
 * The typed, fluent job builder: `job("name").source(...).map(...).keyBy(...).window(...)
 * .aggregate(...).sink(...)`. It only records a JobGraph; nothing runs until the engine gets it.
 */
import { JobDefinitionError } from "../errors.ts";
import type { GraphEdge, GraphNode, JobConfig, JobGraph, NodeSpec, Partitioning } from "../graph/graph.ts";
import { validateGraph } from "../graph/validate.ts";
import type { Sink, Source } from "../connectors/types.ts";
import type {
  AggregateFunction,
  Collector,
  CoProcessFunction,
  Factory,
  Key,
  KeyedBroadcastProcessFunction,
  KeyedProcessFunction,
  ProcessFunction,
  WatermarkStrategy,
} from "./functions.ts";
import type { OutputTag } from "./output-tag.ts";
import { WindowedStream } from "./windowed.ts";
import type { WindowAssigner } from "../window/types.ts";
import { deriveUids } from "../graph/uid.ts";
import type { StateLayout } from "../state/schema.ts";

/** Naming options every operator accepts. */
export interface OperatorOptions {
  /** Stable identity; derived from the graph position when absent. */
  uid?: string;
  /** Display name; defaults to the operator kind. */
  name?: string;
}

interface PendingNode {
  spec: NodeSpec;
  name: string;
  uid?: string;
}

/** Collects operators and edges while the fluent API is used. */
export class JobBuilder {
  /** Job name. */
  readonly name: string;
  /** Job settings. */
  readonly config: JobConfig;
  private readonly nodes: PendingNode[] = [];
  private readonly edges: GraphEdge[] = [];

  constructor(name: string, config: JobConfig) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      throw new JobDefinitionError(`job name '${name}' must be lowercase letters, digits and '-' (a Kubernetes name)`);
    }
    this.name = name;
    this.config = config;
  }

  /** Adds a source; partition p of it is read by task p. */
  source<T>(source: Source<T>, options: OperatorOptions & { watermarks?: WatermarkStrategy<T> } = {}): DataStream<T> {
    const id = this.addNode({ kind: "source", source: source, watermarks: (options.watermarks ?? {}) as WatermarkStrategy<unknown> }, options);
    return new DataStream<T>(this, id);
  }

  /** Adds a node fed by the given inputs; returns its id. */
  addNode(spec: NodeSpec, options: OperatorOptions, inputs: StreamInput[] = []): number {
    const id = this.nodes.length;
    this.nodes.push({ spec, name: options.name ?? spec.kind, ...(options.uid === undefined ? {} : { uid: options.uid }) });
    for (const [i, input] of inputs.entries()) {
      this.edges.push({
        from: input.node,
        to: id,
        input: input.input ?? i,
        partitioning: input.partitioning,
        ...(input.key ? { key: input.key } : {}),
        ...(input.colocated === true ? { colocated: true } : {}),
        ...(input.tag === undefined ? {} : { tag: input.tag }),
      });
    }
    return id;
  }

  /** Sets the explicit uid of a node. */
  setUid(node: number, uid: string): void {
    const n = this.nodes[node];
    if (!n) throw new JobDefinitionError(`no node ${node}`);
    n.uid = uid;
  }

  /** Sets the display name of a node. */
  setName(node: number, name: string): void {
    const n = this.nodes[node];
    if (n) n.name = name;
  }

  /** Freezes the job into a validated graph with every uid resolved. */
  build(): JobGraph {
    const uids = deriveUids(this.nodes, this.edges);
    const nodes: GraphNode[] = this.nodes.map((n, id) => ({ id, uid: uids[id] ?? "", name: n.name, spec: n.spec }));
    const graph: JobGraph = { name: this.name, nodes, edges: [...this.edges], config: { ...this.config } };
    validateGraph(graph);
    return graph;
  }
}

/** One input of a node being added. */
export interface StreamInput {
  /** Upstream node. */
  node: number;
  /** Routing. */
  partitioning: Partitioning;
  /** Key for hash routing. */
  key?: (value: never) => Key;
  /** The upstream is already partitioned by the key (see GraphEdge.colocated). */
  colocated?: boolean;
  /** Side output selected. */
  tag?: string;
  /** Explicit input index (connect). */
  input?: number;
}

/** A stream of records of type T. */
export class DataStream<T> {
  /** The builder this stream belongs to. */
  readonly builder: JobBuilder;
  /** The node producing this stream. */
  readonly node: number;
  /** Side output of `node` this stream is, if any. */
  readonly tag: string | undefined;

  constructor(builder: JobBuilder, node: number, tag?: string) {
    this.builder = builder;
    this.node = node;
    this.tag = tag;
  }

  /** Sets the uid of the operator that produced this stream. */
  uid(uid: string): this {
    if (this.tag !== undefined) throw new JobDefinitionError("set the uid on the operator, not on its side output");
    this.builder.setUid(this.node, uid);
    return this;
  }

  /** Sets the display name of the operator that produced this stream. */
  name(name: string): this {
    this.builder.setName(this.node, name);
    return this;
  }

  /** This stream as an input of a new node. */
  asInput(partitioning: Partitioning = "forward", key?: (value: never) => Key): StreamInput {
    return { node: this.node, partitioning, ...(key ? { key } : {}), ...(this.tag === undefined ? {} : { tag: this.tag }) };
  }

  private then<O>(spec: NodeSpec, options: OperatorOptions): DataStream<O> {
    return new DataStream<O>(this.builder, this.builder.addNode(spec, options, [this.asInput()]));
  }

  /** One output per input. */
  map<O>(fn: (value: T) => O, options: OperatorOptions = {}): DataStream<O> {
    return this.then({ kind: "map", fn: fn as (v: unknown) => unknown }, options);
  }

  /** Keeps the records the predicate accepts (a type guard narrows the stream's type). */
  filter<S extends T>(fn: (value: T) => value is S, options?: OperatorOptions): DataStream<S>;
  /** Keeps the records the predicate accepts. */
  filter(fn: (value: T) => boolean, options?: OperatorOptions): DataStream<T>;
  filter(fn: (value: T) => boolean, options: OperatorOptions = {}): DataStream<T> {
    return this.then({ kind: "filter", fn: fn as (v: unknown) => boolean }, options);
  }

  /** Zero or more outputs per input. */
  flatMap<O>(fn: (value: T, out: Collector<O>) => void, options: OperatorOptions = {}): DataStream<O> {
    return this.then({ kind: "flatMap", fn: fn as (v: unknown, out: Collector<unknown>) => void }, options);
  }

  /** A stateless process function (side outputs, timestamps). */
  process<O>(factory: Factory<ProcessFunction<T, O>>, options: OperatorOptions = {}): DataStream<O> {
    return this.then({ kind: "process", factory: factory as unknown as Factory<ProcessFunction<unknown, unknown>> }, options);
  }

  /**
   * Partitions by key: downstream keyed operators see all records of a key in one task. With
   * `colocated`, the stream is already partitioned by this key (its Kafka topic is keyed by it, with
   * Kafka's default partitioner), so distributed runs need no repartition topic.
   */
  keyBy<K extends Key>(key: (value: T) => K, options: { colocated?: boolean } = {}): KeyedStream<K, T> {
    return new KeyedStream<K, T>(this, key, options.colocated === true);
  }

  /** Merges streams of the same type (watermark: the minimum of the inputs). */
  union(...others: DataStream<T>[]): DataStream<T> {
    const inputs = [this, ...others].map((s) => ({ ...s.asInput(), input: 0 }));
    return new DataStream<T>(this.builder, this.builder.addNode({ kind: "union" }, {}, inputs));
  }

  /** Pairs this stream with another for a two-input process function (non-keyed). */
  connect<U>(other: DataStream<U>): ConnectedStreams<T, U> {
    return new ConnectedStreams<T, U>(this.asInput(), other.asInput(), this.builder);
  }

  /** Sends every record to every task (rules, configuration), for KeyedStream.connect. */
  broadcast(): BroadcastStream<T> {
    return new BroadcastStream<T>(this);
  }

  /** Records a function of the producing operator emitted to `tag`. */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    return new DataStream<X>(this.builder, this.node, tag.id);
  }

  /** Writes the stream to a sink. */
  sink(sink: Sink<T>, options: OperatorOptions = {}): DataStream<never> {
    return this.then({ kind: "sink", sink: sink }, { name: sink.name, ...options });
  }
}

/** A stream partitioned by key. */
export class KeyedStream<K extends Key, T> {
  /** The stream before partitioning. */
  readonly stream: DataStream<T>;
  /** The key selector. */
  readonly key: (value: T) => K;
  /** The stream arrives partitioned by this key already. */
  readonly colocated: boolean;

  constructor(stream: DataStream<T>, key: (value: T) => K, colocated = false) {
    this.stream = stream;
    this.key = key;
    this.colocated = colocated;
  }

  /** The hash-partitioned input to a keyed node. */
  asInput(): StreamInput {
    const input = this.stream.asInput("hash", this.key);
    return this.colocated ? { ...input, colocated: true } : input;
  }

  /**
   * A keyed process function with state and timers. `state` describes what its state holds, so
   * snapshots record it and a restore into a changed job migrates it or refuses (runtime/state/schema.ts).
   */
  process<O>(factory: Factory<KeyedProcessFunction<K, T, O>>, options: OperatorOptions & { state?: StateLayout } = {}): DataStream<O> {
    const spec: NodeSpec = {
      kind: "keyedProcess",
      factory: factory as unknown as Factory<KeyedProcessFunction<Key, unknown, unknown>>,
      ...(options.state ? { state: options.state } : {}),
    };
    return new DataStream<O>(this.stream.builder, this.stream.builder.addNode(spec, options, [this.asInput()]));
  }

  /** Groups records of each key into windows. */
  window(assigner: WindowAssigner): WindowedStream<K, T> {
    return new WindowedStream<K, T>(this, assigner);
  }

  /** Every `count` records of a key form a window (a global window with a count trigger). */
  countWindow(count: number): WindowedStream<K, T> {
    return new WindowedStream<K, T>(this, { kind: "global" }).trigger({ kind: "count", count });
  }

  /**
   * OVER (RANGE BETWEEN rangeMs PRECEDING AND CURRENT ROW) per key, in event-time order: each
   * record is emitted once the watermark passes it, with the aggregate of its key's records
   * in [ts - rangeMs, ts]. Late records are dropped (as in Flink SQL).
   */
  over<A, O>(options: OperatorOptions & { rangeMs: number; aggregate: AggregateFunction<T, unknown, A>; select: (value: T, result: A) => O }): DataStream<O> {
    const spec: NodeSpec = {
      kind: "over",
      rangeMs: options.rangeMs,
      aggregate: options.aggregate,
      select: options.select as (v: unknown, r: unknown) => unknown,
    };
    return new DataStream<O>(this.stream.builder, this.stream.builder.addNode(spec, options, [this.asInput()]));
  }

  /** Pairs two keyed streams for a keyed co-process function (shared keyed state and timers). */
  connect<U>(other: KeyedStream<K, U>): ConnectedKeyedStreams<K, T, U>;
  /** Pairs this keyed stream with a broadcast stream (rules applied to every key, no restart). */
  connect<U>(other: BroadcastStream<U>): BroadcastConnectedStream<K, T, U>;
  connect<U>(other: KeyedStream<K, U> | BroadcastStream<U>): ConnectedKeyedStreams<K, T, U> | BroadcastConnectedStream<K, T, U> {
    return other instanceof BroadcastStream ? new BroadcastConnectedStream<K, T, U>(this, other) : new ConnectedKeyedStreams<K, T, U>(this, other);
  }
}

/** Two streams feeding one two-input function. */
export class ConnectedStreams<A, B> {
  private readonly first: StreamInput;
  private readonly second: StreamInput;
  private readonly builder: JobBuilder;

  constructor(first: StreamInput, second: StreamInput, builder: JobBuilder) {
    this.first = first;
    this.second = second;
    this.builder = builder;
  }

  /** Applies a two-input function without keyed state. */
  process<O>(factory: Factory<CoProcessFunction<never, A, B, O>>, options: OperatorOptions = {}): DataStream<O> {
    const spec: NodeSpec = { kind: "coProcess", keyed: false, factory: factory as unknown as Factory<CoProcessFunction<Key, unknown, unknown, unknown>> };
    const id = this.builder.addNode(spec, options, [
      { ...this.first, input: 0 },
      { ...this.second, input: 1 },
    ]);
    return new DataStream<O>(this.builder, id);
  }
}

/** Two keyed streams sharing key space, state and timers. */
export class ConnectedKeyedStreams<K extends Key, A, B> {
  private readonly first: KeyedStream<K, A>;
  private readonly second: KeyedStream<K, B>;

  constructor(first: KeyedStream<K, A>, second: KeyedStream<K, B>) {
    this.first = first;
    this.second = second;
  }

  /** Applies a keyed two-input function. */
  process<O>(factory: Factory<CoProcessFunction<K, A, B, O>>, options: OperatorOptions = {}): DataStream<O> {
    const builder = this.first.stream.builder;
    const spec: NodeSpec = { kind: "coProcess", keyed: true, factory: factory as unknown as Factory<CoProcessFunction<Key, unknown, unknown, unknown>> };
    const id = builder.addNode(spec, options, [
      { ...this.first.asInput(), input: 0 },
      { ...this.second.asInput(), input: 1 },
    ]);
    return new DataStream<O>(builder, id);
  }
}

/** A stream whose every record goes to every task. */
export class BroadcastStream<T> {
  /** The stream being broadcast. */
  readonly stream: DataStream<T>;
  constructor(stream: DataStream<T>) {
    this.stream = stream;
  }
}

/** A keyed stream connected with a broadcast stream. */
export class BroadcastConnectedStream<K extends Key, A, B> {
  private readonly keyed: KeyedStream<K, A>;
  private readonly rules: BroadcastStream<B>;

  constructor(keyed: KeyedStream<K, A>, rules: BroadcastStream<B>) {
    this.keyed = keyed;
    this.rules = rules;
  }

  /** Applies a keyed broadcast process function. */
  process<O>(factory: Factory<KeyedBroadcastProcessFunction<K, A, B, O>>, options: OperatorOptions = {}): DataStream<O> {
    const builder = this.keyed.stream.builder;
    const spec: NodeSpec = {
      kind: "broadcastProcess",
      factory: factory as unknown as Factory<KeyedBroadcastProcessFunction<Key, unknown, unknown, unknown>>,
    };
    const id = builder.addNode(spec, options, [
      { ...this.keyed.asInput(), input: 0 },
      { ...this.rules.stream.asInput("broadcast"), input: 1 },
    ]);
    return new DataStream<O>(builder, id);
  }
}

/** Starts a job definition. */
export function job(name: string, config: JobConfig = {}): JobBuilder {
  return new JobBuilder(name, config);
}
