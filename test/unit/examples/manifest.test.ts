// What the examples' verifiers read from a manifest: sinks' topics, key prefixes and expiry.
import { describe, expect, it } from "vitest";
import { durationMs } from "../../../examples/common/cli.ts";
import { sinkTarget } from "../../../examples/common/manifest.ts";

describe("example manifests as verifiers read them", () => {
  it("parses durations as the spec writes them, compound ones too", () => {
    expect([durationMs("500ms"), durationMs("30s"), durationMs("2h"), durationMs("1h30m"), durationMs("1d")]).toEqual([
      500, 30_000, 7_200_000, 5_400_000, 86_400_000,
    ]);
    expect([durationMs("2 h"), durationMs("h"), durationMs("")]).toEqual([undefined, undefined, undefined]);
  });

  it("gives a Redis sink's key prefix and expiry", () => {
    const job = {
      spec: {
        pipeline: {
          sources: [],
          steps: [],
          sinks: [
            { id: "recs", input: "x", redis: { address: "r:6379", keyPrefix: "p:", ttl: "2h" } },
            { id: "plain", input: "x", redis: { address: "r:6379" } },
            { id: "topic", input: "x", kafka: { topic: "t" } },
          ],
        },
      },
    };
    expect(sinkTarget(job, "recs")).toEqual({ id: "recs", redisPrefix: "p:", redisTtlMs: 7_200_000 });
    expect(sinkTarget(job, "plain")).toEqual({ id: "plain", redisPrefix: "" });
    expect(sinkTarget(job, "topic")).toEqual({ id: "topic", topic: "t" });
  });
});
