/** User-facing keyed state handles: typed views of a table at the operator's current key. */
import type { AggregateFunction, AggregatingState, Key, ListState, MapState, ValueState } from "../api/functions.ts";
import type { StateTable } from "./table.ts";

/** Where handles read the current key from (set by the operator before user code runs). */
export interface KeyScope {
  /** The key of the record or timer being handled. */
  currentKey: Key;
}

const EMPTY: readonly never[] = Object.freeze([]);

/** A ValueState over a table. */
export function valueHandle<T>(table: StateTable<T>, scope: KeyScope): ValueState<T> {
  return {
    value: () => table.get(scope.currentKey),
    update: (v) => table.put(scope.currentKey, v),
    clear: () => table.remove(scope.currentKey),
  };
}

/** A ListState over a table of arrays. */
export function listHandle<T>(table: StateTable<T[]>, scope: KeyScope): ListState<T> {
  return {
    get: () => table.get(scope.currentKey) ?? EMPTY,
    add(v) {
      const list = table.get(scope.currentKey);
      if (list === undefined) table.put(scope.currentKey, [v]);
      else {
        list.push(v);
        table.touch(scope.currentKey);
      }
    },
    update: (values) => table.put(scope.currentKey, [...values]),
    clear: () => table.remove(scope.currentKey),
  };
}

/** A MapState over a table of Maps. */
export function mapHandle<K, V>(table: StateTable<Map<K, V>>, scope: KeyScope): MapState<K, V> {
  const empty = new Map<K, V>();
  return {
    get: (k) => table.get(scope.currentKey)?.get(k),
    put(k, v) {
      const m = table.get(scope.currentKey);
      if (m === undefined) table.put(scope.currentKey, new Map([[k, v]]));
      else {
        m.set(k, v);
        table.touch(scope.currentKey);
      }
    },
    remove(k) {
      const m = table.get(scope.currentKey);
      if (m === undefined || !m.delete(k)) return;
      if (m.size === 0) table.remove(scope.currentKey);
      else table.touch(scope.currentKey);
    },
    has: (k) => table.get(scope.currentKey)?.has(k) ?? false,
    entries: () => (table.get(scope.currentKey) ?? empty).entries(),
    size: () => table.get(scope.currentKey)?.size ?? 0,
    clear: () => table.remove(scope.currentKey),
  };
}

/** An AggregatingState over a table of accumulators. */
export function aggregatingHandle<IN, ACC, OUT>(table: StateTable<ACC>, scope: KeyScope, agg: AggregateFunction<IN, ACC, OUT>): AggregatingState<IN, OUT> {
  return {
    add(v) {
      const acc = table.get(scope.currentKey);
      table.put(scope.currentKey, agg.add(v, acc === undefined ? agg.createAccumulator() : acc));
    },
    get() {
      const acc = table.get(scope.currentKey);
      return acc === undefined ? undefined : agg.getResult(acc);
    },
    clear: () => table.remove(scope.currentKey),
  };
}
