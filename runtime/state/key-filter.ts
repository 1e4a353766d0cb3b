/**
 * A counting Bloom filter of the keys a backend has put in its store (ADR 39): "no" means the
 * store holds no value for the key, so a prefetch installs it as absent instead of reading it.
 * Tables add a key when they write a value the store did not hold and remove it when they delete
 * one it did, so a key deleted at a window's end is not read back at the next window's start.
 * One byte per counter; a counter that reaches 255 stays there, so a removal never turns a
 * "maybe" into a wrong "no".
 */
import type { Key } from "../api/functions.ts";

/** Probes per key: with 16 counters per cached entry the bound keeps false "maybe"s rare. */
const PROBES = 3;
/** The largest filter: 16 MiB of counters. */
const MAX_COUNTERS = 1 << 24;

/** Murmur3's finaliser: spreads every input bit over the 32 output bits. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A 32-bit hash of a table's key mixed with its table's seed (number and string keys never need to differ: a clash is a "maybe"). */
function hashKey(seed: number, key: Key): number {
  if (typeof key === "number" && (key | 0) === key) return fmix(key ^ seed);
  const text = typeof key === "number" ? String(key) : key;
  let h = seed ^ text.length;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return fmix(h);
}

/** The seed of a table: a hash of its store prefix. */
export function tableSeed(prefix: string): number {
  return hashKey(0x2545f491, prefix);
}

/** The keys a backend may have in its store. */
export class StoreKeyFilter {
  private readonly counters: Uint8Array;
  private readonly mask: number;

  /** A filter of about `counters` one-byte counters (rounded up to a power of two, at most 16 Mi). */
  constructor(counters: number) {
    let size = 1024;
    while (size < counters && size < MAX_COUNTERS) size *= 2;
    this.counters = new Uint8Array(size);
    this.mask = size - 1;
  }

  /** The stored keys a filter is built for at a restore: about 3 false "maybe"s in a hundred with as many. */
  get capacity(): number {
    return this.counters.length / 8;
  }

  /** Records that the store now holds a value for `key` of the table with `seed`. */
  add(seed: number, key: Key): void {
    this.count(seed, key, 1);
  }

  /** Records that the store no longer holds `key` (only for a key added before). */
  remove(seed: number, key: Key): void {
    this.count(seed, key, -1);
  }

  /** Moves the key's counters by `delta`, leaving saturated ones (and empty ones, for a removal) as they are. */
  private count(seed: number, key: Key, delta: 1 | -1): void {
    const h1 = hashKey(seed, key);
    const h2 = fmix(h1 ^ 0x9e3779b9) | 1;
    for (let i = 0; i < PROBES; i++) {
      const at = (h1 + i * h2) & this.mask;
      const c = this.counters[at] as number;
      if (c < 255 && c + delta >= 0) this.counters[at] = c + delta;
    }
  }

  /** False when the store surely holds no value for `key`. */
  mayHold(seed: number, key: Key): boolean {
    const h1 = hashKey(seed, key);
    const h2 = fmix(h1 ^ 0x9e3779b9) | 1;
    for (let i = 0; i < PROBES; i++) if (this.counters[(h1 + i * h2) & this.mask] === 0) return false;
    return true;
  }
}
