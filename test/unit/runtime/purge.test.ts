// Repartition purging decides what to delete from the positions a committed checkpoint holds:
// each task's partition below its repartition source's next offset, forward only, at most once
// per interval per task, and never for sources that are not repartition inputs. (The deletion
// itself is checked against the real broker in test/integration/distributed-kafka.test.ts.)
import { describe, expect, it } from "vitest";
import { repartitionPurger } from "../../../runtime/distributed/purge.ts";
import type { KafkaAdmin, KafkaClient } from "../../../runtime/kafka/index.ts";

/** A KafkaClient whose admin only records deleteRecords calls (an in-memory fake of our own interface). */
function recordingClient(): { client: KafkaClient; deletes: string[] } {
  const deletes: string[] = [];
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    deleteRecords: async (topic: string, below: { partition: number; offset: number }[]) => {
      for (const b of below) deletes.push(`${topic}/${b.partition}<${b.offset}`);
    },
  } as unknown as KafkaAdmin;
  const client = { admin: () => admin } as unknown as KafkaClient;
  return { client, deletes };
}

const pos = (next: number): { next: number; watermarks: number[]; idle: boolean[] } => ({ next, watermarks: [], idle: [] });

describe("repartition purging", () => {
  it("deletes each task's partition below its committed position, forward only", async () => {
    const { client, deletes } = recordingClient();
    const purger = repartitionPurger({ kafka: client, topics: new Map([["by-user.in0.repartition-in", "t.rep"]]), intervalMs: 0 });
    purger.committed(0, { "by-user.in0.repartition-in": pos(10), clicks: 99 });
    purger.committed(1, { "by-user.in0.repartition-in": pos(4) });
    purger.committed(0, { "by-user.in0.repartition-in": pos(10) }); // nothing new
    purger.committed(0, { "by-user.in0.repartition-in": pos(25) });
    await purger.close();
    expect(deletes).toEqual(["t.rep/0<10", "t.rep/1<4", "t.rep/0<25"]);
    expect(purger.purges).toBe(3);
  });

  it("purges a task at most once per interval, and not at all without repartition inputs", async () => {
    const { client, deletes } = recordingClient();
    const purger = repartitionPurger({ kafka: client, topics: new Map([["r", "t.rep"]]), intervalMs: 60_000 });
    purger.committed(2, { r: pos(5) });
    purger.committed(2, { r: pos(50) }); // within the interval: left for a later checkpoint
    purger.committed(3, { r: pos(7) }); // another task has its own interval
    await purger.close();
    expect(deletes).toEqual(["t.rep/2<5", "t.rep/3<7"]);
    const none = recordingClient();
    const idle = repartitionPurger({ kafka: none.client, topics: new Map(), intervalMs: 0 });
    idle.committed(0, { clicks: 5 });
    await idle.close();
    expect(none.deletes).toEqual([]);
  });
});
