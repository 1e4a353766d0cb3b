/** kafkajs's sends group their messages by partition in linear time, with the same result as kafkajs's own grouping. */
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import "../../../runtime/kafka/index.ts";
import { groupMessagesPerPartition, linearGroupingInstalled } from "../../../runtime/kafka/send-patch.ts";

const require = createRequire(import.meta.url);

/** kafkajs's own grouping, as its source has it (the module cache now holds ours). */
function kafkajsGrouping({ topic, partitionMetadata, messages, partitioner }: Parameters<typeof groupMessagesPerPartition>[0]): Record<number, unknown[]> {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce<Record<number, unknown[]>>((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition] ?? [];
    return Object.assign(result, { [partition]: [...current, message] });
  }, {});
}

describe("kafkajs send grouping", () => {
  it("is installed in kafkajs's module cache before its sendMessages captured it", () => {
    expect(linearGroupingInstalled).toBe(true);
    // What kafkajs's sendMessages requires now: the linear grouping.
    const installed = require("kafkajs/src/producer/groupMessagesPerPartition.js") as typeof groupMessagesPerPartition & { runnelLinear?: boolean };
    expect(installed.runnelLinear).toBe(true);
    const args = { topic: "t", partitionMetadata: [{}], messages: [1, 2, 3], partitioner: () => 0 };
    expect(installed(args)).toEqual({ 0: [1, 2, 3] });
  });

  it("groups like kafkajs: the same partitions, each with its messages in send order", () => {
    const partitionMetadata = Array.from({ length: 7 }, (_, i) => ({ partitionId: i }));
    const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${(i * 7919) % 97}`, value: String(i), partition: (i * 31) % 7 }));
    const partitioner = ({ message }: { message: unknown }): number => (message as { partition: number }).partition;
    const args = { topic: "t", partitionMetadata, messages, partitioner };
    const ours = groupMessagesPerPartition(args);
    expect(ours).toEqual(kafkajsGrouping(args));
    expect(Object.keys(ours)).toEqual(Object.keys(kafkajsGrouping(args)));
    expect(groupMessagesPerPartition({ ...args, partitionMetadata: [] })).toEqual({});
  });
});
