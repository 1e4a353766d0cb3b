// The read-committed filter: records of aborted transactions never come out, committed ones come
// out in offset order once their marker arrived, and several producers' transactions that
// interleave — the case kafkajs's own filter gets wrong — are told apart by producer.
import { describe, expect, it } from "vitest";
import { CommittedFilter, type RawMessage } from "../../../runtime/kafka/read-committed.ts";

function rec(offset: number, producer: string, inTransaction = true): RawMessage {
  return { offset: String(offset), key: null, value: Buffer.from(`v${offset}`), timestamp: "0", batchContext: { producerId: producer, inTransaction } };
}

function marker(offset: number, producer: string, commit: boolean): RawMessage {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? 1 : 0, 2);
  return { offset: String(offset), key, value: null, timestamp: "0", isControlRecord: true, batchContext: { producerId: producer, inTransaction: true } };
}

const offsets = (ms: RawMessage[]): number[] => ms.map((m) => Number(m.offset));

describe("read-committed filter", () => {
  it("drops an aborted transaction and releases a committed one at its marker", () => {
    const f = new CommittedFilter();
    expect(offsets(f.accept([rec(0, "a"), rec(1, "a")]))).toEqual([]);
    expect(f.through).toBe(0);
    expect(offsets(f.accept([marker(2, "a", false), rec(3, "a"), marker(4, "a", true)]))).toEqual([3]);
    expect(f.through).toBe(5);
  });

  it("keeps offset order across interleaved producers, releasing only up to the first undecided record", () => {
    const f = new CommittedFilter();
    // a: 0, 2 (committed at 5); b: 1, 3 (aborted at 4); c: 6 (open)
    const out = f.accept([rec(0, "a"), rec(1, "b"), rec(2, "a"), rec(3, "b"), marker(4, "b", false), marker(5, "a", true), rec(6, "c"), rec(7, "x", false)]);
    expect(offsets(out)).toEqual([0, 2]);
    expect(f.through).toBe(6);
    expect(offsets(f.accept([marker(8, "c", true)]))).toEqual([6, 7]);
  });

  it("tells apart several aborted transactions that all began before the fetch (what kafkajs leaks)", () => {
    const f = new CommittedFilter();
    f.startAt(10);
    // Transactions of b and c began before offset 10 and are aborted later; a commits.
    const out = f.accept([rec(10, "c"), rec(11, "b"), rec(12, "a"), marker(13, "c", false), marker(14, "b", false), marker(15, "a", true)]);
    expect(offsets(out)).toEqual([12]);
  });

  it("ignores what lies before its start and anything fetched twice", () => {
    const f = new CommittedFilter();
    f.startAt(5);
    expect(offsets(f.accept([rec(3, "n", false), rec(5, "n", false), rec(6, "n", false)]))).toEqual([5, 6]);
    expect(offsets(f.accept([rec(5, "n", false), rec(6, "n", false), rec(7, "n", false)]))).toEqual([7]);
  });
});
