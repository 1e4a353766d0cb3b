/** Maps a graph node to the operator implementation that runs it. */
import type { GraphNode } from "../../graph/graph.ts";
import { overOperator } from "../../window/over-operator.ts";
import { preAggregateOperator } from "../../window/pre-aggregate.ts";
import { windowOperator } from "../../window/window-operator.ts";
import type { Operator } from "../operator.ts";
import { filterOperator, flatMapOperator, mapOperator, processOperator, sinkOperator, unionOperator, type SinkCounter } from "./basic.ts";
import { broadcastProcessOperator } from "./broadcast-process.ts";
import { keyedProcessOperator } from "./keyed-process.ts";

/** Counters shared by all instances of a job. */
export interface JobCounters extends SinkCounter {
  /** Records dropped as late by windows and OVER aggregations without a late side output. */
  lateDropped: number;
}

const noop: Operator = { open: async () => {}, processElement: () => {} };

/** Creates the operator instance of a node for one task. */
export function createOperator(node: GraphNode, counters: JobCounters): Operator {
  const spec = node.spec;
  const onLateDropped = (n = 1): void => {
    counters.lateDropped += n;
  };
  switch (spec.kind) {
    case "source":
      return noop;
    case "map":
      return mapOperator(spec.fn);
    case "filter":
      return filterOperator(spec.fn);
    case "flatMap":
      return flatMapOperator(spec.fn);
    case "union":
      return unionOperator();
    case "process":
      return processOperator(spec.factory);
    case "keyedProcess":
      return keyedProcessOperator({ kind: "single", factory: spec.factory });
    case "coProcess":
      return keyedProcessOperator({ kind: "co", keyed: spec.keyed, factory: spec.factory });
    case "broadcastProcess":
      return broadcastProcessOperator(spec.factory);
    case "window":
      return windowOperator({ ...spec, onLateDropped });
    case "preAggregate":
      return preAggregateOperator(spec);
    case "over":
      return overOperator({ ...spec, onLateDropped });
    case "sink":
      return sinkOperator(spec.sink, counters);
  }
}
