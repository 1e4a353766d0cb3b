/**
 * The types of the variables of every CEL expression in a pipeline. Record shapes (field → CEL
 * type) start at sources that declare `fields` (or read strings/bytes as {value}) and flow along
 * the graph: steps that pass records on keep the shape exactly; steps that build records (project,
 * window and over outputs, select/emit maps, score and lookup fields) derive a new shape from their
 * expressions' types. Two tiers: `declared` uses only exact shapes (an error there is certain),
 * `inferred` adds the derived ones (an error there is reported as a warning).
 */
import { check } from "../cel/compile.ts";
import { elementType, parseDeclaredType, portableType, timerType, windowType, type ObjectType, type Scope, type TypeString } from "../cel/types.ts";
import type { CelSite } from "./cel-sites.ts";
import type { Aggregation, Step } from "./generated/types.ts";
import { mainInputs, parseRef, topologicalSteps, type PipelineGraph } from "./pipeline-graph.ts";

/** A record's fields as far as known; `fields` undefined means a map of unknown fields. */
export interface Shape {
  fields?: Readonly<Record<string, TypeString>>;
  /** True when the fields come from declarations through pass-through steps only. */
  exact: boolean;
}

/** Which shapes a scope may use. */
export type Tier = "declared" | "inferred";

/** Shapes and key types of every stream of a pipeline (by reference: `id` or `id.output`). */
export interface PipelineTypes {
  graph: PipelineGraph;
  shapes: Map<string, Shape>;
  keys: Map<string, TypeString>;
}

const OPEN: Shape = { exact: true };

/** Infers the record shape and key type of every stream, in topological order. */
export function inferTypes(graph: PipelineGraph): PipelineTypes {
  const t: PipelineTypes = { graph, shapes: new Map(), keys: new Map() };
  for (const n of graph.sources) {
    const src = n.source;
    const declared = src?.fields ? Object.fromEntries(Object.entries(src.fields).map(([k, v]) => [k, parseDeclaredType(v) ?? "dyn"])) : undefined;
    const format = src?.kafka?.format ?? "json";
    t.shapes.set(n.id, declared ? { fields: declared, exact: true } : format === "json" ? OPEN : { fields: { value: "string" }, exact: true });
    // A Kafka key may be absent (null) whatever its format, so a source's key stays dyn.
    t.keys.set(n.id, "dyn");
  }
  for (const n of topologicalSteps(graph)) inferStep(t, n.id, n.step as Step);
  return t;
}

/** The shape of a stream (`id`, `id.output`, `dead-letter`); unknown streams are open maps. */
export function shapeOf(t: PipelineTypes, ref: string | undefined): Shape {
  return (ref !== undefined ? t.shapes.get(ref) : undefined) ?? OPEN;
}

function keyOf(t: PipelineTypes, ref: string | undefined): TypeString {
  return (ref !== undefined ? (t.keys.get(ref) ?? t.keys.get(parseRef(ref).id)) : undefined) ?? "dyn";
}

/** The type an expression has in a scope, `dyn` when it does not check (that is reported elsewhere). */
function typeOf(expression: string, scope: Scope): TypeString {
  const r = check(expression, { ...scope, returns: "dyn" });
  return r.ok ? portableType(r.type) : "dyn";
}

function derived(fields: Record<string, TypeString>): Shape {
  return { fields, exact: false };
}

function extend(base: Shape, extra: Record<string, TypeString>): Shape {
  return base.fields ? derived({ ...base.fields, ...extra }) : OPEN;
}

/** The output fields of aggregations (count → int, avg → double, collect → list, …). */
function aggregationFields(aggs: readonly Aggregation[], scope: Scope): Record<string, TypeString> {
  const out: Record<string, TypeString> = {};
  for (const a of aggs) {
    const of = a.of !== undefined ? typeOf(a.of, scope) : "dyn";
    if (a.fn === "count" || a.fn === "countDistinct") out[a.name] = "int";
    else if (a.fn === "avg") out[a.name] = "double";
    else if (a.fn === "sum") out[a.name] = of === "int" || of === "double" ? of : "dyn";
    else if (a.fn === "collect") out[a.name] = `list<${of}>`;
    else if (a.fn === "topN") out[a.name] = "list<dyn>";
    else out[a.name] = of;
  }
  return out;
}

/** A record built field by field from expressions (select, emit, project fields). */
function built(fields: Readonly<Record<string, string>>, scope: Scope): Shape {
  return derived(Object.fromEntries(Object.entries(fields).map(([k, e]) => [k, typeOf(e, scope)])));
}

/** The default output of a window step (before select): key, window bounds and aggregations. */
function windowOutput(t: PipelineTypes, step: Step, input: string | undefined): Shape {
  const scope = scopeOf("inferred", "dyn", { record: shapeOf(t, input), key: keyOf(t, input) });
  return derived({ key: keyOf(t, input), windowStart: "int", windowEnd: "int", ...aggregationFields(step.window?.aggregations ?? [], scope) });
}

/** The default output of an over step (before select): the input record plus the aggregations. */
function overOutput(t: PipelineTypes, step: Step, input: string | undefined): Shape {
  const scope = scopeOf("inferred", "dyn", { record: shapeOf(t, input), key: keyOf(t, input) });
  return extend(shapeOf(t, input), aggregationFields(step.over?.aggregations ?? [], scope));
}

/** Records the output shapes and key type of one step. */
function inferStep(t: PipelineTypes, id: string, step: Step): void {
  const inputs = mainInputs(t.graph, id).map((r) => r.ref);
  const input = inputs[0];
  const inShape = shapeOf(t, input);
  const key = keyOf(t, input);
  const recScope = (): Scope => scopeOf("inferred", "dyn", { record: inShape, key });
  let out: Shape = inShape;
  let outKey = key;
  const side = (name: string, shape: Shape): void => void t.shapes.set(`${id}.${name}`, shape);
  if (step.filter) side("rejected", inShape);
  if (step.clean) side("invalid", inShape);
  for (const r of step.route?.routes ?? []) side(r.name, inShape);
  if (step.keyBy) outKey = typeOf(step.keyBy.key, recScope());
  if (step.union) {
    const shapes = inputs.map((r) => shapeOf(t, r));
    const same = shapes.every((s) => JSON.stringify(s.fields) === JSON.stringify(shapes[0]?.fields));
    out = same && shapes[0] ? { ...shapes[0], exact: shapes.every((s) => s.exact) } : OPEN;
    const keys = inputs.map((r) => keyOf(t, r));
    outKey = keys.every((k) => k === keys[0]) ? key : "dyn";
  }
  if (step.map) out = OPEN;
  if (step.project) {
    const fields = built(step.project.fields, recScope()).fields ?? {};
    const kept =
      step.project.keep === true
        ? inShape.fields
          ? Object.fromEntries(Object.entries(inShape.fields).filter(([k]) => !(step.project?.drop ?? []).includes(k)))
          : undefined
        : {};
    out = kept ? derived({ ...kept, ...fields }) : OPEN;
  }
  if (step.explode) {
    const as = step.explode.as;
    const elem = elementType(typeOf(step.explode.expression, recScope()));
    out = as === undefined ? OPEN : step.explode.keepParent === false ? derived({ [as]: elem }) : extend(inShape, { [as]: elem });
  }
  if (step.score) {
    const th = step.score.threshold;
    out = extend(inShape, { [step.score.as ?? "score"]: "double", ...(th ? { [th.field ?? "decision"]: "string" } : {}) });
  }
  if (step.window) {
    const def = windowOutput(t, step, input);
    out = step.window.select ? built(step.window.select, scopeOf("inferred", "dyn", { record: def, key, window: true })) : def;
    side("late", inShape);
  }
  if (step.over) {
    const def = overOutput(t, step, input);
    out = step.over.select ? built(step.over.select, scopeOf("inferred", "dyn", { record: def, key })) : def;
  }
  if (step.process) {
    const emits = [...step.process.onRecord, ...(step.process.timers ?? []).flatMap((tm) => tm.actions)].filter((a) => a.emit && a.emitTo === undefined);
    const scope = scopeOf("inferred", "dyn", { record: inShape, key, state: stateType(step), timer: true });
    const names = emits.map((a) =>
      Object.keys(a.emit ?? {})
        .sort()
        .join(","),
    );
    out = emits.length > 0 && names.every((n) => n === names[0]) ? built(emits[0]?.emit ?? {}, scope) : OPEN;
  }
  if (step.cep) {
    const stages = step.cep.stages.map((s) => s.name);
    out = step.cep.select
      ? built(step.cep.select, scopeOf("inferred", "dyn", { record: inShape, key, match: stages }))
      : derived({ key, match: "map<string, list<dyn>>" });
  }
  if (step.broadcastRules) {
    const rule = shapeOf(t, step.broadcastRules.rules);
    out = step.broadcastRules.emit
      ? built(step.broadcastRules.emit, scopeOf("inferred", "dyn", { record: inShape, key, rule }))
      : extend(inShape, { rule: "dyn", action: "dyn" });
  }
  if (step.lookupJoin) {
    const lj = step.lookupJoin;
    const row: Shape | "nullable" = (lj.type ?? "left") === "left" ? "nullable" : shapeOf(t, lj.table);
    out = lj.select ? built(lj.select, scopeOf("inferred", "dyn", { record: inShape, key, row })) : extend(inShape, { [lj.as ?? "row"]: "dyn" });
  }
  t.shapes.set(id, out);
  t.keys.set(id, outKey);
}

/** The `state` object of a process step: value states typed by their `initial`, lists and maps of dyn. */
function stateType(step: Step): Record<string, TypeString> {
  const keyScope = scopeOf("inferred", "dyn", { key: "dyn" });
  const out: Record<string, TypeString> = {};
  for (const s of step.process?.state ?? []) {
    out[s.name] = s.kind === "list" ? "list<dyn>" : s.kind === "map" ? "map<string, dyn>" : s.initial !== undefined ? typeOf(s.initial, keyScope) : "dyn";
  }
  return out;
}

/** What a scope's variables are bound to. */
interface Bindings {
  record?: Shape;
  key?: TypeString;
  rule?: Shape;
  /** A lookup row; `nullable` for left joins (then it is dyn: null or a row). */
  row?: Shape | "nullable";
  state?: Record<string, TypeString>;
  /** CEP stage names. */
  match?: readonly string[];
  window?: true;
  timer?: true;
}

/** Builds a scope from bindings; a shape is used as an object type when the tier allows it. */
function scopeOf(tier: Tier, returns: Scope["returns"], b: Bindings, only?: readonly string[]): Scope {
  const types: ObjectType[] = [];
  const vars: Record<string, TypeString> = {};
  const object = (name: string, shape: Shape | undefined, fallback: TypeString): TypeString => {
    if (!shape?.fields || (tier === "declared" && !shape.exact)) return fallback;
    types.push({ name, fields: shape.fields });
    return name;
  };
  const recordType = object("Record", b.record, "map");
  if (b.record) vars.record = recordType;
  if (b.key !== undefined) vars.key = b.key;
  if (b.rule) vars.rule = object("Rule", b.rule, "map");
  if (b.row) vars.row = b.row === "nullable" ? "dyn" : object("Row", b.row, "map");
  if (b.state) {
    types.push({ name: "State", fields: b.state });
    vars.state = "State";
  }
  if (b.match) {
    const elem = recordType === "Record" ? "Record" : "dyn";
    types.push({ name: "Match", fields: Object.fromEntries(b.match.map((s) => [s, `list<${elem}>`])) });
    vars.match = "Match";
  }
  if (b.window) {
    types.push(windowType);
    vars.window = windowType.name;
  }
  if (b.timer) {
    types.push(timerType);
    vars.timer = timerType.name;
  }
  const picked = only ? Object.fromEntries(only.map((v) => [v, vars[v] ?? "dyn"])) : vars;
  return { returns, vars: picked, types };
}

const sitePath = /^\.spec\.pipeline\.(sources|steps|sinks)\[(\d+)\]\.(.*)$/;

/** The scope of one CEL site of the pipeline in a tier: its variables typed as far as the tier knows. */
export function siteScope(t: PipelineTypes, site: CelSite, tier: Tier): Scope {
  const m = sitePath.exec(site.path);
  const fallback = scopeOf(tier, site.returns, {}, site.vars);
  if (!m) return fallback;
  const [, kind, index, rest = ""] = m;
  const i = Number(index);
  const p = t.graph.pipeline;
  if (kind === "sources") {
    const id = p.sources[i]?.id;
    return scopeOf(tier, site.returns, { record: shapeOf(t, id), key: keyOf(t, id) }, site.vars);
  }
  if (kind === "sinks") {
    const input = p.sinks[i]?.input;
    return scopeOf(tier, site.returns, { record: shapeOf(t, input), key: keyOf(t, input) }, site.vars);
  }
  const step = p.steps?.[i];
  if (!step) return fallback;
  const input = mainInputs(t.graph, step.id)[0]?.ref;
  const b: Bindings = { record: shapeOf(t, input), key: keyOf(t, input) };
  if (step.window && rest.startsWith("window.select"))
    return scopeOf(tier, site.returns, { ...b, record: windowOutput(t, step, input), window: true }, site.vars);
  if (step.over && rest.startsWith("over.select")) return scopeOf(tier, site.returns, { ...b, record: overOutput(t, step, input) }, site.vars);
  if (step.process) return scopeOf(tier, site.returns, { ...b, state: stateType(step), timer: true }, site.vars);
  if (step.cep) return scopeOf(tier, site.returns, { ...b, match: step.cep.stages.map((s) => s.name) }, site.vars);
  if (step.broadcastRules) return scopeOf(tier, site.returns, { ...b, rule: shapeOf(t, step.broadcastRules.rules) }, site.vars);
  if (step.lookupJoin) {
    const table = shapeOf(t, step.lookupJoin.table);
    const nullable = rest.startsWith("lookupJoin.select") && (step.lookupJoin.type ?? "left") === "left";
    return scopeOf(tier, site.returns, { ...b, row: nullable ? "nullable" : table }, site.vars);
  }
  return scopeOf(tier, site.returns, b, site.vars);
}
