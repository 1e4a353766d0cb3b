/**
 * Connects operator instances along the graph's edges: forward edges become direct calls,
 * hash and broadcast edges an Exchange, and each instance's watermark combiner gets one
 * channel per upstream (task). Only active instances are wired into the engine's schedules.
 */
import type { Key } from "../api/functions.ts";
import type { JobGraph } from "../graph/graph.ts";
import { MIN_WATERMARK, WatermarkCombiner } from "../time/watermarks.ts";
import { Exchange } from "./exchange.ts";
import type { Instance } from "./instance.ts";

/** The engine's schedules, filled by wireInstances. */
export interface Wiring {
  /** Exchange-fed active instances grouped by node, nodes in topological order. */
  headGroups: Instance[][];
  /** Active instances with processing-time timers. */
  timed: Instance[];
  /** Active sink instances. */
  sinks: Instance[];
  /** Every exchange (the engine checks that nothing is routed to a task it does not run). */
  exchanges: Exchange[];
  /** Active instances that hold records back until flushed (pre-aggregations). */
  holding: Instance[];
}

/** Wires `instances[node][task]`; `active(node, task)` tells which instances this process runs. */
export function wireInstances(graph: JobGraph, parallelism: number, instances: Instance[][], active: (node: number, task: number) => boolean): Wiring {
  const inst = (node: number, task: number): Instance => (instances[node] as Instance[])[task] as Instance;
  const wiring: Wiring = { headGroups: [], timed: [], sinks: [], exchanges: [], holding: [] };
  for (const node of graph.nodes) {
    const inputs = graph.edges.filter((e) => e.to === node.id).sort((a, b) => a.input - b.input);
    let channels = 0;
    const plan = inputs.map((e) => {
      const first = channels;
      channels += e.partitioning === "forward" ? 1 : parallelism;
      return { e, first };
    });
    for (let task = 0; task < parallelism; task++) inst(node.id, task).combiner = new WatermarkCombiner(channels);
    for (const { e, first } of plan) {
      const exchange =
        e.partitioning === "forward"
          ? undefined
          : new Exchange({
              input: e.input,
              from: e.from,
              to: node.id,
              parallelism,
              partitioning: e.partitioning,
              ...(e.key ? { key: e.key as (v: unknown) => Key } : {}),
              // Broadcast records go only to the tasks this process runs (the others run elsewhere).
              targets: Array.from({ length: parallelism }, (_, t) => t).filter((t) => active(node.id, t)),
            });
      if (exchange) {
        wiring.exchanges.push(exchange);
        // An upstream task another process runs never reports here: leave it out of the minimum.
        for (let task = 0; task < parallelism; task++) if (!active(e.from, task)) exchange.setWatermark(task, MIN_WATERMARK, true);
      }
      for (let task = 0; task < parallelism; task++) {
        const up = inst(e.from, task);
        const target = exchange
          ? ({ kind: "exchange", exchange } as const)
          : ({ kind: "forward", to: inst(node.id, task), input: e.input, channel: first } as const);
        if (e.tag === undefined) up.main.push(target);
        else {
          const list = up.side.get(e.tag) ?? [];
          list.push(target);
          up.side.set(e.tag, list);
        }
        if (exchange) inst(node.id, task).exchangeInputs.push({ exchange, channel: first });
      }
    }
    const group = (instances[node.id] as Instance[]).filter((i) => i.exchangeInputs.length > 0 && active(node.id, i.task));
    if (group.length > 0) wiring.headGroups.push(group);
    for (let task = 0; task < parallelism; task++) {
      if (!active(node.id, task)) continue;
      const i = inst(node.id, task);
      if (i.op.prepareProcessingTime) wiring.timed.push(i);
      if (i.op.flush) wiring.holding.push(i);
      if (node.spec.kind === "sink") wiring.sinks.push(i);
    }
  }
  return wiring;
}
