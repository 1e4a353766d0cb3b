/**
 * What metrics read from a running engine when scraped: per-operator record counts (plain
 * counters the instances keep), end-to-end latency histograms of sinks, and the positions of
 * Kafka source partitions (for consumer lag). Only the tasks this process owns are reported.
 */
import type { EngineState } from "../exec/checkpointing.ts";
import type { PartitionPosition } from "./consumer-lag.ts";
import { BucketHistogram, LatencyRecorder, type HistogramSeries } from "./histogram.ts";

/** Records in and out of one operator instance. */
export interface OperatorCount {
  /** Operator uid. */
  operator: string;
  task: number;
  /** Records the instance received (for sources: read from outside). */
  recordsIn: number;
  /** Records the instance emitted (for sinks: written out). */
  recordsOut: number;
}

/** Record counts of every operator instance of the owned tasks. */
export function operatorCounts(state: EngineState): OperatorCount[] {
  const out: OperatorCount[] = [];
  for (const node of state.graph.nodes) {
    const row = state.instances[node.id];
    if (!row) continue;
    for (const task of state.tasks) {
      const inst = row[task];
      if (!inst) continue;
      const kind = node.spec.kind;
      const recordsIn = kind === "source" ? inst.recordsOut : inst.recordsIn;
      const recordsOut = kind === "sink" ? inst.recordsIn : inst.recordsOut;
      out.push({ operator: node.uid, task, recordsIn, recordsOut });
    }
  }
  return out;
}

/** End-to-end latency of each sink operator, merged over the owned tasks (internal repartition sinks are not an end). */
export function sinkLatencies(state: EngineState): HistogramSeries[] {
  const out: HistogramSeries[] = [];
  for (const node of state.graph.nodes) {
    if (node.spec.kind !== "sink" || node.spec.sink.name.startsWith("repartition:")) continue;
    let merged: BucketHistogram | undefined;
    for (const task of state.tasks) {
      const latency = (state.instances[node.id]?.[task]?.op as { latency?: unknown } | undefined)?.latency;
      if (!(latency instanceof LatencyRecorder)) continue;
      merged ??= new BucketHistogram([...latency.histogram.bounds]);
      merged.add(latency.histogram);
    }
    if (merged) out.push({ labels: { operator: node.uid }, histogram: merged });
  }
  return out;
}

/** The Kafka topic a source reads, from its name (`kafka:<topic>` or `repartition:<topic>`). */
export function sourceTopic(name: string): string | undefined {
  for (const prefix of ["kafka:", "repartition:"]) if (name.startsWith(prefix) && name.length > prefix.length) return name.slice(prefix.length);
  return undefined;
}

function offsetOf(position: unknown): number | undefined {
  if (typeof position === "number") return position;
  const next = (position as { next?: unknown } | null | undefined)?.next;
  return typeof next === "number" ? next : undefined;
}

/** Positions of the Kafka partitions the owned tasks read (source partition p is Kafka partition p). */
export function kafkaPositions(state: EngineState): PartitionPosition[] {
  const topics = new Map<string, string>();
  for (const node of state.graph.nodes) {
    if (node.spec.kind !== "source") continue;
    const topic = sourceTopic(node.spec.source.name);
    if (topic !== undefined) topics.set(node.uid, topic);
  }
  const owned = new Set(state.tasks);
  const out: PartitionPosition[] = [];
  for (const s of state.sources) {
    const topic = topics.get(s.uid);
    if (topic === undefined || !s.reader || !owned.has(s.partition)) continue;
    const position = offsetOf(s.reader.position());
    if (position !== undefined) out.push({ topic, partition: s.partition, position });
  }
  return out;
}
