// Exactly once, rounds run while a checkpoint's transaction commits: a task producer holds their
// output unsent until the commit, so nothing of a later round joins (or is refused by) the
// committing transaction, then sends it in order into the next one. Checked with a recording
// producer of our own behind the adapter's interface.
import { describe, expect, it } from "vitest";
import { TaskProducer } from "../../../runtime/distributed/transactions.ts";
import type { KafkaClient, TransactionalProducer } from "../../../runtime/kafka/index.ts";
import { ConnectorError } from "../../../runtime/errors.ts";

/** What reached the producer, in order; `failSends` makes sends fail. */
function recording(): { calls: string[]; failSends: boolean; kafka: KafkaClient } {
  const state = { calls: [] as string[], failSends: false, kafka: undefined as unknown as KafkaClient };
  const producer: TransactionalProducer = {
    transactionTimeoutMs: 60_000,
    connect: async () => void state.calls.push("connect"),
    send: async (topic, messages) => {
      await new Promise((r) => setTimeout(r, 1));
      if (state.failSends) throw new ConnectorError("broker down", true);
      state.calls.push(`send ${topic} ${messages.map((m) => String(m.value)).join(",")}`);
    },
    sendToPartition: async (topic, partition, messages) => {
      state.calls.push(`changelog ${topic}/${partition} ${messages.length}`);
      return 0;
    },
    sendOffsets: async () => void state.calls.push("offsets"),
    commit: async () => void state.calls.push("commit"),
    abort: async () => void state.calls.push("abort"),
    disconnect: async () => undefined,
  };
  state.kafka = { transactionalProducer: () => producer } as unknown as KafkaClient;
  return state;
}

const msg = (v: string) => [{ key: null, value: v }];

describe("a task producer during a commit", () => {
  it("holds later output unsent while the checkpoint's own changelog and commit go ahead, then sends it in order, one send per topic", async () => {
    const rec = recording();
    const p = new TaskProducer({ kafka: rec.kafka, delivery: "exactly-once", transactionalId: "job.0", groupId: "job" });
    await p.send("out", msg("a"));
    p.hold();
    await p.send("out", msg("b")); // a round during the commit: returns at once
    await p.send("rep", msg("c"));
    await p.send("out", msg("b2")); // the next round: one send per topic on release
    expect(rec.calls).toEqual(["send out a"]);
    await p.sendToPartition("job.changelog", 0, msg("state"));
    await p.commit([{ topic: "in", partition: 0, offset: 5 }]);
    const released = p.release();
    await p.send("out", msg("d")); // while held output is still going out: queued behind it
    await released;
    await p.send("out", msg("e")); // after the release: sent directly
    expect(rec.calls).toEqual(["send out a", "changelog job.changelog/0 1", "offsets", "commit", "send out b,b2", "send rep c", "send out d", "send out e"]);
  });

  it("reports a failed release at the next send, and drops held output on abort", async () => {
    const rec = recording();
    const p = new TaskProducer({ kafka: rec.kafka, delivery: "exactly-once", transactionalId: "job.0", groupId: "job" });
    p.hold();
    await p.send("out", msg("b"));
    rec.failSends = true;
    await expect(p.release()).rejects.toThrow("broker down");
    await expect(p.send("out", msg("c"))).rejects.toThrow("broker down");

    const other = recording();
    const q = new TaskProducer({ kafka: other.kafka, delivery: "exactly-once", transactionalId: "job.1", groupId: "job" });
    q.hold();
    await q.send("out", msg("x"));
    await q.abort();
    await q.release();
    expect(other.calls).toEqual(["abort"]);
  });
});
