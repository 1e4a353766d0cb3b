// Pipeline graph checks: each rule with a manifest that triggers it and one that does not.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { checkGraph } from "../../../runtime/spec/graph-checks.ts";
import type { Finding } from "../../../runtime/spec/findings.ts";
import type { StreamJobSpec } from "../../../runtime/spec/generated/types.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";
import { formatErrors, parseStreamJob } from "../../../runtime/spec/validate.ts";

type O = Record<string, unknown>;

const events = { id: "events", kafka: { topic: "events", partitionedBy: "userId" } };
const keyed = { id: "keyed", input: "events", keyBy: { key: "record.userId" } };
const out = (input: string, id = "out"): O => ({ id, input, stdout: {} });
const tumbling = (input: string, extra: O = {}): O => ({
  id: "win",
  input,
  window: { type: "tumbling", size: "1m", aggregations: [{ name: "total", fn: "count" }], ...extra },
});

/** A schema-valid spec (defaults applied) around the given pipeline parts. */
function spec(p: { sources?: O[]; steps?: O[]; sinks: O[] }, extra: O = {}): StreamJobSpec {
  const doc = {
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name: "t" },
    spec: {
      kafka: { bootstrapServers: ["kafka:9092"] },
      ...extra,
      pipeline: { sources: p.sources ?? [events], ...(p.steps ? { steps: p.steps } : {}), sinks: p.sinks },
    },
  };
  const { value, errors } = parseStreamJob(doc);
  expect(formatErrors(errors)).toBe("");
  return value.spec;
}

function at(findings: Finding[], path: string): Finding[] {
  return findings.filter((f) => f.path === path);
}

describe("graph checks on the example manifests", () => {
  it.each(["analytics.yaml", "recommendation.yaml", "risk.yaml"])("%s has no graph findings", (file) => {
    const { value } = parseStreamJob(parseManifests(readFileSync(join(repoRoot, "test/fixtures/streamjobs", file), "utf8"))[0]);
    expect(checkGraph(value.spec)).toEqual([]);
  });
});

describe("references", () => {
  it("reports an unknown input with a did-you-mean hint, and a correct one not at all", () => {
    const bad = checkGraph(spec({ steps: [{ id: "big", input: "evnts", filter: { condition: "true" } }], sinks: [out("big")] }));
    expect(bad).toEqual([{ path: ".spec.pipeline.steps[0].input", message: 'unknown stream "evnts"', hint: "did you mean events?", severity: "error" }]);
    expect(checkGraph(spec({ steps: [{ id: "big", input: "events", filter: { condition: "true" } }], sinks: [out("big")] }))).toEqual([]);
  });

  it("lists the known streams when no name is close", () => {
    const [f] = checkGraph(spec({ sinks: [out("zzzzzzzz")] }));
    expect(f?.hint).toBe("known sources and steps: events");
  });

  it("says a sink cannot be read", () => {
    const f = checkGraph(spec({ steps: [{ id: "copy", input: "out", filter: { condition: "true" } }], sinks: [out("copy")] }));
    expect(at(f, ".spec.pipeline.steps[0].input")[0]?.hint).toBe("out is a sink; sinks write streams, they cannot be read");
  });

  it("requires broadcast rules and lookup tables to come from sources of that mode", () => {
    const sources = [events, { id: "rules", kafka: { topic: "rules" } }, { id: "users", mode: "table", kafka: { topic: "users" } }];
    const steps = [
      { id: "decide", input: "events", broadcastRules: { rules: "rules", conditionField: "condition" } },
      { id: "joined", input: "decide", lookupJoin: { table: "users", key: "record.userId" } },
    ];
    const bad = checkGraph(spec({ sources, steps, sinks: [out("joined")] }));
    expect(bad.map((f) => [f.path, f.message])).toEqual([[".spec.pipeline.steps[0].broadcastRules.rules", "source rules must have mode: broadcast"]]);
    const good = checkGraph(spec({ sources: [events, { ...sources[1], mode: "broadcast" }, sources[2] as O], steps, sinks: [out("joined")] }));
    expect(good).toEqual([]);
  });

  it("checks side outputs: produced ones are fine, others say how to enable them", () => {
    const late = spec({ steps: [keyed, tumbling("keyed")], sinks: [out("win"), out("win.late", "late")] });
    expect(at(checkGraph(late), ".spec.pipeline.sinks[1].input")[0]?.hint).toBe("set lateOutput: true on its window (.spec.pipeline.steps[1])");
    const enabled = spec({ steps: [keyed, tumbling("keyed", { lateOutput: true })], sinks: [out("win"), out("win.late", "late")] });
    expect(checkGraph(enabled)).toEqual([]);
  });

  it("warns when dead-letter is read but no step can send records there", () => {
    const steps = [{ id: "big", input: "events", onError: "fail", filter: { condition: "true" } }];
    expect(checkGraph(spec({ steps, sinks: [out("big"), out("dead-letter", "dead")] }))).toMatchObject([
      { path: ".spec.pipeline.sinks[1].input", severity: "warning" },
    ]);
    expect(checkGraph(spec({ steps: [{ ...steps[0], onError: "dead-letter" }], sinks: [out("big"), out("dead-letter", "dead")] }))).toEqual([]);
  });
});

describe("cycles and keyed inputs", () => {
  it("reports a cycle once, at the reference that closes it", () => {
    const steps = [
      { id: "a", inputs: ["events", "b"], union: {} },
      { id: "b", input: "a", filter: { condition: "true" } },
    ];
    const f = checkGraph(spec({ steps, sinks: [out("b")] }));
    expect(f).toEqual([{ path: ".spec.pipeline.steps[1].input", message: "cycle: a → b → a", hint: expect.any(String) as string, severity: "error" }]);
  });

  it("requires a keyBy upstream of keyed operators, through key-preserving steps", () => {
    const bad = checkGraph(spec({ steps: [tumbling("events")], sinks: [out("win")] }));
    expect(bad).toEqual([
      {
        path: ".spec.pipeline.steps[0].input",
        message: "window needs a keyed input, but events is not keyed",
        hint: "add a keyBy step and read it: {id: events-by-key, input: events, keyBy: {key: record.userId}}",
        severity: "error",
      },
    ]);
    const through = [keyed, { id: "big", input: "keyed", filter: { condition: "true" } }, tumbling("big")];
    expect(checkGraph(spec({ steps: through, sinks: [out("win")] }))).toEqual([]);
  });

  it("treats a union as keyed only when all its inputs are", () => {
    const steps = [keyed, { id: "all", inputs: ["keyed", "events"], union: {} }, { id: "once", input: "all", dedup: { key: "record.id", within: "1m" } }];
    expect(checkGraph(spec({ steps, sinks: [out("once")] })).map((f) => f.message)).toEqual(["dedup needs a keyed input, but all is not keyed"]);
  });
});

describe("unused streams (warnings)", () => {
  it("warns about a source and a step nobody reads", () => {
    const sources = [events, { id: "clicks", kafka: { topic: "clicks" } }];
    const steps = [{ id: "big", input: "events", filter: { condition: "true" } }];
    const f = checkGraph(spec({ sources, steps, sinks: [out("events")] }));
    expect(f.map((x) => [x.path, x.severity])).toEqual([
      [".spec.pipeline.sources[1]", "warning"],
      [".spec.pipeline.steps[0]", "warning"],
    ]);
  });

  it("warns about an enabled side output nobody reads", () => {
    const steps = [{ id: "big", input: "events", filter: { condition: "true", onReject: "side-output" } }];
    expect(checkGraph(spec({ steps, sinks: [out("big")] }))).toMatchObject([
      { path: ".spec.pipeline.steps[0].filter.onReject", severity: "warning", hint: "add a sink with input: big.rejected" },
    ]);
    expect(checkGraph(spec({ steps, sinks: [out("big"), out("big.rejected", "rejected")] }))).toEqual([]);
  });
});

describe("operator sanity", () => {
  const windowFindings = (w: O): Finding[] =>
    checkGraph(spec({ steps: [keyed, { ...tumbling("keyed"), window: { aggregations: [{ name: "total", fn: "count" }], ...w } }], sinks: [out("win")] }));

  it("rejects zero sizes, gaps and an offset equal to the size", () => {
    expect(windowFindings({ type: "session", gap: "0s" }).map((f) => f.message)).toEqual(["session gap must be greater than 0"]);
    expect(windowFindings({ type: "tumbling", size: "0s" }).map((f) => f.message)).toEqual(["window size must be greater than 0"]);
    expect(windowFindings({ type: "tumbling", size: "1h", offset: "60m" }).map((f) => f.message)).toEqual(["offset must be smaller than size"]);
    expect(windowFindings({ type: "tumbling", size: "1h", offset: "59m" })).toEqual([]);
    expect(windowFindings({ type: "session", gap: "30m" })).toEqual([]);
  });

  it("warns (Flink allows it) when a sliding size is not a multiple of the slide, or a record falls into many windows", () => {
    expect(windowFindings({ type: "sliding", size: "10m", slide: "3m" })).toMatchObject([
      { path: ".spec.pipeline.steps[1].window.slide", severity: "warning", message: "size 10m is not a multiple of slide 3m" },
    ]);
    expect(windowFindings({ type: "sliding", size: "1h", slide: "10s" })).toMatchObject([
      { severity: "warning", message: "each record falls into 360 windows" },
    ]);
    expect(windowFindings({ type: "sliding", size: "1h", slide: "5m" })).toEqual([]);
  });

  it("checks CEP expiry: timedOut needs within, unbounded loops without within are warned about", () => {
    const cep = (c: O): Finding[] =>
      checkGraph(
        spec({
          steps: [keyed, { id: "p", input: "keyed", cep: { stages: [{ name: "fails", where: "true", oneOrMore: true }], ...c } }],
          sinks: [out("p"), ...(c.timedOut ? [out("p.timedOut", "t")] : [])],
        }),
      );
    expect(cep({ timedOut: true }).map((f) => [f.severity, f.message])).toEqual([
      ["error", "timedOut needs within"],
      ["warning", "stage fails loops without an upper bound and the pattern has no within"],
    ]);
    expect(cep({ within: "10m", timedOut: true })).toEqual([]);
    expect(cep({ within: "0s" }).map((f) => f.message)).toEqual(["within must be greater than 0"]);
  });

  it("checks process-step state and timer names and kinds", () => {
    const proc = (p: O): Finding[] => checkGraph(spec({ steps: [keyed, { id: "p", input: "keyed", process: p }], sinks: [out("p")] }));
    const state = [
      { name: "clicks", kind: "value", initial: "0" },
      { name: "seen", kind: "map" },
      { name: "recent", kind: "list" },
    ];
    const timers = [{ name: "flush", actions: [{ emit: { n: "state.clicks" } }] }];
    const good = {
      state,
      timers,
      onRecord: [
        {
          set: { clicks: "state.clicks + 1" },
          put: { state: "seen", key: "record.id", value: "true" },
          append: { state: "recent", value: "record" },
          schedule: { timer: "flush", after: "5m" },
        },
      ],
    };
    expect(proc(good)).toEqual([]);
    const bad = { state, timers, onRecord: [{ set: { click: "1" }, append: { state: "seen", value: "record" }, clear: ["recnt"], cancel: "flsh" }] };
    expect(proc(bad).map((f) => [f.path, f.message, f.hint])).toEqual([
      [".spec.pipeline.steps[1].process.onRecord[0].set.click", 'unknown state "click"', "did you mean clicks?"],
      [".spec.pipeline.steps[1].process.onRecord[0].append.state", "append needs a list state, but seen is a map state", "declare seen with kind: list"],
      [".spec.pipeline.steps[1].process.onRecord[0].clear[0]", 'unknown state "recnt"', "did you mean recent?"],
      [".spec.pipeline.steps[1].process.onRecord[0].cancel", 'unknown timer "flsh"', "did you mean flush?"],
      [".spec.pipeline.steps[1].process.timers[0]", "timer flush never fires", "schedule it from an action, or set every"],
    ]);
  });

  it("rejects a score decision field that overwrites the score", () => {
    const score = (threshold: O): Finding[] =>
      checkGraph(
        spec({
          steps: [
            {
              id: "s",
              input: "events",
              score: { features: [{ name: "a", expression: "1.0", weight: 1 }], threshold: { value: 0.5, above: "BLOCK", below: "ALLOW", ...threshold } },
            },
          ],
          sinks: [out("s")],
        }),
      );
    expect(score({ field: "score" }).map((f) => f.path)).toEqual([".spec.pipeline.steps[0].score.threshold.field"]);
    expect(score({})).toEqual([]);
  });

  it("warns about a union input listed twice", () => {
    const f = checkGraph(spec({ steps: [{ id: "all", inputs: ["events", "events"], union: {} }], sinks: [out("all")] }));
    expect(f).toMatchObject([{ path: ".spec.pipeline.steps[0].inputs[1]", severity: "warning" }]);
  });

  it("warns when a repartition topic has fewer partitions than the job's parallelism", () => {
    const steps = (partitions: number): O[] => [{ ...keyed, keyBy: { key: "record.userId", partitions } }];
    expect(checkGraph(spec({ steps: steps(2), sinks: [out("keyed")] }, { parallelism: 4 }))).toMatchObject([
      { path: ".spec.pipeline.steps[0].keyBy.partitions", severity: "warning" },
    ]);
    expect(checkGraph(spec({ steps: steps(4), sinks: [out("keyed")] }, { parallelism: 4 }))).toEqual([]);
  });

  it("warns when a sink writes a topic the job reads", () => {
    expect(checkGraph(spec({ sinks: [{ id: "o", input: "events", kafka: { topic: "events" } }] }))).toMatchObject([
      { path: ".spec.pipeline.sinks[0].kafka.topic", severity: "warning" },
    ]);
    expect(checkGraph(spec({ sinks: [{ id: "o", input: "events", kafka: { topic: "events-out" } }] }))).toEqual([]);
  });
});

describe("parallelism and partitions", () => {
  it("names both fields in the hint of the schema rule", () => {
    const doc = {
      apiVersion: "runnel.dev/v1alpha1",
      kind: "StreamJob",
      metadata: { name: "t" },
      spec: {
        parallelism: 8,
        kafka: { bootstrapServers: ["kafka:9092"] },
        pipeline: { sources: [{ id: "events", kafka: { topic: "events", partitions: 4 } }], sinks: [out("events")] },
      },
    };
    expect(parseStreamJob(doc).errors).toContainEqual(
      expect.objectContaining({
        path: ".spec.parallelism",
        hint: ".spec.parallelism is 8 but .spec.pipeline.sources[0].kafka.partitions is 4 (source events); lower parallelism or add partitions",
      }),
    );
  });
});
