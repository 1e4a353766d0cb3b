// The CEL layer: compile once with type checking against a site's scope, errors located in the
// expression, evaluation of the case systems' expressions on sample records, and the extensions.
import { Environment } from "@marcbachmann/cel-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { check, compile, excerpt, type CelDiagnostic } from "../../../runtime/cel/compile.ts";
import { defaultScope, type Scope } from "../../../runtime/cel/types.ts";

const rec = defaultScope("bool", ["record", "key"]);

function errorsOf(expression: string, scope: Scope): CelDiagnostic[] {
  const r = compile(expression, scope);
  if (r.ok) throw new Error(`expected ${expression} to fail`);
  return r.errors;
}

function run(expression: string, scope: Scope, vars: Record<string, unknown>): unknown {
  const r = compile(expression, scope);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("; "));
  return r.expression.evaluate(vars);
}

const typed: Scope = {
  returns: "bool",
  vars: { record: "Record", key: "string" },
  types: [{ name: "Record", fields: { userId: "string", amount: "double", count: "int", tags: "list<string>" } }],
};

describe("type checking", () => {
  it("accepts an expression of the site's result type and reports its type", () => {
    expect(check("record.amount > 0.0 && key.startsWith('u')", typed)).toEqual({ ok: true, type: "bool" });
  });

  it("rejects a result of the wrong type, with a conversion hint", () => {
    const [e] = errorsOf("record.userId", { ...typed, returns: "bool" });
    expect(e).toMatchObject({ kind: "result", message: "must return bool but returns string", column: 1 });
    const [s] = errorsOf("record.count", { ...typed, returns: "string" });
    expect(s?.hint).toBe("convert it: string(record.count)");
  });

  it("widens int to double but not double to int", () => {
    expect(check("record.count", { ...typed, returns: "double" }).ok).toBe(true);
    expect(check("record.amount", { ...typed, returns: "int" }).ok).toBe(false);
  });

  it("lets dyn stand for any result type (checked at run time)", () => {
    expect(check("record.anything", { ...rec, returns: "string" }).ok).toBe(true);
  });

  it("detects operator type errors on declared fields, at the operator's position", () => {
    const [e] = errorsOf("record.amount > 1.0 && record.userId + 1 == 2", typed);
    expect(e).toMatchObject({ kind: "type", message: "no such overload: string + int", line: 1, column: 24 });
  });

  it("names an unknown field of a declared record and suggests the closest", () => {
    const [e] = errorsOf("record.amont > 0.0", typed);
    expect(e).toMatchObject({ message: "no field amont", hint: "did you mean amount?", column: 8 });
  });

  it("names an unknown variable and lists the variables in scope", () => {
    const [e] = errorsOf("recrd.amount > 0.0", typed);
    expect(e).toMatchObject({ message: "unknown variable recrd", column: 1 });
    expect(e?.hint).toContain("did you mean record?");
    expect(errorsOf("window.start > 0", typed)[0]?.hint).toBe("variables here: record, key");
  });

  it("reports syntax errors with their position", () => {
    const [e] = errorsOf("record.amount >", rec);
    expect(e).toMatchObject({ kind: "syntax", column: 16 });
    expect(e?.message).toMatch(/^syntax error: /);
  });

  it("locates errors on later lines of multi-line expressions and draws a caret under them", () => {
    const [e] = errorsOf("record.amount > 0.0\n  && recrd.ok", rec);
    expect(e).toMatchObject({ line: 2, column: 6 });
    expect(excerpt(e as CelDiagnostic)).toEqual(["  && recrd.ok", "     ^^^^^"]);
  });

  it("types the window and timer variables", () => {
    expect(check("window.end - window.start", defaultScope("int", ["record", "key", "window"])).ok).toBe(true);
    expect(check("window.stop", defaultScope("int", ["record", "key", "window"])).ok).toBe(false);
    expect(check("timer.timestamp + 1000", defaultScope("int", ["record", "key", "state", "timer"])).ok).toBe(true);
  });

  it("allows mixed-type map literals (records are built that way)", () => {
    expect(check("{'entity': record.userId, 'kind': 'order', 'n': 1}", { ...typed, returns: "map" })).toEqual({ ok: true, type: "map<string, dyn>" });
  });
});

describe("evaluation", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("evaluates without parsing again", () => {
    const compiled = compile("record.amount > 100.0", rec);
    if (!compiled.ok) throw new Error("does not compile");
    const parse = vi.spyOn(Environment.prototype, "parse");
    const check = vi.spyOn(Environment.prototype, "check");
    for (let i = 0; i < 1000; i++) compiled.expression.evaluate({ record: { amount: i }, key: "k" });
    expect(parse).not.toHaveBeenCalled();
    expect(check).not.toHaveBeenCalled();
  });

  it("refuses a dyn condition that turns out not to be a bool, instead of treating it as truthy", () => {
    const compiled = compile("record.flag", rec);
    if (!compiled.ok) throw new Error("does not compile");
    expect(compiled.expression.evaluate({ record: { flag: true }, key: null })).toBe(true);
    expect(() => compiled.expression.evaluate({ record: { flag: "yes" }, key: null })).toThrow('condition "record.flag" returned string, not a bool');
  });

  it("evaluates the risk system's cleaning rules on sample orders", () => {
    const scope = defaultScope("bool", ["record", "key"]);
    const badId = "has(record.userId) && record.userId.matches('^u[0-9]+$')";
    const coords = "record.lat >= -90.0 && record.lat <= 90.0 && record.lon >= -180.0 && record.lon <= 180.0";
    const order = { userId: "u42", amount: 12.5, lat: 52.5, lon: 13.4 };
    expect(run(badId, scope, { record: order, key: null })).toBe(true);
    expect(run(badId, scope, { record: { ...order, userId: "x" }, key: null })).toBe(false);
    expect(run(badId, scope, { record: { amount: 1 }, key: null })).toBe(false);
    expect(run("record.amount > 0.0", scope, { record: { ...order, amount: -5 }, key: null })).toBe(false);
    expect(run(coords, scope, { record: order, key: null })).toBe(true);
    expect(run(coords, scope, { record: { ...order, lat: -91 }, key: null })).toBe(false);
  });

  it("builds the risk system's normalised order record with a map literal", () => {
    const expr = "{'entity': record.userId, 'kind': 'order', 'amount': record.amount, 'ts': record.createdAt}";
    expect(run(expr, defaultScope("map", ["record", "key"]), { record: { userId: "u1", amount: 3.5, createdAt: 1700000000000 }, key: null })).toEqual({
      entity: "u1",
      kind: "order",
      amount: 3.5,
      ts: 1700000000000,
    });
  });

  it("evaluates the analytics system's engagement select over a session window", () => {
    const expr = "['view', 'like', 'share'].all(t, t in record.types) ? 'HIGH_ENGAGEMENT' : 'NORMAL'";
    const scope = defaultScope("dyn", ["record", "key", "window"]);
    const vars = (types: string[]) => ({ record: { types, events: 4n }, key: "u1", window: { start: 0n, end: 60_000n } });
    expect(run(expr, scope, vars(["view", "like", "share", "comment"]))).toBe("HIGH_ENGAGEMENT");
    expect(run(expr, scope, vars(["view"]))).toBe("NORMAL");
    expect(run("row == null ? 'unknown' : row.ageGroup", defaultScope("dyn", ["record", "key", "row"]), { record: {}, key: "u1", row: null })).toBe("unknown");
  });

  it("evaluates the recommendation system's profile updates on state", () => {
    const scope = defaultScope("dyn", ["record", "key", "state", "timer"]);
    const vars = { record: { kind: "click", tag: "shoes" }, key: "u1", state: { clicks: 2n, tagCounts: { shoes: 3n } }, timer: null };
    expect(run("state.clicks + 1", scope, vars)).toBe(3n);
    expect(run("record.tag in state.tagCounts ? state.tagCounts[record.tag] + 1 : 1", scope, vars)).toBe(4n);
    expect(run("'rec:' + key", defaultScope("string", ["record", "key"]), { record: {}, key: "u1" })).toBe("rec:u1");
  });

  it("evaluates CEP selects over matched records", () => {
    const scope = defaultScope("dyn", ["key", "match"]);
    expect(run("size(match.fails)", scope, { key: "u1", match: { fails: [{}, {}, {}], ipChanges: [] } })).toBe(3n);
  });

  it("mixes JSON numbers (doubles) with int literals in arithmetic", () => {
    expect(run("record.count + 1", defaultScope("dyn", ["record"]), { record: { count: 5 } })).toBe(6);
    expect(run("record.amount / 100", defaultScope("dyn", ["record"]), { record: { amount: 250 } })).toBe(2.5);
    expect(run("double(record.orders30m) * 0.35", defaultScope("double", ["record"]), { record: { orders30m: 2n } })).toBeCloseTo(0.7);
  });
});

describe("extensions", () => {
  const num = defaultScope("dyn", []);

  it("has cel-go's math functions under math.*", () => {
    expect(run("math.greatest(1, 5, 3)", num, {})).toBe(5n);
    expect(run("math.least(2.5, 1.5)", num, {})).toBe(1.5);
    expect(run("math.abs(-3)", num, {})).toBe(3n);
    expect(run("math.round(-2.5)", num, {})).toBe(-3);
    expect(run("math.floor(2.7) + math.ceil(0.2)", num, {})).toBe(3);
    expect(run("math.sqrt(16)", num, {})).toBe(4);
    expect(run("math.greatest([4, 9, 2])", num, {})).toBe(9n);
  });

  it("has string functions and replace", () => {
    expect(run("'a-b-c'.replace('-', '+')", num, {})).toBe("a+b+c");
    expect(run("'Hello'.lowerAscii().startsWith('he') && 'x,y'.split(',').size() == 2", num, {})).toBe(true);
  });

  it("converts durations and timestamps to the milliseconds records carry", () => {
    expect(run("millis(duration('1m30s'))", num, {})).toBe(90_000n);
    expect(run("millis(timestamp('2024-01-01T00:00:00Z'))", num, {})).toBe(1_704_067_200_000n);
    expect(run("timestampMillis(1704067200000) == timestamp('2024-01-01T00:00:00Z')", num, {})).toBe(true);
  });
});
