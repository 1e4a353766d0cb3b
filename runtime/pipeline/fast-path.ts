/**
 * A fast path for the simplest CEL shapes, which are most of a pipeline's expressions: field
 * paths (`record.user`), comparisons of numbers, equality of strings and booleans, arithmetic on
 * doubles (and double with int, as Runnel's registered mixed operators do), a few `math.*`
 * functions, `double()`/`string()` of values already of that type, and `&&`, `||`, `!`. They run as plain closures over cel-js's parsed AST. Whenever a value is
 * not of the exact kind a closure handles (a CEL int, a missing field, a non-bool operand), the
 * closure gives up and the real cel-js evaluator runs instead, so results and errors are cel-js's.
 */
import { evaluationEnvironment } from "../cel/environment.ts";
import { DOUBLE_ARITHMETIC, DOUBLE_MATH } from "../cel/extensions.ts";

/** Returned by a fast closure that cannot decide: evaluate with cel-js. */
export const FALLBACK: unique symbol = Symbol("fallback");

type Fast = (vars: Readonly<Record<string, unknown>>) => unknown;

interface Node {
  op: string;
  args: unknown;
}

const arith = DOUBLE_ARITHMETIC;
const math = DOUBLE_MATH;

const isNode = (x: unknown): x is Node => x !== null && typeof x === "object" && "op" in x;

/** A closure for an AST node, or undefined when the node is outside the fast subset. */
function build(n: Node): Fast | undefined {
  const args = n.args as unknown[];
  switch (n.op) {
    case "id": {
      const name = n.args as string;
      return (v) => (name in v ? v[name] : FALLBACK);
    }
    case "value": {
      const lit = n.args;
      return typeof lit === "string" || typeof lit === "boolean" || typeof lit === "number" || typeof lit === "bigint" ? () => lit : undefined;
    }
    case ".": {
      const [inner, field] = args;
      if (!isNode(inner) || typeof field !== "string") return undefined;
      if (inner.op === "id") {
        // The common `record.field`: one closure instead of two.
        const name = inner.args as string;
        return (v) => readField(v, name, field);
      }
      const obj = build(inner);
      if (!obj) return undefined;
      return (v) => {
        const o = obj(v);
        if (o === null || typeof o !== "object" || Array.isArray(o) || o instanceof Map) return FALLBACK;
        const x = (o as Record<string, unknown>)[field];
        return x === undefined ? FALLBACK : x;
      };
    }
    case "==":
    case "!=": {
      const [a, b] = pair(args);
      if (!a || !b) return undefined;
      const neg = n.op === "!=";
      const lit = literal(args[1]);
      const ref = fieldRef(args[0]);
      if (ref && lit !== undefined && typeof lit !== "bigint") {
        // `record.type == 'bid'`: field and literal inlined (readField is one known function V8 inlines).
        const [name, field] = ref;
        const tl = typeof lit;
        return (v) => {
          const x = readField(v, name, field);
          return typeof x === tl ? (x === lit) !== neg : FALLBACK;
        };
      }
      if (lit !== undefined && typeof lit !== "bigint") {
        // The literal inlined, one call less per evaluation.
        const tl = typeof lit;
        return (v) => {
          const x = a(v);
          return typeof x === tl ? (x === lit) !== neg : FALLBACK;
        };
      }
      return (v) => {
        const x = a(v);
        const y = b(v);
        const tx = typeof x;
        if (tx !== typeof y || !(tx === "string" || tx === "boolean" || tx === "number")) return FALLBACK;
        return (x === y) !== neg;
      };
    }
    case "<":
    case "<=":
    case ">":
    case ">=": {
      const [a, b] = pair(args);
      if (!a || !b) return undefined;
      const cmp = n.op === "<" ? (x: number, y: number) => x < y : n.op === "<=" ? (x: number, y: number) => x <= y : n.op === ">" ? (x: number, y: number) => x > y : (x: number, y: number) => x >= y;
      const lit = literal(args[1]);
      const ref = fieldRef(args[0]);
      if (ref && typeof lit === "number") {
        const [name, field] = ref;
        return (v) => {
          const x = readField(v, name, field);
          return typeof x === "number" ? cmp(x, lit) : FALLBACK;
        };
      }
      if (typeof lit === "number") {
        return (v) => {
          const x = a(v);
          return typeof x === "number" ? cmp(x, lit) : FALLBACK;
        };
      }
      return (v) => {
        const x = a(v);
        const y = b(v);
        return typeof x === "number" && typeof y === "number" ? cmp(x, y) : FALLBACK;
      };
    }
    case "+":
    case "-":
    case "*":
    case "/":
    case "%": {
      const [a, b] = pair(args);
      const f = arith[n.op];
      if (!a || !b || !f) return undefined;
      const mod = n.op === "%";
      const concat = n.op === "+";
      const lit = literal(args[1]);
      if ((typeof lit === "number" && !mod) || typeof lit === "bigint") {
        // `record.price * 0.908`, `record.auction % 123`: a number with a literal, inlined.
        const y = Number(lit);
        const ref = fieldRef(args[0]);
        if (ref) {
          const [name, field] = ref;
          return (v) => {
            const x = readField(v, name, field);
            return typeof x === "number" ? f(x, y) : FALLBACK;
          };
        }
        return (v) => {
          const x = a(v);
          return typeof x === "number" ? f(x, y) : FALLBACK;
        };
      }
      return (v) => {
        const x = a(v);
        const y = b(v);
        const tx = typeof x;
        const ty = typeof y;
        // double op double (no % for doubles in CEL), and the registered double op int / int op double.
        if (tx === "number" && ty === "number") return mod ? FALLBACK : f(x as number, y as number);
        if (tx === "number" && ty === "bigint") return f(x as number, Number(y));
        if (tx === "bigint" && ty === "number") return f(Number(x), y as number);
        if (concat && tx === "string" && ty === "string") return (x as string) + (y as string);
        return FALLBACK;
      };
    }
    case "rcall": {
      const [name, receiver, callArgs] = args as [string, unknown, unknown[]];
      const m = math[name];
      if (!m || !isNode(receiver) || receiver.op !== "id" || receiver.args !== "math" || callArgs.length !== 1 || !isNode(callArgs[0])) return undefined;
      const a = build(callArgs[0]);
      if (!a) return undefined;
      return (v) => {
        const x = a(v);
        return typeof x === "number" ? m(x) : FALLBACK;
      };
    }
    case "call": {
      const [name, callArgs] = args as [string, unknown[]];
      const want = name === "double" ? "number" : name === "string" ? "string" : undefined;
      if (!want || callArgs.length !== 1 || !isNode(callArgs[0])) return undefined;
      const a = build(callArgs[0]);
      if (!a) return undefined;
      return (v) => {
        const x = a(v);
        return typeof x === want ? x : FALLBACK;
      };
    }
    case "&&":
    case "||": {
      const [a, b] = pair(args);
      if (!a || !b) return undefined;
      const and = n.op === "&&";
      return (v) => {
        const x = a(v);
        if (typeof x !== "boolean") return FALLBACK;
        if (x !== and) return x; // false && … is false, true || … is true
        const y = b(v);
        return typeof y === "boolean" ? y : FALLBACK;
      };
    }
    case "!_":
    case "!": {
      const inner: unknown = Array.isArray(n.args) ? (n.args as unknown[])[0] : n.args;
      const a = isNode(inner) ? build(inner) : undefined;
      if (!a) return undefined;
      return (v) => {
        const x = a(v);
        return typeof x === "boolean" ? !x : FALLBACK;
      };
    }
    default:
      return undefined;
  }
}

/** `var.field` as [var, field], or undefined. */
function fieldRef(node: unknown): [string, string] | undefined {
  if (!isNode(node) || node.op !== ".") return undefined;
  const [inner, field] = node.args as [unknown, unknown];
  return isNode(inner) && inner.op === "id" && typeof field === "string" ? [inner.args as string, field] : undefined;
}

/** Reads `v[name][field]` as CEL would select it from a map, or FALLBACK (not a map, no such key). */
function readField(v: Readonly<Record<string, unknown>>, name: string, field: string): unknown {
  const o = v[name];
  if (o === null || typeof o !== "object" || Array.isArray(o) || o instanceof Map) return FALLBACK;
  const x = (o as Record<string, unknown>)[field];
  return x === undefined ? FALLBACK : x;
}

/** The value of a literal node (a string, number, boolean or CEL int), or undefined. */
function literal(node: unknown): unknown {
  return isNode(node) && node.op === "value" && ["string", "number", "boolean", "bigint"].includes(typeof node.args) ? node.args : undefined;
}

function pair(args: unknown[]): [Fast | undefined, Fast | undefined] {
  const [a, b] = args;
  return [isNode(a) ? build(a) : undefined, isNode(b) ? build(b) : undefined];
}

/** The fast closure of an expression over `vars`, or undefined when it is outside the fast subset. */
export function fastPath(expression: string, vars: readonly string[]): Fast | undefined {
  // `math` is the namespace constant only where no variable of that name shadows it.
  if (vars.includes("math")) return undefined;
  try {
    const parsed = evaluationEnvironment(vars).parse(expression) as unknown as { ast?: unknown };
    return isNode(parsed.ast) ? build(parsed.ast) : undefined;
  } catch {
    return undefined;
  }
}
