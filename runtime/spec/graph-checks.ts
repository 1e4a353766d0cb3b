/**
 * Checks of the pipeline graph that a schema cannot express: references to streams that do not
 * exist, cycles, keyed operators without a keyBy, side outputs read but never produced, unused
 * streams, process-step state and timer names, and window/CEP/dedup durations that Flink would
 * reject or that only waste state.
 */
import { parseDuration } from "./duration.ts";
import { finding, type Finding } from "./findings.ts";
import type { Pipeline, ProcessStep, Step, StreamJobSpec } from "./generated/types.ts";
import { closest } from "./paths.ts";
import {
  buildGraph,
  DEAD_LETTER,
  findCycles,
  isKeyed,
  parseRef,
  producesDeadLetter,
  sideOutputs,
  type PipelineGraph,
  type StreamRef,
} from "./pipeline-graph.ts";

/** Operators whose state is per key: their input must be keyed. */
const keyedOperators = new Set(["window", "process", "cep", "dedup", "over"]);

/** How to make a step produce a side output it does not, by output name. */
const enableOutput: Record<string, string> = {
  late: "set lateOutput: true on its window",
  rejected: "set onReject: side-output on its filter",
  invalid: "set onInvalid: side-output on its clean step",
  timedOut: "set timedOut: true on its cep step (with within)",
};

/** Sliding windows per record above which a warning explains the cost. */
const maxWindowsPerRecord = 100;

/** Runs every graph check on a schema-valid spec with a pipeline; returns errors and warnings. */
export function checkGraph(spec: StreamJobSpec): Finding[] {
  if (!spec.pipeline) return [];
  const graph = buildGraph(spec.pipeline);
  const references = checkReferences(graph);
  return [
    ...references,
    ...checkCycles(graph),
    ...checkKeyedInputs(graph),
    ...checkUnused(graph, suggested(references)),
    ...graph.steps.flatMap((n) => checkStep(n.step as Step, n.path, spec)),
    ...checkSinks(spec.pipeline),
  ];
}

/** Every reference names an existing stream of the right kind. */
function checkReferences(graph: PipelineGraph): Finding[] {
  const out: Finding[] = [];
  const known = [...graph.nodes.keys()];
  for (const r of graph.refs) {
    if (r.ref === DEAD_LETTER) {
      if (r.role !== "input") out.push(finding("error", r.path, `must name a source, not the ${DEAD_LETTER} stream`));
      else if (!producesDeadLetter(graph.pipeline))
        out.push(
          finding(
            "warning",
            r.path,
            `no source or step sends records to ${DEAD_LETTER}, so this stays empty`,
            "every step has onError other than dead-letter, no filter/clean routes there, and no stream source reads a file, declares fields or reads event time",
          ),
        );
      continue;
    }
    const { id, output } = parseRef(r.ref);
    const node = graph.nodes.get(id);
    if (!node) {
      const isSink = graph.pipeline.sinks.some((s) => s.id === id);
      const guess = closest(id, known);
      out.push(
        finding(
          "error",
          r.path,
          `unknown stream ${JSON.stringify(id)}`,
          isSink
            ? `${id} is a sink; sinks write streams, they cannot be read`
            : guess
              ? `did you mean ${guess}?`
              : `known sources and steps: ${known.join(", ")}`,
        ),
      );
      continue;
    }
    if (r.role === "rules" || r.role === "table") {
      const mode = r.role === "rules" ? "broadcast" : "table";
      if (node.kind !== "source" || output !== undefined)
        out.push(
          finding(
            "error",
            r.path,
            `must name a source with mode: ${mode}`,
            `${r.ref} is a step; ${r.role === "rules" ? "rules" : "a lookup table"} must come straight from a source`,
          ),
        );
      else if ((node.source?.mode ?? "stream") !== mode)
        out.push(
          finding(
            "error",
            r.path,
            `source ${id} must have mode: ${mode}`,
            `set mode: ${mode} on .spec.pipeline.sources[${node.index}] (it is ${node.source?.mode ?? "stream"})`,
          ),
        );
      continue;
    }
    if (output === undefined) continue;
    if (node.kind === "source") {
      out.push(finding("error", r.path, `source ${id} has no side outputs`, `read ${id} itself, or the side output of a step`));
      continue;
    }
    const produced = sideOutputs(node.step as Step);
    if (!produced.includes(output)) {
      const guess = closest(output, produced);
      const how = enableOutput[output];
      out.push(
        finding(
          "error",
          r.path,
          `step ${id} has no side output ${JSON.stringify(output)}`,
          guess
            ? `did you mean ${id}.${guess}?`
            : how
              ? `${how} (${node.path})`
              : produced.length
                ? `${id} produces: ${produced.map((p) => `${id}.${p}`).join(", ")}`
                : `${id} (${node.operator}) produces no side outputs`,
        ),
      );
    }
  }
  return out;
}

/** The ids suggested by "did you mean" hints: once the typo is fixed they are read, so no unused warning for them. */
function suggested(findings: readonly Finding[]): Set<string> {
  return new Set(
    findings.flatMap((f) => {
      const ref = /^did you mean ([^?\s]+)\?/.exec(f.hint ?? "")?.[1];
      return ref === undefined ? [] : [ref, parseRef(ref).id];
    }),
  );
}

/** No step reads its own output, directly or through others. */
function checkCycles(graph: PipelineGraph): Finding[] {
  return findCycles(graph).map(({ ref, cycle }) =>
    finding(
      "error",
      ref.path,
      `cycle: ${cycle.join(" → ")}`,
      cycle.length === 2 ? "a step cannot read its own output" : "streams must flow from sources to sinks; break the loop by reading an earlier stream",
    ),
  );
}

/** Keyed operators read a keyed stream. */
function checkKeyedInputs(graph: PipelineGraph): Finding[] {
  const out: Finding[] = [];
  for (const n of graph.steps) {
    if (!keyedOperators.has(n.operator)) continue;
    const input = graph.refs.find((r) => r.owner === n.id && r.ownerKind === "step" && r.role === "input");
    if (!input || !graph.nodes.has(parseRef(input.ref).id) || isKeyed(graph, input.ref)) continue;
    const field = upstreamPartitionField(graph, input) ?? "<field>";
    out.push(
      finding(
        "error",
        input.path,
        `${n.operator} needs a keyed input, but ${input.ref} is not keyed`,
        `add a keyBy step and read it: {id: ${parseRef(input.ref).id}-by-key, input: ${input.ref}, keyBy: {key: record.${field}}}`,
      ),
    );
  }
  return out;
}

/** The `partitionedBy` field of the source a reference descends from, for a keyBy suggestion. */
function upstreamPartitionField(graph: PipelineGraph, ref: StreamRef, depth = 0): string | undefined {
  const node = graph.nodes.get(parseRef(ref.ref).id);
  if (!node || depth > 64) return undefined;
  if (node.kind === "source") return node.source?.kafka?.partitionedBy;
  const next = graph.refs.find((r) => r.owner === node.id && r.ownerKind === "step" && r.role === "input");
  return next ? upstreamPartitionField(graph, next, depth + 1) : undefined;
}

/** Sources, steps and enabled side outputs nobody reads (warnings: legal, but likely a mistake). */
function checkUnused(graph: PipelineGraph, alsoRead: ReadonlySet<string>): Finding[] {
  const out: Finding[] = [];
  const read = new Set([...graph.refs.map((r) => r.ref), ...alsoRead]);
  const readIds = new Set([...graph.refs.map((r) => parseRef(r.ref).id), ...alsoRead]);
  for (const n of graph.sources)
    if (!readIds.has(n.id)) out.push(finding("warning", n.path, `source ${n.id} is never read`, "remove it, or name it in a step's or sink's input"));
  for (const n of graph.steps) {
    if (!readIds.has(n.id)) {
      out.push(finding("warning", n.path, `the output of step ${n.id} is never read`, "name it in a sink's or step's input, or remove the step"));
      continue;
    }
    const step = n.step as Step;
    for (const name of sideOutputs(step)) {
      if (read.has(`${n.id}.${name}`)) continue;
      out.push(
        finding(
          "warning",
          sideOutputPath(step, n.path, name),
          `side output ${n.id}.${name} is never read, so its records are lost`,
          `add a sink with input: ${n.id}.${name}`,
        ),
      );
    }
  }
  return out;
}

/** The field that enables a side output, for warnings about it. */
function sideOutputPath(step: Step, path: string, name: string): string {
  if (step.filter) return `${path}.filter.onReject`;
  if (step.clean) return `${path}.clean.onInvalid`;
  if (step.window) return `${path}.window.lateOutput`;
  if (step.cep) return `${path}.cep.timedOut`;
  const i = step.route?.routes.findIndex((r) => r.name === name) ?? -1;
  return i >= 0 ? `${path}.route.routes[${i}].name` : `${path}.process`;
}

/** Per-operator checks: durations, CEP expiry, process state and timers, score fields, union inputs. */
function checkStep(step: Step, path: string, spec: StreamJobSpec): Finding[] {
  const out: Finding[] = [];
  const positive = (value: string | undefined, at: string, what: string): void => {
    if (value !== undefined && parseDuration(value) === 0) out.push(finding("error", at, `${what} must be greater than 0`, `got ${value}`));
  };
  const w = step.window;
  if (w) {
    positive(w.size, `${path}.window.size`, "window size");
    positive(w.slide, `${path}.window.slide`, "slide");
    positive(w.gap, `${path}.window.gap`, "session gap");
    const size = w.size === undefined ? 0 : parseDuration(w.size);
    const slide = w.slide === undefined ? 0 : parseDuration(w.slide);
    if (w.offset !== undefined && size > 0 && parseDuration(w.offset) === size)
      out.push(
        finding(
          "error",
          `${path}.window.offset`,
          "offset must be smaller than size",
          `an offset equal to the size (${w.size}) is no shift; use 0s or less than ${w.size}`,
        ),
      );
    if (w.type === "sliding" && size > 0 && slide > 0 && slide <= size) {
      if (size % slide !== 0)
        out.push(
          finding(
            "warning",
            `${path}.window.slide`,
            `size ${w.size} is not a multiple of slide ${w.slide}`,
            "allowed, but windows then cover uneven numbers of slides; pick a slide that divides the size",
          ),
        );
      if (size / slide > maxWindowsPerRecord)
        out.push(
          finding(
            "warning",
            `${path}.window.slide`,
            `each record falls into ${Math.ceil(size / slide)} windows`,
            "state and work grow with size/slide; use a larger slide or an over step",
          ),
        );
    }
  }
  if (step.dedup) positive(step.dedup.within, `${path}.dedup.within`, "dedup within");
  const cep = step.cep;
  if (cep) {
    positive(cep.within, `${path}.cep.within`, "within");
    if (cep.within === undefined) {
      if (cep.timedOut === true)
        out.push(finding("error", `${path}.cep.timedOut`, "timedOut needs within", "a partial match only times out when within passes; set within"));
      const open = cep.stages.findIndex((s) => (s.oneOrMore === true || s.timesOrMore !== undefined) && s.until === undefined);
      if (open >= 0)
        out.push(
          finding(
            "warning",
            `${path}.cep.stages[${open}]`,
            `stage ${cep.stages[open]?.name ?? ""} loops without an upper bound and the pattern has no within`,
            "partial matches are then kept in state forever; set within (or until)",
          ),
        );
    }
  }
  if (step.process) out.push(...checkProcess(step.process, `${path}.process`));
  const sc = step.score;
  if (sc?.threshold && (sc.threshold.field ?? "decision") === (sc.as ?? "score"))
    out.push(
      finding(
        "error",
        `${path}.score.threshold.field`,
        `the decision field ${JSON.stringify(sc.as ?? "score")} would overwrite the score`,
        "give threshold.field and as different names",
      ),
    );
  step.inputs?.forEach((ref, i) => {
    if (step.inputs?.indexOf(ref) !== i)
      out.push(finding("warning", `${path}.inputs[${i}]`, `${ref} is merged twice, so each of its records appears twice`, "list each input once"));
  });
  if (step.keyBy?.partitions !== undefined && step.keyBy.partitions < (spec.parallelism ?? 1)) {
    out.push(
      finding(
        "warning",
        `${path}.keyBy.partitions`,
        `the repartition topic has ${step.keyBy.partitions} partitions but parallelism is ${spec.parallelism ?? 1}`,
        "workers beyond the partition count get no tasks downstream of this keyBy",
      ),
    );
  }
  return out;
}

/** State and timer names used by a process step are declared with the right kind; every timer can fire. */
function checkProcess(p: ProcessStep, path: string): Finding[] {
  const out: Finding[] = [];
  const states = new Map((p.state ?? []).map((s) => [s.name, s.kind]));
  const timers = (p.timers ?? []).map((t) => t.name);
  const scheduled = new Set<string>();
  const needState = (name: string, kind: "value" | "list" | "map" | undefined, at: string, verb: string): void => {
    const actual = states.get(name);
    if (actual === undefined) {
      const guess = closest(name, [...states.keys()]);
      out.push(
        finding(
          "error",
          at,
          `unknown state ${JSON.stringify(name)}`,
          guess ? `did you mean ${guess}?` : `declare it under process.state${kind ? ` with kind: ${kind}` : ""}`,
        ),
      );
    } else if (kind && actual !== kind)
      out.push(
        finding(
          "error",
          at,
          `${verb} needs a ${kind} state, but ${name} is a ${actual} state`,
          kind === "value" ? "use put/append for map and list states" : `declare ${name} with kind: ${kind}`,
        ),
      );
  };
  const needTimer = (name: string, at: string): void => {
    if (timers.includes(name)) return;
    const guess = closest(name, timers);
    out.push(finding("error", at, `unknown timer ${JSON.stringify(name)}`, guess ? `did you mean ${guess}?` : "declare it under process.timers"));
  };
  const actionLists = [
    { actions: p.onRecord, at: `${path}.onRecord` },
    ...(p.timers ?? []).map((t, i) => ({ actions: t.actions, at: `${path}.timers[${i}].actions` })),
  ];
  for (const { actions, at } of actionLists) {
    actions.forEach((a, i) => {
      const ap = `${at}[${i}]`;
      for (const name of Object.keys(a.set ?? {})) needState(name, "value", `${ap}.set.${name}`, "set");
      if (a.put) needState(a.put.state, "map", `${ap}.put.state`, "put");
      if (a.remove) needState(a.remove.state, "map", `${ap}.remove.state`, "remove");
      if (a.append) needState(a.append.state, "list", `${ap}.append.state`, "append");
      a.clear?.forEach((name, j) => needState(name, undefined, `${ap}.clear[${j}]`, "clear"));
      if (a.schedule) {
        needTimer(a.schedule.timer, `${ap}.schedule.timer`);
        scheduled.add(a.schedule.timer);
      }
      if (a.cancel !== undefined) needTimer(a.cancel, `${ap}.cancel`);
    });
  }
  (p.timers ?? []).forEach((t, i) => {
    if (t.every !== undefined && parseDuration(t.every) === 0)
      out.push(finding("error", `${path}.timers[${i}].every`, "every must be greater than 0", `got ${t.every}`));
    if (t.every === undefined && !scheduled.has(t.name))
      out.push(finding("warning", `${path}.timers[${i}]`, `timer ${t.name} never fires`, "schedule it from an action, or set every"));
  });
  return out;
}

/** Sinks that write a topic the job also reads (a loop through Kafka). */
function checkSinks(pipeline: Pipeline): Finding[] {
  const out: Finding[] = [];
  pipeline.sinks.forEach((s, i) => {
    const topic = s.kafka?.topic;
    const src = pipeline.sources.find((so) => so.kafka?.topic === topic);
    if (topic !== undefined && src)
      out.push(
        finding(
          "warning",
          `.spec.pipeline.sinks[${i}].kafka.topic`,
          `the job also reads topic ${topic} (source ${src.id}), so its output loops back into it`,
          "write to another topic unless the loop is intended",
        ),
      );
  });
  return out;
}
