// CEL checks of whole manifests: every expression site type-checks with its variables, typed from
// declared source fields (errors) and from record shapes inferred along the pipeline (warnings).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";
import { checkExpressions } from "../../../runtime/spec/cel-checks.ts";
import { inferTypes, shapeOf, siteScope } from "../../../runtime/spec/cel-scopes.ts";
import { celSites } from "../../../runtime/spec/cel-sites.ts";
import type { StreamJob } from "../../../runtime/spec/generated/types.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";
import { buildGraph } from "../../../runtime/spec/pipeline-graph.ts";
import { formatErrors, parseStreamJob } from "../../../runtime/spec/validate.ts";

type O = Record<string, unknown>;

function fixture(file: string): StreamJob {
  return parseStreamJob(parseManifests(readFileSync(join(repoRoot, "test/fixtures/streamjobs", file), "utf8"))[0]).value;
}

const events = { id: "events", kafka: { topic: "events" }, fields: { userId: "string", amount: "double", count: "int", ts: "int" } };
const keyed = { id: "keyed", input: "events", keyBy: { key: "record.userId" } };

function job(p: { sources?: O[]; steps?: O[]; sinks: O[] }): StreamJob {
  const doc = {
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name: "t" },
    spec: { kafka: { bootstrapServers: ["kafka:9092"] }, pipeline: { sources: p.sources ?? [events], ...(p.steps ? { steps: p.steps } : {}), sinks: p.sinks } },
  };
  const { value, errors } = parseStreamJob(doc);
  expect(formatErrors(errors)).toBe("");
  return value;
}

const sink = (input: string, extra: O = { stdout: {} }): O => ({ id: "out", input, ...extra });

describe("the example manifests", () => {
  it("analytics and recommendation have no expression findings", () => {
    expect(checkExpressions(fixture("analytics.yaml"))).toEqual([]);
    expect(checkExpressions(fixture("recommendation.yaml"))).toEqual([]);
  });

  it("risk: every expression type-checks", () => {
    expect(checkExpressions(fixture("risk.yaml"))).toEqual([]);
  });

  it("warns when a sink keys by a field the window before it does not output", () => {
    const [f, ...rest] = checkExpressions(fixture("valid/warning-derived-field-missing.yaml"));
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      path: ".spec.pipeline.sinks[0].kafka.key",
      severity: "warning",
      message: "no field entity (column 8)",
      excerpt: ["record.entity", "       ^^^^^^"],
    });
    expect(f?.hint).toContain("records here have the fields key, windowStart, windowEnd, orders");
  });

  it("types every site of the analytics pipeline from the declared behaviour fields", () => {
    const j = fixture("analytics.yaml");
    const types = inferTypes(buildGraph(j.spec.pipeline ?? { sources: [], sinks: [] }));
    expect(shapeOf(types, "valid")).toEqual({
      fields: { userId: "string", videoId: "string", type: "string", region: "string", duration: "double", ts: "int" },
      exact: true,
    });
    expect(shapeOf(types, "per-minute").fields).toEqual({
      key: "string",
      windowStart: "int",
      windowEnd: "int",
      events: "int",
      users: "int",
      avgDuration: "double",
    });
    expect(shapeOf(types, "sessions").fields).toEqual({ userId: "string", start: "int", end: "int", events: "int", engagement: "string" });
    expect(shapeOf(types, "users")).toEqual({ exact: true });
    const site = celSites(j).find((s) => s.path === ".spec.pipeline.steps[7].lookupJoin.select.ageGroup");
    expect(site && siteScope(types, site, "inferred").vars).toEqual({ record: "Record", key: "string", row: "dyn" });
  });
});

describe("declared fields (errors)", () => {
  it("reports a type error on a declared field with its position and an excerpt", () => {
    const f = checkExpressions(
      job({ steps: [{ id: "big", input: "events", filter: { condition: "record.amount > 10.0 && record.userId > 3" } }], sinks: [sink("big")] }),
    );
    expect(f).toEqual([
      {
        path: ".spec.pipeline.steps[0].filter.condition",
        message: "no such overload: string > int (column 25)",
        severity: "error",
        excerpt: ["record.amount > 10.0 && record.userId > 3", "                        ^^^^^^^^^^^^^^^^^"],
      },
    ]);
  });

  it("keeps declared fields exact through filter, keyBy and dedup", () => {
    const steps = [keyed, { id: "once", input: "keyed", dedup: { key: "record.userId", within: "1m" } }];
    const f = checkExpressions(job({ steps, sinks: [sink("once", { kafka: { topic: "o", key: "record.usrId" } })] }));
    expect(f).toMatchObject([
      {
        path: ".spec.pipeline.sinks[0].kafka.key",
        severity: "error",
        message: "no field usrId (column 8)",
        hint: expect.stringContaining("did you mean userId?") as string,
      },
    ]);
  });

  it("accepts expressions over undeclared records (maps, checked at run time)", () => {
    const f = checkExpressions(
      job({
        sources: [{ id: "events", kafka: { topic: "events" } }],
        steps: [{ id: "big", input: "events", filter: { condition: "record.whatever > 3" } }],
        sinks: [sink("big")],
      }),
    );
    expect(f).toEqual([]);
  });

  it("types string sources as {value}", () => {
    const src = { id: "lines", kafka: { topic: "lines", format: "string" } };
    const bad = checkExpressions(job({ sources: [src], steps: [{ id: "f", input: "lines", filter: { condition: "record.text != ''" } }], sinks: [sink("f")] }));
    expect(bad.map((x) => x.message)).toEqual(["no field text (column 8)"]);
    expect(
      checkExpressions(job({ sources: [src], steps: [{ id: "f", input: "lines", filter: { condition: "record.value != ''" } }], sinks: [sink("f")] })),
    ).toEqual([]);
  });

  it("rejects unknown declared types", () => {
    const f = checkExpressions(
      job({ sources: [{ ...events, fields: { amount: "dobule", tags: "list<string>", m: "map<string, int>" } }], sinks: [sink("events")] }),
    );
    expect(f).toEqual([
      { path: ".spec.pipeline.sources[0].fields.amount", message: 'unknown CEL type "dobule"', hint: "did you mean double?", severity: "error" },
    ]);
  });

  it("types process state from the declared states and their initial values", () => {
    const proc = (when: string): O[] => [
      keyed,
      {
        id: "p",
        input: "keyed",
        process: {
          state: [
            { name: "clicks", kind: "value", initial: "0" },
            { name: "tags", kind: "map" },
          ],
          onRecord: [{ when, emit: { n: "state.clicks" } }],
        },
      },
    ];
    expect(checkExpressions(job({ steps: proc("state.clicks > 3 && record.userId in state.tags"), sinks: [sink("p")] }))).toEqual([]);
    expect(checkExpressions(job({ steps: proc("state.click > 3"), sinks: [sink("p")] })).map((f) => [f.severity, f.message, f.hint])).toEqual([
      ["error", "no field click (column 7)", "did you mean clicks?"],
    ]);
    expect(checkExpressions(job({ steps: proc("state.clicks + 'a' == 'b'"), sinks: [sink("p")] })).map((f) => f.message)).toEqual([
      "no such overload: int + string (column 1)",
    ]);
  });

  it("types CEP matches by stage name and broadcast rules from the rules source", () => {
    const rules = { id: "rules", mode: "broadcast", kafka: { topic: "rules" }, fields: { id: "string", limit: "double" } };
    const steps = [
      keyed,
      {
        id: "p",
        input: "keyed",
        cep: {
          stages: [{ name: "big", where: "record.amount > 100.0", times: 2 }],
          within: "1m",
          select: { n: "size(match.big)", first: "match.big[0].amount" },
        },
      },
      { id: "r", input: "events", broadcastRules: { rules: "rules", condition: "record.amount > rule.limit" } },
    ];
    expect(checkExpressions(job({ sources: [events, rules], steps, sinks: [sink("p"), { id: "o2", input: "r", stdout: {} }] }))).toEqual([]);
    const bad = steps.map((s) => (s.id === "r" ? { ...s, broadcastRules: { rules: "rules", condition: "record.amount > rule.limt" } } : s));
    expect(
      checkExpressions(job({ sources: [events, rules], steps: bad, sinks: [sink("p"), { id: "o2", input: "r", stdout: {} }] })).map((f) => f.message),
    ).toEqual(["no field limt (column 22)"]);
  });

  it("checks the default ruleId (rule.id) against declared rule fields", () => {
    const rules = { id: "rules", mode: "broadcast", kafka: { topic: "rules" }, fields: { ruleId: "string" } };
    const steps = [{ id: "r", input: "events", broadcastRules: { rules: "rules", conditionField: "condition" } }];
    const f = checkExpressions(job({ sources: [events, rules], steps, sinks: [sink("r")] }));
    expect(f).toMatchObject([{ path: ".spec.pipeline.steps[0].broadcastRules.ruleId", severity: "error", message: "no field id (column 6)" }]);
  });
});

describe("inferred shapes (warnings)", () => {
  it("warns about a field a window's output does not have, with the fields it has", () => {
    const steps = [
      keyed,
      { id: "w", input: "keyed", window: { type: "tumbling", size: "1m", aggregations: [{ name: "total", fn: "sum", of: "record.amount" }] } },
    ];
    const f = checkExpressions(job({ steps, sinks: [sink("w", { kafka: { topic: "o", key: "record.userId" } })] }));
    expect(f).toMatchObject([
      {
        severity: "warning",
        message: "no field userId (column 8)",
        hint: "records here have the fields key, windowStart, windowEnd, total (inferred from the steps before)",
      },
    ]);
    expect(checkExpressions(job({ steps, sinks: [sink("w", { kafka: { topic: "o", key: "key" } })] }))).toEqual([]);
  });

  it("derives project outputs from the field expressions' types", () => {
    const steps = [
      { id: "p", input: "events", project: { fields: { user: "record.userId", big: "record.amount > 10.0" } } },
      { id: "f", input: "p", filter: { condition: "record.big && record.user.startsWith('u') && record.amount > 1.0" } },
    ];
    expect(checkExpressions(job({ steps, sinks: [sink("f")] })).map((f) => [f.severity, f.message])).toEqual([["warning", "no field amount (column 53)"]]);
  });

  it("keeps the input fields with project keep, minus drop", () => {
    const steps = [
      { id: "p", input: "events", project: { fields: { big: "record.amount > 10.0" }, keep: true, drop: ["count"] } },
      { id: "f", input: "p", filter: { condition: "record.big && record.userId != '' && record.count > 1" } },
    ];
    expect(checkExpressions(job({ steps, sinks: [sink("f")] })).map((f) => f.message)).toEqual(["no field count (column 45)"]);
  });
});
