import { describe, expect, it } from "vitest";
import { digestSink } from "../../../bench/digest.ts";

/** The digest of records written in order through a digest sink. */
async function digestOf(records: unknown[]): Promise<string> {
  const sink = digestSink<unknown>();
  const w = await sink.open({ operatorUid: "out", taskIndex: 0, parallelism: 1 });
  for (const r of records) w.write(r, 0);
  return sink.digest();
}

describe("the benchmarks' result digest", () => {
  it("is the same for the same records in another order, under other field names, with times as Dates, ISO strings or numbers", async () => {
    const t = Date.UTC(2026, 0, 1, 0, 1);
    const a = await digestOf([
      { auction: 1, end: t, n: 3 },
      { auction: 2, end: t, n: 5 },
    ]);
    expect(
      await digestOf([
        { auction: 2, window_end: new Date(t), n: 5n },
        { auction: 1, window_end: "2026-01-01 00:01:00", n: 3 },
      ]),
    ).toBe(a);
  });

  it("differs when a value, a record's count or a record differs", async () => {
    const base = await digestOf([{ a: 1 }, { a: 2 }]);
    expect(await digestOf([{ a: 1 }, { a: 3 }])).not.toBe(base);
    expect(await digestOf([{ a: 1 }, { a: 2 }, { a: 2 }])).not.toBe(base);
    expect(await digestOf([{ a: 1 }])).not.toBe(base);
  });
});
