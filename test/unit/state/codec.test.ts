/** State values round-trip through the compact form or, when they need it, V8's serialiser; old encodings stay readable. */
import { serialize } from "node:v8";
import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../../../runtime/state/codec.ts";

const roundTrip = (v: unknown): unknown => decodeValue(encodeValue(v));
/** The tag byte encodeValue chose: 5 compact, 0 V8. */
const tagOf = (v: unknown): number => encodeValue(v)[0] as number;

class Point {
  readonly x: number;
  readonly y: number;
  constructor(x: number, y: number) {
    this.x = x;
    this.y = y;
  }
}

/** [1, <hole>, 3] */
function holey(): unknown[] {
  const a = [1, 2, 3];
  // eslint-disable-next-line @typescript-eslint/no-array-delete -- the hole is the point
  delete a[1];
  return a;
}

describe("state value codec", () => {
  it.each([
    ["integers at the int32 edges", [0, 1, -1, 2147483647, -2147483648, 63, 64, -64, -65, 127, 128, 16383, 16384]],
    ["doubles, -0, NaN and infinities", [0.5, -1.25e-300, 2 ** 53, 2 ** 31, -(2 ** 31) - 1, -0, Number.NaN, Infinity, -Infinity]],
    ["strings: empty, ASCII, long, accents, emoji", ["", "a", "x".repeat(63), "y".repeat(64), "z".repeat(100_000), "café", "ключ", "👍🏽 ok"]],
    ["null, undefined and booleans", [null, undefined, true, false]],
    ["an aggregate", { n: 3, sum: 12.5, min: -4, last: "e", seen: true, none: null, gone: undefined }],
    ["nested records", { user: { id: "u-1", tags: ["a", "b"], scores: [[1, 2], [3.5]] }, items: [{ sku: 1 }, { sku: 2, qty: 0 }] }],
    [
      "Maps and Sets of anything plain",
      {
        d: new Set([1, "1", null]),
        m: new Map<unknown, unknown>([
          ["k", { v: 1 }],
          [2, [3]],
          [null, new Set(["x"])],
        ]),
      },
    ],
    ["empty containers", [[], {}, new Map(), new Set(), [[]], { a: {} }]],
    ["an object with an own __proto__ key and numeric keys", JSON.parse('{"__proto__": {"x": 1}, "2": "b", "1": "a", "k": 0}') as unknown],
    ["an object without a prototype (back as a plain object)", Object.assign(Object.create(null) as object, { a: 1 })],
  ])("keeps %s as V8's structured clone would, in the compact form", (_name, v) => {
    expect(tagOf(v) === 5 || typeof v !== "object" || v === null).toBe(true);
    const back = roundTrip(v);
    expect(back).toStrictEqual(structuredClone(v));
    if (v !== null && typeof v === "object" && !Array.isArray(v)) expect(Object.keys(back as object)).toEqual(Object.keys(v));
  });

  it("keeps -0 as -0 and a lone surrogate as it was", () => {
    expect(Object.is(roundTrip([-0])?.[0 as never], -0)).toBe(true);
    expect(roundTrip({ s: "a\ud800b" })).toEqual({ s: "a\ud800b" });
    expect(tagOf({ s: "a\ud800b" })).toBe(0); // UTF-8 cannot carry it: V8's serialiser does
  });

  it("hands values the compact form cannot hold to V8's serialiser, and they still round-trip", () => {
    const date = new Date(1_700_000_000_000);
    const cases: unknown[] = [{ at: date }, { big: 10n }, { bytes: new Uint8Array([1, 2]) }, holey(), new Point(1, 2)];
    for (const v of cases) {
      expect(tagOf(v)).toBe(0);
      expect(roundTrip(v)).toEqual(structuredClone(v));
    }
    const holes = roundTrip(holey()) as unknown[];
    expect(1 in holes).toBe(false);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const back = roundTrip(cyclic) as Record<string, unknown>;
    expect(tagOf(cyclic)).toBe(0);
    expect(back.self).toBe(back);
  });

  it("reads values written before the compact form existed (V8 under tag 0)", () => {
    const v = { n: 1, d: new Set(["a"]) };
    const old = Buffer.concat([Buffer.of(0), serialize(v)]);
    expect(decodeValue(old)).toEqual(v);
  });

  it("writes each value into its own bytes (the shared output buffer is copied out)", () => {
    const a = encodeValue({ k: "first" });
    const b = encodeValue({ k: "second, longer" });
    expect(decodeValue(a)).toEqual({ k: "first" });
    expect(decodeValue(b)).toEqual({ k: "second, longer" });
  });
});
