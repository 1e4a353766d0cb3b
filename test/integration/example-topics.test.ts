// examples/common/topics.ts on the real broker: creates every topic of a case system's manifest
// (rules compacted), and a second run leaves them as they are.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createKafkaClient } from "../../runtime/kafka/index.ts";
import { CASES, kafkaCopy, runScript } from "../helpers/cases.ts";
import { testJobName } from "../helpers/distributed.ts";

const TOPICS = join(import.meta.dirname, "..", "..", "examples", "common", "topics.ts");

describe("the examples' topic tool (real broker)", () => {
  it("creates a manifest's topics once, the rules topic compacted with one partition", async () => {
    const copy = kafkaCopy(CASES["risk-control"], testJobName("topics"));
    const admin = createKafkaClient({ brokers: copy.brokers, clientId: "example-topics-test" }).admin();
    await admin.connect();
    try {
      const args = ["--job", copy.manifestPath, "--partitions", "3"];
      const first = await runScript(TOPICS, args);
      expect(first.stdout).toContain("7 topics present");
      await runScript(TOPICS, args);
      const p = copy.topicPrefix;
      const counts = await admin.partitionCounts([`${p}orders`, `${p}risk-rules`, `${p}risk-decisions`]);
      expect(Object.fromEntries(counts)).toEqual({ [`${p}orders`]: 4, [`${p}risk-rules`]: 1, [`${p}risk-decisions`]: 3 });
      expect((await admin.topicConfigs(`${p}risk-rules`))["cleanup.policy"]).toBe("compact");
      const ours = (await admin.listTopics()).filter((t) => t.startsWith(p));
      expect(ours).toHaveLength(7);
      await admin.deleteTopics(ours);
    } finally {
      await admin.disconnect();
      await copy.close();
    }
  });
});
