// A process step's expressions see the step's current watermark: an order can be acted on at once
// when the watermark has already passed the time a timer would wait for.
import { describe, expect, it } from "vitest";
import { compileDoc, eventsGenerator, eventsSourceSpec, runPipeline, streamJob } from "./helpers.ts";

describe("process step: `watermark`", () => {
  it("is the step's current event-time watermark, an int that advances and never passes an on-time record", async () => {
    const c = await compileDoc(
      streamJob("process-watermark", {
        sources: [eventsSourceSpec],
        steps: [
          { id: "by-user", input: "events", keyBy: { key: "record.user" } },
          { id: "seen", input: "by-user", process: { onRecord: [{ emit: { ts: "record.ts", wm: "watermark", passed: "watermark >= record.ts" } }] } },
        ],
        sinks: [{ id: "out", input: "seen", kafka: { topic: "out" } }],
      }),
    );
    const out = (await runPipeline(c, 16)).out as { ts: number; wm: number; passed: boolean }[];
    expect(out).toHaveLength(eventsGenerator.count as number);
    for (const r of out) expect(Number.isInteger(r.wm)).toBe(true);
    // Before the first watermark it lies below any event time; later ones trail the records by the bound.
    const first = Math.min(...out.map((r) => r.wm));
    expect(first).toBeLessThan(0);
    const seen = out.filter((r) => r.wm > first);
    expect(seen.length).toBeGreaterThan(out.length / 2);
    expect(Math.max(...seen.map((r) => r.wm)) - Math.min(...seen.map((r) => r.wm))).toBeGreaterThan(10_000);
    expect(out.filter((r) => r.passed)).toEqual([]);
  });
});
