/**
 * A fast path for the simplest CEL shapes, which are most of a pipeline's expressions: field
 * paths (`record.user`), comparisons of numbers, equality of strings and booleans, arithmetic on
 * doubles (and double with int, as Runnel's registered mixed operators do), a few `math.*`
 * functions, `double()`/`string()` of values already of that type, and `&&`, `||`, `!`. They run
 * as plain closures over cel-js's parsed AST; field reads go through readers with inline caches
 * of their own (`readers.ts`). Whenever a value is not of the exact kind a closure handles (a CEL
 * int, a missing field, a non-bool operand), the closure gives up and the real cel-js evaluator
 * runs instead, so results and errors are cel-js's.
 */
import { evaluationEnvironment } from "../cel/environment.ts";
import { DOUBLE_ARITHMETIC, DOUBLE_MATH } from "../cel/extensions.ts";
import { FALLBACK as FALLBACK_SYMBOL, fieldReader, internalized, isRecord, readable } from "./readers.ts";

export { FALLBACK } from "./readers.ts";

/** A module-local alias: V8 checks an imported binding for initialisation on every read (several per record here); a local constant is free. */
const FALLBACK: typeof FALLBACK_SYMBOL = FALLBACK_SYMBOL;

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
      const name = internalized(n.args as string);
      return (v) => (name in v ? v[name] : FALLBACK);
    }
    case "value": {
      const lit = n.args;
      return typeof lit === "string" || typeof lit === "boolean" || typeof lit === "number" || typeof lit === "bigint" ? () => lit : undefined;
    }
    case ".":
      return select(args);
    case "==":
    case "!=": {
      const [a, b] = pair(args);
      if (!a || !b) return undefined;
      const neg = n.op === "!=";
      const lit = literal(args[1]);
      // An internalized string literal compares to the generator's and JSON's interned strings by pointer.
      if (typeof lit === "string") return equalsLiteral(a, internalized(lit), neg);
      if (lit !== undefined && typeof lit !== "bigint") return equalsLiteral(a, lit as number | boolean, neg);
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
      const lit = literal(args[1]);
      if (typeof lit === "number") return compareLiteral(n.op, a, lit);
      const cmp =
        n.op === "<"
          ? (x: number, y: number) => x < y
          : n.op === "<="
            ? (x: number, y: number) => x <= y
            : n.op === ">"
              ? (x: number, y: number) => x > y
              : (x: number, y: number) => x >= y;
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
      // `record.price * 0.908`, `record.auction % 123`: a number with a literal (no double % double in CEL).
      if ((typeof lit === "number" && !mod) || typeof lit === "bigint") return arithmeticLiteral(f, a, Number(lit));
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

/** `x.field`: `variable.field` by a reader of its own (`readers.ts`); a nested path by one shared closure. */
function select(args: unknown[]): Fast | undefined {
  const [inner, field] = args;
  // Inherited names (`constructor`, `toString`) are not fields of a map: cel-js decides.
  if (!isNode(inner) || typeof field !== "string" || !readable(field)) return undefined;
  if (inner.op === "id") return fieldReader(inner.args as string, field);
  const obj = build(inner);
  if (!obj) return undefined;
  const name = internalized(field);
  return (v) => {
    // FALLBACK from the inner closure is no plain object either.
    const o = obj(v);
    if (!isRecord(o)) return FALLBACK;
    const x = o[name];
    return x === undefined ? FALLBACK : x;
  };
}

/**
 * `x == 'bid'`, `x != 5.5`: one closure per literal type and operator, so `typeof` is tested
 * against a constant and the comparison is a single instruction.
 */
function equalsLiteral(a: Fast, lit: string | number | boolean, neg: boolean): Fast {
  if (typeof lit === "string") {
    return neg
      ? (v) => {
          const x = a(v);
          return typeof x === "string" ? x !== lit : FALLBACK;
        }
      : (v) => {
          const x = a(v);
          return typeof x === "string" ? x === lit : FALLBACK;
        };
  }
  if (typeof lit === "number") {
    return neg
      ? (v) => {
          const x = a(v);
          return typeof x === "number" ? x !== lit : FALLBACK;
        }
      : (v) => {
          const x = a(v);
          return typeof x === "number" ? x === lit : FALLBACK;
        };
  }
  return (v) => {
    const x = a(v);
    return typeof x === "boolean" ? (x === lit) !== neg : FALLBACK;
  };
}

/** `x < 5.5` and the like: the operator inlined (no comparison function called per record). */
function compareLiteral(op: string, a: Fast, y: number): Fast {
  switch (op) {
    case "<":
      return (v) => {
        const x = a(v);
        return typeof x === "number" ? x < y : FALLBACK;
      };
    case "<=":
      return (v) => {
        const x = a(v);
        return typeof x === "number" ? x <= y : FALLBACK;
      };
    case ">":
      return (v) => {
        const x = a(v);
        return typeof x === "number" ? x > y : FALLBACK;
      };
    default:
      return (v) => {
        const x = a(v);
        return typeof x === "number" ? x >= y : FALLBACK;
      };
  }
}

/** A double with a literal (double, or int as the registered mixed operators take it). */
function arithmeticLiteral(f: (x: number, y: number) => number, a: Fast, y: number): Fast {
  return (v) => {
    const x = a(v);
    return typeof x === "number" ? f(x, y) : FALLBACK;
  };
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
