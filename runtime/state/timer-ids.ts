/**
 * Store form of a timer that left memory (ADR 34): one keyed entry per (timestamp, key) whose
 * encoded key sorts by timestamp, then by key. It starts with "t" so that `decodeKey` knows it
 * and routes the entry to the task of the key the timer belongs to (restores re-split keyed
 * entries by key). Ids are ASCII only: JavaScript's string order and LevelDB's byte order then
 * agree, so an id range read from the store merges with cached ids by plain comparison.
 */
import type { Key } from "../api/functions.ts";

const scratch = new DataView(new ArrayBuffer(8));
const HEX_DIGITS = 16;

/** A double as 16 hex digits that sort as the numbers do (sign bit flipped; negatives inverted). */
function sortableHex(ts: number): string {
  scratch.setFloat64(0, ts === 0 ? 0 : ts); // -0 sorts as 0
  const hi = scratch.getUint32(0);
  const lo = scratch.getUint32(4);
  const neg = hi >>> 31 === 1;
  const h = neg ? ~hi >>> 0 : (hi | 0x80000000) >>> 0;
  const l = neg ? ~lo >>> 0 : lo;
  return h.toString(16).padStart(8, "0") + l.toString(16).padStart(8, "0");
}

/** Inverse of sortableHex. */
function fromSortableHex(hex: string): number {
  const h = Number.parseInt(hex.slice(0, 8), 16);
  const l = Number.parseInt(hex.slice(8, 16), 16);
  const neg = h >>> 31 === 0;
  scratch.setUint32(0, neg ? ~h >>> 0 : (h & 0x7fffffff) >>> 0);
  scratch.setUint32(4, neg ? ~l >>> 0 : l);
  return scratch.getFloat64(0);
}

/** True when every UTF-16 unit of `s` is ASCII. */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The key part of an id: "n" number, "s" ASCII string, "x" other strings as hex UTF-16 units. */
function encodeTimerKey(key: Key): string {
  if (typeof key === "number") return `n${key}`;
  if (isAscii(key)) return `s${key}`;
  let out = "x";
  for (let i = 0; i < key.length; i++) out += key.charCodeAt(i).toString(16).padStart(4, "0");
  return out;
}

function decodeTimerKey(text: string): Key {
  if (text.startsWith("n")) return Number(text.slice(1));
  if (text.startsWith("s")) return text.slice(1);
  let out = "";
  for (let i = 1; i < text.length; i += 4) out += String.fromCharCode(Number.parseInt(text.slice(i, i + 4), 16));
  return out;
}

/** The id (table key) of the timer of `key` at `ts`. */
export function timerId(ts: number, key: Key): string {
  return `t${sortableHex(ts)}${encodeTimerKey(key)}`;
}

/** True when an encoded key is a timer id. */
export function isTimerId(text: string): boolean {
  return text.startsWith("t");
}

/** The timestamp of a timer id. */
export function timerIdTs(id: string): number {
  return fromSortableHex(id.slice(1, 1 + HEX_DIGITS));
}

/** The key of a timer id. */
export function timerIdKey(id: string): Key {
  return decodeTimerKey(id.slice(1 + HEX_DIGITS));
}
