/** The CEL fast path gives cel-js's results (or defers to cel-js) on every expression and value. */
import { describe, expect, it } from "vitest";
import { compile } from "../../../runtime/cel/compile.ts";
import { defaultScope } from "../../../runtime/cel/types.ts";
import { celExpression } from "../../../runtime/pipeline/expr.ts";
import { FALLBACK, fastPath } from "../../../runtime/pipeline/fast-path.ts";

const expressions = [
  "record.type == 'bid'",
  "record.type != 'bid'",
  "record.a > 5.5",
  "record.a <= record.b",
  "record.a > 5",
  "record.type == 'bid' && record.a % 123 == 0.0",
  "record.flag || record.a < 0.0",
  "!record.flag",
  "record.nested.x",
  "record.a * 0.5 + 1.0",
  "record.a - 2",
  "record.a / 0.0",
  "record.s + '!'",
  "math.round(record.a * 0.908)",
  "math.floor(record.a)",
  "double(record.a)",
  "string(record.s)",
  "key",
  "record.a % 2",
  "record.a * 2",
  "record.a == 5.5",
  "record.a != 246.0",
  "record.a >= 0",
  "record.type == 3",
  "record.size",
  "record.constructor",
  "record.nested.size > 0.0",
];

const records: Record<string, unknown>[] = [
  { type: "bid", a: 246, b: 300, flag: true, s: "x", nested: { x: 1 } },
  { type: "ask", a: 5.5, b: 1, flag: false, s: "y", nested: { x: "n" } },
  { type: "bid", a: -2.5, b: -2.5, flag: false, s: "", nested: {} },
  { type: "bid", a: 7n, b: 8n, flag: true, s: "z", nested: { x: 3n } },
  { type: 3, a: "str", flag: "yes" },
  {},
  { type: "bid", a: 1.5, size: 2.5, nested: new Map([["size", 4.5]]) },
];

// Records that are not plain objects: CEL reads a Map's entries, not its properties; a list has no fields.
const others: unknown[] = [
  new Map<string, unknown>([
    ["type", "bid"],
    ["a", 246],
    ["size", 1.5],
  ]),
  [1, 2],
];

/** cel-js's own outcome: the value or the error. */
function slow(expr: string, vars: Record<string, unknown>): unknown {
  const r = compile(expr, defaultScope("dyn", ["record", "key"]));
  if (!r.ok) throw new Error(`does not compile: ${expr}`);
  try {
    return { value: r.expression.evaluate(vars) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe("CEL fast path", () => {
  it("covers the simple shapes and leaves the others to cel-js", () => {
    expect(fastPath("record.type == 'bid' && record.a > 5.5", ["record", "key"])).toBeDefined();
    expect(fastPath("int(record.a) % 2 == 0", ["record", "key"])).toBeUndefined();
    expect(fastPath("record.items.exists(i, i > 1)", ["record", "key"])).toBeUndefined();
  });

  it.each(expressions)("%s: same results as cel-js", (expr) => {
    const fast = fastPath(expr, ["record", "key"]);
    const compiled = celExpression(expr, ".test", "dyn", ["record", "key"]);
    for (const record of [...records, ...others]) {
      const vars = { record, key: "k1" };
      const want = slow(expr, vars);
      let got: unknown;
      try {
        got = { value: compiled.evaluate(vars) };
      } catch (err) {
        got = { error: (err as Error).message };
      }
      expect(got).toEqual(want);
      // Where the fast closure answers by itself, it answers like cel-js.
      const f = fast?.(vars);
      if (fast && f !== FALLBACK) expect({ value: f }).toEqual(want);
    }
  });
});
