/**
 * Value encoding of keyed state: one tag byte, then a fast form for numbers and strings (the
 * common counters and names), the compact form for plain values (aggregates, small records,
 * Maps and Sets of them: compact.ts) and V8's structured serialisation for everything else
 * (bigints, Dates, class instances). The V8 serialiser costs about a microsecond per call; the
 * other forms are written in JavaScript. Values stored with any tag stay readable.
 */
import { deserialize, serialize } from "node:v8";
import { decodeCompact, encodeCompact } from "./compact.ts";

const TAG_V8 = 0;
const TAG_F64 = 1;
const TAG_STR = 2;
const TAG_TRUE = 3;
const TAG_FALSE = 4;
const TAG_COMPACT = 5;

/** Encodes a state value. */
export function encodeValue(value: unknown): Uint8Array {
  if (typeof value === "number") {
    const b = Buffer.allocUnsafe(9);
    b[0] = TAG_F64;
    b.writeDoubleLE(value, 1);
    return b;
  }
  if (typeof value === "string") {
    const b = Buffer.allocUnsafe(1 + Buffer.byteLength(value));
    b[0] = TAG_STR;
    b.write(value, 1, "utf8");
    return b;
  }
  if (typeof value === "boolean") return Buffer.of(value ? TAG_TRUE : TAG_FALSE);
  const compact = encodeCompact(TAG_COMPACT, value);
  if (compact !== undefined) return compact;
  const body = serialize(value);
  const b = Buffer.allocUnsafe(1 + body.length);
  b[0] = TAG_V8;
  body.copy(b, 1);
  return b;
}

/** Decodes what encodeValue produced. */
export function decodeValue(bytes: Uint8Array): unknown {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (b[0]) {
    case TAG_F64:
      return b.readDoubleLE(1);
    case TAG_STR:
      return b.toString("utf8", 1);
    case TAG_TRUE:
      return true;
    case TAG_FALSE:
      return false;
    case TAG_COMPACT:
      return decodeCompact(b, 1);
    default:
      return deserialize(b.subarray(1));
  }
}
