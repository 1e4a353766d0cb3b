// The topics a case system needs, read from its manifest: every source and sink topic once, with
// the partitions the job expects, tables and broadcast rules compacted.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readManifest } from "../../../examples/common/manifest.ts";
import { jobTopics } from "../../../examples/common/topics.ts";
import { CASES } from "../../helpers/cases.ts";

const byName = (system: keyof typeof CASES, partitions = 4) =>
  new Map(jobTopics(readManifest(join(CASES[system].dir, "job.yaml")), partitions).map((t) => [t.topic, t]));

describe("an example's Kafka topics", () => {
  it.each(Object.values(CASES))("$name: every output topic the job writes is among them, uncompacted", (system) => {
    const topics = byName(system.name, 6);
    for (const out of system.outputs) expect(topics.get(out)).toMatchObject({ partitions: 6, compacted: false });
  });

  it("risk control: the rules topic is one compacted partition, the streams have their declared partitions", () => {
    const topics = byName("risk-control", 6);
    expect(topics.get("risk-rules")).toMatchObject({ partitions: 1, compacted: true });
    for (const t of ["orders", "behaviour", "device-fingerprints"]) expect(topics.get(t)).toMatchObject({ partitions: 4, compacted: false });
  });

  it("recommendation: the item table is compacted; a topic both read and written is listed once", () => {
    expect(byName("recommendation").get("item-features")).toMatchObject({ compacted: true, role: "source items-by-tag" });
    const job = readManifest(join(CASES.recommendation.dir, "job.yaml"));
    const names = jobTopics(job, 4).map((t) => t.topic);
    expect(new Set(names).size).toBe(names.length);
  });

  it("refuses a SQL job with the reason", () => {
    expect(() => jobTopics({ spec: { sql: "SELECT 1" } }, 4)).toThrow(/CREATE TABLE/);
  });
});
