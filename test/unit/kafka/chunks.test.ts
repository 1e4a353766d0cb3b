/** Produce requests stay under the broker's message size: a round of large records goes out in several requests. */
import { describe, expect, it } from "vitest";
import { chunkMessages } from "../../../runtime/kafka/producer.ts";

describe("chunkMessages", () => {
  it("splits by bytes as well as by count, keeping order, and sends an oversized message alone", () => {
    const kb = (n: number, i: number) => ({ key: `k${i}`, value: "x".repeat(n * 1024) });
    const messages = [kb(300, 0), kb(300, 1), kb(300, 2), kb(900, 3), kb(1, 4), kb(1, 5)];
    const chunks = chunkMessages(messages, 5000, 512 * 1024);
    expect(chunks.map((c) => c.map((m) => m.key))).toEqual([["k0"], ["k1"], ["k2"], ["k3"], ["k4", "k5"]]);
    expect(
      chunkMessages(
        Array.from({ length: 7 }, (_, i) => kb(0, i)),
        3,
      ).map((c) => c.length),
    ).toEqual([3, 3, 1]);
    expect(chunkMessages([])).toEqual([]);
  });
});
