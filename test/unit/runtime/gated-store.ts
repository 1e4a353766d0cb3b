/**
 * An in-memory fake of our own StateStore interface for backend tests: a sorted map whose writes
 * land only when the test lets them, recording the order of calls.
 */
import type { StateStore, StoreStats } from "../../../runtime/state/store.ts";

/** A sorted map whose writes wait for `land()`; records the order of calls. */
export function gatedStore(): StateStore & { data: Map<string, Uint8Array>; calls: string[]; pending: number; land(fail?: Error): void } {
  const data = new Map<string, Uint8Array>();
  const calls: string[] = [];
  const gates: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const stats: StoreStats = { getMany: 0, keysRead: 0, batches: 0, keysWritten: 0, readMs: 0, writeMs: 0 };
  return {
    persistent: true,
    stats,
    data,
    calls,
    get pending() {
      return gates.length;
    },
    land(fail?: Error) {
      const g = gates.shift();
      if (fail) g?.reject(fail);
      else g?.resolve();
    },
    getMany: async (keys) => {
      calls.push(`get ${keys.join(",")}`);
      return keys.map((k) => data.get(k));
    },
    write: (puts, dels) => {
      if (puts.length + dels.length === 0) return Promise.resolve();
      stats.batches++;
      calls.push(`write ${puts.length + dels.length}`);
      return new Promise<void>((resolve, reject) => {
        gates.push({
          resolve: () => {
            for (const [k, v] of puts) data.set(k, v);
            for (const k of dels) data.delete(k);
            resolve();
          },
          reject,
        });
      });
    },
    scan: async function* (prefix, chunk = 8192, after) {
      const keys = [...data.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort();
      for (let i = 0; i < keys.length; i += chunk) yield keys.slice(i, i + chunk).map((k): [string, Uint8Array] => [k, data.get(k) as Uint8Array]);
    },
    // A snapshot of the keys at the call, handed out a turn of the event loop apart.
    scanKeys: (chunk = 8192) => {
      const keys = [...data.keys()].sort();
      return (async function* () {
        for (let i = 0; i < keys.length; i += chunk) {
          await new Promise((resolve) => setImmediate(resolve));
          yield keys.slice(i, i + chunk);
        }
      })();
    },
    clear: async () => data.clear(),
    close: async () => {},
  };
}

/** Lets the next write land once the backend has made it (it may settle first). */
export async function landWhenAsked(store: ReturnType<typeof gatedStore>): Promise<void> {
  while (store.pending === 0) await new Promise((resolve) => setImmediate(resolve));
  store.land();
}
