/**
 * What Runnel adds to cel-js's standard library for pipelines: arithmetic across int and double
 * (JSON numbers arrive as doubles, CEL literals are ints), the `math.*` functions of cel-go's math
 * extension, `string.replace`, and `millis(...)` for the millisecond event times records carry.
 * cel-js already has matches/startsWith/endsWith/contains/split/join/lowerAscii/trim, size,
 * duration()/timestamp() and the macros.
 */
import type { Environment } from "@marcbachmann/cel-js";

type Num = bigint | number;

/** The receiver type of `math.*` calls: cel-js has no namespaces, so `math` is a constant of this type. */
class MathNamespace {}

/** Double arithmetic by CEL operator (shared with the pipeline's fast path so both agree). */
export const DOUBLE_ARITHMETIC: Readonly<Record<string, (a: number, b: number) => number>> = {
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "*": (a, b) => a * b,
  "/": (a, b) => a / b,
  "%": (a, b) => a % b,
};

/** The unary `math.*` functions on doubles (shared with the pipeline's fast path so both agree). */
export const DOUBLE_MATH: Readonly<Record<string, (a: number) => number>> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  // CEL rounds half away from zero; Math.round rounds half up (so negatives round as their negation).
  round: (a) => (a >= 0 ? Math.round(a) : -Math.round(-a)),
  trunc: Math.trunc,
  sqrt: Math.sqrt,
};

function greatest<T extends Num>(a: T, b: T): T {
  return a >= b ? a : b;
}

function least<T extends Num>(a: T, b: T): T {
  return a <= b ? a : b;
}

/** Registers mixed int/double arithmetic: without it `record.count + 1` fails when count came from JSON. */
function registerMixedArithmetic(env: Environment): void {
  for (const [op, f] of Object.entries(DOUBLE_ARITHMETIC)) {
    env.registerOperator(`double ${op} int: double`, (a: number, b: bigint) => f(a, Number(b)));
    env.registerOperator(`int ${op} double: double`, (a: bigint, b: number) => f(Number(a), b));
  }
}

/** Registers `math.greatest/least/abs/ceil/floor/round/trunc/sign/sqrt/isNaN/isInf/isFinite`. */
function registerMath(env: Environment): void {
  env.registerType("MathNamespace", MathNamespace);
  env.registerConstant("math", "MathNamespace", new MathNamespace());
  const fn = (signature: string, handler: (...args: never[]) => unknown): void => {
    env.registerFunction(`MathNamespace.${signature}`, (_m: MathNamespace, ...args: never[]) => handler(...args));
  };
  for (const t of ["int", "double"]) {
    fn(`greatest(${t}, ${t}): ${t}`, greatest);
    fn(`greatest(${t}, ${t}, ${t}): ${t}`, (a: Num, b: Num, c: Num) => greatest(greatest(a, b), c));
    fn(`least(${t}, ${t}): ${t}`, least);
    fn(`least(${t}, ${t}, ${t}): ${t}`, (a: Num, b: Num, c: Num) => least(least(a, b), c));
  }
  fn("greatest(list<int>): int", (l: bigint[]) => l.reduce(greatest));
  fn("greatest(list<double>): double", (l: number[]) => l.reduce(greatest));
  fn("least(list<int>): int", (l: bigint[]) => l.reduce(least));
  fn("least(list<double>): double", (l: number[]) => l.reduce(least));
  fn("abs(int): int", (a: bigint) => (a < 0n ? -a : a));
  for (const [name, f] of Object.entries(DOUBLE_MATH)) fn(`${name}(double): double`, f);
  fn("sign(int): int", (a: bigint) => (a > 0n ? 1n : a < 0n ? -1n : 0n));
  fn("sign(double): double", (a: number) => Math.sign(a));
  fn("sqrt(int): double", (a: bigint) => Math.sqrt(Number(a)));
  fn("isNaN(double): bool", (a: number) => Number.isNaN(a));
  fn("isInf(double): bool", (a: number) => a === Infinity || a === -Infinity);
  fn("isFinite(double): bool", (a: number) => Number.isFinite(a));
}

/** Registers `millis(duration)`, `millis(timestamp)` and `timestampMillis(int)`: event times are ms since the epoch. */
function registerTime(env: Environment): void {
  env.registerFunction(
    "millis(google.protobuf.Duration): int",
    (d: { seconds: Num; nanos: Num }) => BigInt(d.seconds) * 1000n + BigInt(Math.trunc(Number(d.nanos) / 1e6)),
  );
  env.registerFunction("millis(google.protobuf.Timestamp): int", (t: Date) => BigInt(t.getTime()));
  env.registerFunction("timestampMillis(int): google.protobuf.Timestamp", (ms: bigint) => new Date(Number(ms)));
}

/** Registers `string.replace(old, new)` (every occurrence, as cel-go's strings extension does). */
function registerStrings(env: Environment): void {
  env.registerFunction("string.replace(string, string): string", (s: string, from: string, to: string) => s.replaceAll(from, to));
}

/** Adds Runnel's extensions to a fresh environment. */
export function registerExtensions(env: Environment): void {
  registerMixedArithmetic(env);
  registerMath(env);
  registerTime(env);
  registerStrings(env);
}
