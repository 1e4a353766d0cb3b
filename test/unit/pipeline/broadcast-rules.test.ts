/** A rules step logs each rule change once per process (what an operator watches when changing rules at run time). */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { createLogger } from "../../../runtime/log.ts";
import { loadManifestJob } from "../../../runtime/pipeline/load.ts";

const dir = join(dirname(fileURLToPath(import.meta.url)), "../../fixtures/streamjobs");

describe("broadcastRules", () => {
  it("logs every rule set or deleted once, however many tasks apply it", async () => {
    const lines: string[] = [];
    const log = createLogger("pipeline", {}, { format: "json", write: (l) => lines.push(l) });
    const c = await loadManifestJob(join(dir, "risk.yaml"), { sinkOverride: "collect", maxRecordsPerSource: 200, log });
    await createEngine({ graph: c.graph, idleSleepMs: 0, batchSize: 64 }).run();
    const rules = lines.map((l) => JSON.parse(l) as { msg: string; step?: string }).filter((l) => l.step === "decisions");
    expect(rules.map((l) => l.msg)).toEqual([
      "rule block-risky set; 1 rule in force",
      "rule review-many-fails set; 2 rules in force",
      "rule old-rule set; 3 rules in force",
      "rule old-rule deleted; 2 rules in force",
    ]);
  });
});
