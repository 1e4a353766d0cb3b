// The first of the two changes the Kafka adapter makes to kafkajs (the other: coordinator-cache):
// every fetch that returned a record reaches eachBatch — fetches of only transaction markers (which the read-committed filter needs) and
// fetches whose records all lie below the fetch offset (compacted away) — while an empty fetch
// still does not. Checked on kafkajs's own Batch class, before and after the patch.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { deliverFilteredFetches, kafkajsBatchPrototype } from "../../../runtime/kafka/batch-patch.ts";

interface BatchLike {
  isEmpty(): boolean;
  isEmptyDueToFiltering(): boolean;
  lastOffset(): string;
  messages: unknown[];
}
type BatchClass = new (topic: string, fetchedOffset: string, partitionData: unknown) => BatchLike;
const Batch = createRequire(import.meta.url)("kafkajs/src/consumer/batch.js") as BatchClass;

function record(offset: number, producerId = "7"): unknown {
  return { offset: String(offset), key: null, value: Buffer.from("v"), timestamp: "0", batchContext: { producerId, inTransaction: true } };
}

function marker(offset: number, commit: boolean, producerId = "7"): unknown {
  const key = Buffer.alloc(4);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return { offset: String(offset), key, value: null, timestamp: "0", isControlRecord: true, batchContext: { producerId, inTransaction: true } };
}

const fetch = (fetchedOffset: number, messages: unknown[], abortedTransactions: unknown[] = []): BatchLike =>
  new Batch("t", String(fetchedOffset), { partition: 0, highWatermark: "100", messages, abortedTransactions });

describe("kafkajs Batch patch", () => {
  // Unpatched, kafkajs skips a fetch of only a marker.
  const unpatched = kafkajsBatchPrototype().runnelDeliversFiltered === true ? undefined : fetch(5, [marker(5, true)]).isEmpty();
  deliverFilteredFetches();

  it("is applied once per process, changing what kafkajs skips", () => {
    expect(deliverFilteredFetches()).toBe(true);
    expect(kafkajsBatchPrototype().runnelDeliversFiltered).toBe(true);
    if (unpatched !== undefined) expect(unpatched).toBe(true);
  });

  it("hands over a fetch of only a commit marker, which kafkajs would skip", () => {
    const b = fetch(5, [marker(5, true)]);
    expect(b.messages).toEqual([]); // kafkajs's own view: nothing for the application
    expect(b.isEmpty()).toBe(false);
    expect(b.isEmptyDueToFiltering()).toBe(false);
  });

  it("hands over a fetch of only aborted records and their abort marker", () => {
    const b = fetch(10, [record(10), record(11), marker(12, false)], [{ producerId: "7", firstOffset: "10" }]);
    expect(b.messages).toEqual([]);
    expect(b.isEmpty()).toBe(false);
  });

  it("hands over a fetch whose records all lie below the fetch offset, and kafkajs then moves past it", () => {
    // A record batch whose tail was compacted away: the broker returns it whole, all below 6.
    const b = fetch(6, [record(3), record(4)]);
    expect(b.isEmpty()).toBe(false);
    expect(b.lastOffset()).toBe("6"); // kafkajs resolves this, so its next fetch starts at 7
  });

  it("still skips a fetch that returned nothing", () => {
    expect(fetch(6, []).isEmpty()).toBe(true);
  });
});
