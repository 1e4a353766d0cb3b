/**
 * A compact binary form of the plain values state and records are made of: numbers, strings,
 * booleans, null/undefined, arrays, plain objects, Maps and Sets, nested. Written and read in
 * JavaScript, with no call into V8's serialiser (which costs about a microsecond per value plus
 * a Buffer per call). Anything else — bigints, Dates, typed arrays, class instances, arrays with
 * holes, cycles — is refused (`encodeCompact` returns undefined) and the caller falls back to
 * V8's structured serialisation, so every value still round-trips. Shared references are written
 * once per reference (a value that holds one object twice gets two equal copies back).
 */
import { InternalError } from "../errors.ts";

const T_UNDEF = 0;
const T_NULL = 1;
const T_TRUE = 2;
const T_FALSE = 3;
const T_INT = 4;
const T_F64 = 5;
const T_STR = 6;
const T_ARR = 7;
const T_OBJ = 8;
const T_MAP = 9;
const T_SET = 10;

/** Nesting deeper than this is refused (it catches cycles without tracking every object). */
const MAX_DEPTH = 64;

/** Refusal: the value needs V8's serialiser (one preallocated object, never surfaced: refusing costs no stack capture). */
const REFUSED = new InternalError("the value needs V8's serialiser");

/** One reusable output buffer per process; values are copied out of it. */
let out = Buffer.allocUnsafe(64 * 1024);
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= out.length) return;
  const next = Buffer.allocUnsafe(Math.max(out.length * 2, pos + n));
  out.copy(next, 0, 0, pos);
  out = next;
}

function byte(b: number): void {
  ensure(1);
  out[pos++] = b;
}

function varint(n: number): void {
  ensure(5);
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
}

function str(s: string): void {
  const len = s.length;
  // Short ASCII strings (keys, names, ids) byte by byte; anything else through Buffer.write.
  if (len < 64) {
    ensure(1 + len);
    const start = pos;
    out[pos++] = len;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[pos++] = c;
    }
    if (i === len) return;
    pos = start;
  }
  // UTF-8 cannot hold a lone surrogate; V8's serialiser keeps it.
  if (!s.isWellFormed()) throw REFUSED;
  const bytes = Buffer.byteLength(s);
  varint(bytes);
  ensure(bytes);
  pos += out.write(s, pos, "utf8");
}

function value(v: unknown, depth: number): void {
  switch (typeof v) {
    case "number":
      if ((v | 0) === v && !Object.is(v, -0)) {
        byte(T_INT);
        varint(((v << 1) ^ (v >> 31)) >>> 0);
      } else {
        byte(T_F64);
        ensure(8);
        pos = out.writeDoubleLE(v, pos);
      }
      return;
    case "string":
      byte(T_STR);
      str(v);
      return;
    case "boolean":
      byte(v ? T_TRUE : T_FALSE);
      return;
    case "undefined":
      byte(T_UNDEF);
      return;
    case "object":
      if (v === null) {
        byte(T_NULL);
        return;
      }
      if (depth >= MAX_DEPTH) throw REFUSED;
      object(v, depth + 1);
      return;
    default:
      throw REFUSED;
  }
}

function object(v: object, depth: number): void {
  const proto = Object.getPrototypeOf(v) as unknown;
  if (Array.isArray(v)) {
    if (proto !== Array.prototype) throw REFUSED;
    byte(T_ARR);
    varint(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      // A hole would come back as undefined: V8 keeps holes.
      if (x === undefined && !(i in v)) throw REFUSED;
      value(x, depth);
    }
    return;
  }
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(v);
    byte(T_OBJ);
    varint(keys.length);
    for (const k of keys) {
      str(k);
      value((v as Record<string, unknown>)[k], depth);
    }
    return;
  }
  if (v instanceof Map && proto === Map.prototype) {
    byte(T_MAP);
    varint(v.size);
    for (const [k, x] of v) {
      value(k, depth);
      value(x, depth);
    }
    return;
  }
  if (v instanceof Set && proto === Set.prototype) {
    byte(T_SET);
    varint(v.size);
    for (const x of v) value(x, depth);
    return;
  }
  throw REFUSED;
}

/** `tag` then the compact form of `v`, or undefined when `v` needs V8's serialiser. */
export function encodeCompact(tag: number, v: unknown): Buffer | undefined {
  pos = 0;
  byte(tag);
  try {
    value(v, 0);
  } catch (err) {
    if (err === REFUSED) return undefined;
    throw err;
  }
  const b = Buffer.allocUnsafe(pos);
  out.copy(b, 0, 0, pos);
  return b;
}

/** The buffer being read and the position in it (module state: no closure per value). */
let inp: Buffer = Buffer.alloc(0);
let at = 0;

function readVarint(): number {
  let n = 0;
  let shift = 0;
  for (;;) {
    const byte = inp[at++] as number;
    n += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return n;
    shift += 7;
  }
}

function readStr(): string {
  const len = readVarint();
  const s = inp.toString("utf8", at, at + len);
  at += len;
  return s;
}

function read(): unknown {
  const t = inp[at++];
  switch (t) {
    case T_UNDEF:
      return undefined;
    case T_NULL:
      return null;
    case T_TRUE:
      return true;
    case T_FALSE:
      return false;
    case T_INT: {
      const z = readVarint();
      return (z >>> 1) ^ -(z & 1);
    }
    case T_F64: {
      const d = inp.readDoubleLE(at);
      at += 8;
      return d;
    }
    case T_STR:
      return readStr();
    case T_ARR: {
      const n = readVarint();
      const a: unknown[] = new Array<unknown>(n);
      for (let i = 0; i < n; i++) a[i] = read();
      return a;
    }
    case T_OBJ: {
      const n = readVarint();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = readStr();
        // An own "__proto__" key is data, as V8's deserialiser makes it, not the prototype.
        if (k === "__proto__") Object.defineProperty(o, k, { value: read(), enumerable: true, writable: true, configurable: true });
        else o[k] = read();
      }
      return o;
    }
    case T_MAP: {
      const n = readVarint();
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const k = read();
        m.set(k, read());
      }
      return m;
    }
    case T_SET: {
      const n = readVarint();
      const set = new Set<unknown>();
      for (let i = 0; i < n; i++) set.add(read());
      return set;
    }
    default:
      // Bytes Runnel wrote itself that it cannot read: a bug or corruption, never retried.
      throw new InternalError(`compact value: unknown type ${String(t)} at byte ${at - 1}`);
  }
}

/** Reads what encodeCompact wrote, from `offset` (just after its tag byte). */
export function decodeCompact(b: Buffer, offset: number): unknown {
  inp = b;
  at = offset;
  const v = read();
  inp = EMPTY;
  return v;
}

const EMPTY = Buffer.alloc(0);
