/**
 * How a record crosses a process or thread boundary: repartition topics (distributed/repartition.ts)
 * and the exchange between the threads of a local run (exec/threads/port-peers.ts) use the same bytes.
 */
import { deserialize, serialize } from "node:v8";
import { decodeCompact, encodeCompact } from "../state/compact.ts";

/** First byte of a record in the compact form; V8's serialisation starts with 0xFF (its version tag). */
const RECORD_COMPACT = 1;

/**
 * A record's bytes: the compact form of plain values (runtime/state/compact.ts) or, for what it
 * cannot hold, V8's structured serialisation (bigints, Maps, Dates survive) — plus the record's
 * registered-symbol properties (Symbol.for), which neither form carries by itself: the
 * declarative pipeline carries a keyed record's key on one. Readers take both forms, so workers
 * of the previous version and this one can share a topic.
 */
export function encodeRecord(value: unknown): Buffer {
  const carried = carriedSymbols(value) ?? [];
  const compact = encodeCompact(RECORD_COMPACT, carried.length === 0 ? [value] : [value, carried]);
  if (compact !== undefined) return compact;
  return serialize(carried.length === 0 ? { v: value } : { v: value, s: carried });
}

/** Inverse of encodeRecord. */
export function decodeRecord(bytes: Buffer): unknown {
  let v: unknown;
  let s: [string, unknown][] | undefined;
  if (bytes[0] === RECORD_COMPACT) [v, s] = decodeCompact(bytes, 1) as [unknown, [string, unknown][]?];
  else ({ v, s } = deserialize(bytes) as { v: unknown; s?: [string, unknown][] });
  if (s) restoreSymbols(v, s);
  return v;
}

/**
 * A record's registered-symbol properties (Symbol.for) by name, undefined when it has none: what
 * structured cloning (a message to another thread) and the byte forms above drop. A record's
 * origin crosses with its coordinates only: its original bytes stay behind.
 */
export function carriedSymbols(value: unknown): [string, unknown][] | undefined {
  if (value === null || typeof value !== "object") return undefined;
  let carried: [string, unknown][] | undefined;
  for (const s of Object.getOwnPropertySymbols(value)) {
    const name = Symbol.keyFor(s);
    if (name === undefined) continue;
    const v = (value as Record<symbol, unknown>)[s];
    (carried ??= []).push([name, name === "runnel.origin" && v !== null && typeof v === "object" ? { ...v, key: undefined, value: undefined } : v]);
  }
  return carried;
}

/** Puts carried symbol properties back on a record that crossed without them. */
export function restoreSymbols(value: unknown, carried: readonly [string, unknown][]): void {
  for (const [name, x] of carried) (value as Record<symbol, unknown>)[Symbol.for(name)] = x;
}
