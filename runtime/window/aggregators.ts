/**
 * Built-in aggregate functions for windows, OVER and aggregating state. Accumulators are
 * plain data (numbers, arrays, Sets, objects) so they survive structured-clone checkpoints;
 * `add` mutates in place where it can to avoid an allocation per record.
 */
import type { AggregateFunction } from "../api/functions.ts";

type Num<T> = (value: T) => number;

/** Number of records. */
export function count<T = unknown>(): AggregateFunction<T, number, number> {
  return { createAccumulator: () => 0, add: (_v, a) => a + 1, getResult: (a) => a, merge: (a, b) => a + b, mergesExactly: true };
}

/** Sum of a numeric field. */
export function sum<T>(field: Num<T>): AggregateFunction<T, number, number> {
  return { createAccumulator: () => 0, add: (v, a) => a + field(v), getResult: (a) => a, merge: (a, b) => a + b };
}

/** Arithmetic mean of a numeric field (undefined over no records). */
export function avg<T>(field: Num<T>): AggregateFunction<T, { sum: number; n: number }, number | undefined> {
  return {
    createAccumulator: () => ({ sum: 0, n: 0 }),
    add(v, a) {
      a.sum += field(v);
      a.n++;
      return a;
    },
    getResult: (a) => (a.n === 0 ? undefined : a.sum / a.n),
    merge(a, b) {
      a.sum += b.sum;
      a.n += b.n;
      return a;
    },
  };
}

function extreme<T>(field: Num<T>, better: (x: number, y: number) => boolean): AggregateFunction<T, number | null, number | undefined> {
  return {
    createAccumulator: () => null,
    add(v, a) {
      const x = field(v);
      return a === null || better(x, a) ? x : a;
    },
    getResult: (a) => (a === null ? undefined : a),
    merge: (a, b) => (a === null ? b : b === null ? a : better(b, a) ? b : a),
    mergesExactly: true,
  };
}

/** Minimum of a numeric field. */
export function min<T>(field: Num<T>): AggregateFunction<T, number | null, number | undefined> {
  return extreme(field, (x, y) => x < y);
}

/** Maximum of a numeric field. */
export function max<T>(field: Num<T>): AggregateFunction<T, number | null, number | undefined> {
  return extreme(field, (x, y) => x > y);
}

/** Number of distinct values of a field (exact, with a Set). */
export function countDistinct<T>(field: (value: T) => string | number): AggregateFunction<T, Set<string | number>, number> {
  return {
    createAccumulator: () => new Set(),
    add(v, a) {
      a.add(field(v));
      return a;
    },
    getResult: (a) => a.size,
    merge(a, b) {
      for (const x of b) a.add(x);
      return a;
    },
    mergesExactly: true,
  };
}

/** All values of a field (or the records), in arrival order. */
export function collect<T, V = T>(field?: (value: T) => V): AggregateFunction<T, V[], V[]> {
  const f = field ?? ((v: T) => v as unknown as V);
  return {
    createAccumulator: () => [],
    add(v, a) {
      a.push(f(v));
      return a;
    },
    getResult: (a) => a.slice(),
    merge(a, b) {
      for (const x of b) a.push(x);
      return a;
    },
    mergesExactly: true,
  };
}

/**
 * The n records with the highest score (lowest with `ascending`), best first; ties keep
 * arrival order, so results are deterministic. Keeps at most n entries.
 */
export function topN<T>(options: { n: number; score: Num<T>; ascending?: boolean }): AggregateFunction<T, [number, T][], T[]> {
  const { n, score } = options;
  const before = options.ascending === true ? (x: number, y: number) => x < y : (x: number, y: number) => x > y;
  const insert = (a: [number, T][], s: number, v: T): void => {
    if (a.length >= n && !before(s, (a[a.length - 1] as [number, T])[0])) return;
    let i = a.length;
    while (i > 0 && before(s, (a[i - 1] as [number, T])[0])) i--;
    a.splice(i, 0, [s, v]);
    if (a.length > n) a.pop();
  };
  return {
    createAccumulator: () => [],
    add(v, a) {
      insert(a, score(v), v);
      return a;
    },
    getResult: (a) => a.map((e) => e[1]),
    merge(a, b) {
      for (const [s, v] of b) insert(a, s, v);
      return a;
    },
    mergesExactly: true,
  };
}

type Accs<M> = { [K in keyof M]: M[K] extends AggregateFunction<never, infer A, unknown> ? A : never };
type Results<M> = { [K in keyof M]: M[K] extends AggregateFunction<never, unknown, infer R> ? R : never };

/** Several aggregates over the same records at once, e.g. { n: count(), users: countDistinct(...) }. */
export function combine<T, M extends Record<string, AggregateFunction<T, unknown, unknown>>>(parts: M): AggregateFunction<T, Accs<M>, Results<M>> {
  const names = Object.keys(parts);
  const fns = names.map((k) => parts[k] as unknown as AggregateFunction<T, unknown, unknown>);
  return {
    // Exact when every part is: the parts merge independently.
    mergesExactly: fns.every((f) => f.mergesExactly === true),
    createAccumulator() {
      const acc: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) acc[names[i] as string] = (fns[i] as AggregateFunction<T, unknown, unknown>).createAccumulator();
      return acc as Accs<M>;
    },
    add(v, a) {
      const acc = a as Record<string, unknown>;
      for (let i = 0; i < names.length; i++) {
        const k = names[i] as string;
        acc[k] = (fns[i] as AggregateFunction<T, unknown, unknown>).add(v, acc[k]);
      }
      return a;
    },
    getResult(a) {
      const acc = a as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) {
        const k = names[i] as string;
        out[k] = (fns[i] as AggregateFunction<T, unknown, unknown>).getResult(acc[k]);
      }
      return out as Results<M>;
    },
    merge(a, b) {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      for (let i = 0; i < names.length; i++) {
        const k = names[i] as string;
        x[k] = (fns[i] as AggregateFunction<T, unknown, unknown>).merge(x[k], y[k]);
      }
      return a;
    },
  };
}
