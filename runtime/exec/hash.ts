/**
 * Key → task routing. Kafka's default partitioner hash (murmur2 of the key's UTF-8 bytes), so
 * a topic keyed by the same key with the same partition count lands where keyBy sends it,
 * and savepoint re-splitting agrees with the repartition topics of distributed mode.
 */
import type { Key } from "../api/functions.ts";

const scratch = new Uint8Array(1024);
const encoder = new TextEncoder();

/** Kafka's murmur2 over the UTF-8 bytes of `text` (String(key) for numbers). */
export function murmur2(text: string): number {
  let len = text.length;
  let bytes: Uint8Array = scratch;
  let ascii = len <= scratch.length;
  if (ascii) {
    for (let i = 0; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c > 127) {
        ascii = false;
        break;
      }
      scratch[i] = c;
    }
  }
  if (!ascii) {
    bytes = encoder.encode(text);
    len = bytes.length;
  }
  return murmurBytes(bytes, len);
}

/** Kafka's murmur2 over the first `len` bytes. */
function murmurBytes(bytes: Uint8Array, len: number): number {
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ len;
  const len4 = len >> 2;
  for (let i = 0; i < len4; i++) {
    const i4 = i * 4;
    let k = (bytes[i4] as number) | ((bytes[i4 + 1] as number) << 8) | ((bytes[i4 + 2] as number) << 16) | ((bytes[i4 + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = len & ~3;
  const rest = len % 4;
  if (rest === 3) h ^= (bytes[tail + 2] as number) << 16;
  if (rest >= 2) h ^= (bytes[tail + 1] as number) << 8;
  if (rest >= 1) {
    h ^= bytes[tail] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The last hashes of integer keys, direct-mapped by the key's low bits: keyed streams repeat their
 * keys (a hot auction's bids, a window end's counts), and writing a key's digits out costs a
 * division per digit (6 % of a threaded q5 run's time). A cache, so results never change.
 */
const INT_CACHE_SIZE = 4096;
const cachedInts = new Float64Array(INT_CACHE_SIZE).fill(-1);
const cachedHashes = new Int32Array(INT_CACHE_SIZE);

/** murmur2 of the decimal text of a non-negative safe integer, without building the string. */
function murmur2Int(n: number): number {
  const slot = n % INT_CACHE_SIZE;
  if (cachedInts[slot] === n) return cachedHashes[slot] as number;
  const h = murmur2Digits(n);
  cachedInts[slot] = n;
  cachedHashes[slot] = h;
  return h;
}

/** murmur2 of the decimal digits of `n` (integer arithmetic below 2^31, where most keys are). */
function murmur2Digits(n: number): number {
  let len = 0;
  if (n <= 0x7fffffff) {
    let x = n | 0;
    do {
      len++;
      x = (x / 10) | 0;
    } while (x > 0);
    x = n | 0;
    for (let i = len - 1; i >= 0; i--) {
      scratch[i] = 48 + (x % 10);
      x = (x / 10) | 0;
    }
    return murmurBytes(scratch, len);
  }
  let x = n;
  do {
    len++;
    x = Math.floor(x / 10);
  } while (x > 0);
  x = n;
  for (let i = len - 1; i >= 0; i--) {
    scratch[i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return murmurBytes(scratch, len);
}

/** The task (partition) of a key among `parallelism` tasks, as Kafka would choose it. */
export function taskOfKey(key: Key, parallelism: number): number {
  if (parallelism === 1) return 0;
  const h = typeof key === "number" && Number.isSafeInteger(key) && key >= 0 ? murmur2Int(key) : murmur2(String(key));
  return (h & 0x7fffffff) % parallelism;
}
