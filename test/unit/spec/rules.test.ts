// Rule constructors write CEL and a TypeScript check from the same arguments; the checks must mean
// what the CEL means (the integration tier confirms the CEL side against the real apiserver).
import { describe, expect, it } from "vitest";
import {
  allowedOnlyWhen,
  atMostOne,
  durationAtLeast,
  durationAtMost,
  exactlyOne,
  numberAtMost,
  requiredWhen,
  requires,
} from "../../../runtime/spec/schema/rules.ts";
import { formatDuration, parseDuration } from "../../../runtime/spec/duration.ts";

describe("rules", () => {
  it("exactlyOne", () => {
    const r = exactlyOne(["pipeline", "module"]);
    expect(r.rule).toBe("[has(self.pipeline), has(self.module)].exists_one(x, x)");
    expect(r.check?.({ pipeline: {} })).toBe(true);
    expect(r.check?.({})).toBe(false);
    expect(r.check?.({ pipeline: {}, module: {} })).toBe(false);
    expect(r.hint?.({})).toContain("none is set");
  });

  it("atMostOne", () => {
    const r = atMostOne(["a", "b", "c"]);
    expect(r.check?.({})).toBe(true);
    expect(r.check?.({ a: 1, c: 2 })).toBe(false);
  });

  it("requiredWhen and allowedOnlyWhen, with dotted paths in CEL", () => {
    const req = requiredWhen("type", ["sliding"], "slide");
    expect(req.rule).toBe("!(has(self.type) && self.type == 'sliding') || has(self.slide)");
    expect(req.fieldPath).toBe(".slide");
    expect(req.check?.({ type: "sliding" })).toBe(false);
    expect(req.check?.({ type: "tumbling" })).toBe(true);
    const only = allowedOnlyWhen("type", ["tumbling", "sliding"], "size");
    expect(only.rule).toBe("!(has(self.size)) || (has(self.type) && self.type in ['tumbling', 'sliding'])");
    expect(only.check?.({ type: "session", size: "1m" })).toBe(false);
    const dotted = requires("savepointTriggerNonce", "savepoint.storage", "x");
    expect(dotted.rule).toBe("!(has(self.savepointTriggerNonce)) || (has(self.savepoint) && has(self.savepoint.storage))");
    expect(dotted.check?.({ savepointTriggerNonce: 1, savepoint: {} })).toBe(false);
    expect(dotted.check?.({ savepointTriggerNonce: 1, savepoint: { storage: {} } })).toBe(true);
  });

  it("compares durations and numbers only when both are set", () => {
    const d = durationAtMost("slide", "size", "m");
    expect(d.check?.({ slide: "5m", size: "1h" })).toBe(true);
    expect(d.check?.({ slide: "1h", size: "1h" })).toBe(true);
    expect(d.check?.({ slide: "61m", size: "1h" })).toBe(false);
    expect(d.check?.({ slide: "61m" })).toBe(true);
    expect(durationAtLeast("interval", "100ms", "m").check?.({ interval: "99ms" })).toBe(false);
    expect(numberAtMost("min", "max", "m").check?.({ min: 3, max: 2 })).toBe(false);
  });
});

describe("durations", () => {
  it("parses what CEL's duration() parses, and nothing else", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("0s")).toBe(0);
    for (const bad of ["5", "1d", "5 m", "-1s", "1.5s", ""]) expect(() => parseDuration(bad)).toThrow(/not a duration/);
  });

  it("formats milliseconds back", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(1500)).toBe("1s500ms");
    expect(formatDuration(0)).toBe("0s");
  });
});
