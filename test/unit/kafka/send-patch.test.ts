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

describe("kafkajs record encoding", () => {
  /** kafkajs's own writeUVarInt, as its source has it. */
  function kafkajsUVarInt(value: number): Buffer {
    const byteArray: number[] = [];
    let v = value;
    while ((v & 0xffffff80) !== 0) {
      byteArray.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    byteArray.push(v & 0x7f);
    return Buffer.from(byteArray);
  }

  it("writes the same varint bytes as kafkajs, in place, and encoders only show what they wrote", () => {
    const Encoder = require("kafkajs/src/protocol/encoder.js") as new (size?: number) => {
      writeVarInt(v: number): unknown;
      writeUVarInt(v: number): unknown;
      writeInt32(v: number): unknown;
      buffer: Buffer;
    } & { runnelPooled?: boolean };
    expect((Encoder as unknown as { runnelPooled?: boolean }).runnelPooled).toBe(true);
    const values = [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 21, 2 ** 28 - 1, 2 ** 31 - 1, 2 ** 32 - 1, -1, -64, -(2 ** 31)];
    for (const v of values) {
      const e = new Encoder(1); // grows from the smallest buffer
      e.writeUVarInt(v);
      expect(e.buffer).toEqual(kafkajsUVarInt(v));
    }
    const e = new Encoder();
    for (let i = 0; i < 1000; i++) e.writeVarInt(i - 500);
    e.writeInt32(7);
    const expected = Buffer.concat([
      ...Array.from({ length: 1000 }, (_, i) => kafkajsUVarInt(((i - 500) << 1) ^ ((i - 500) >> 31))),
      Buffer.from([0, 0, 0, 7]),
    ]);
    expect(e.buffer).toEqual(expected);
  });
});
