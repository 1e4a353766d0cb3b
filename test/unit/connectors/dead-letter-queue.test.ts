// The dead-letter queue loses nothing queued while a send is in flight: partitions are read
// concurrently, so dead letters arrive during a drain's send (a fake of our own producer
// interface that, like a real one, takes the batch as it is when the send starts).
import { describe, expect, it } from "vitest";
import { deadLetterQueueOn } from "../../../runtime/connectors/kafka/dead-letter.ts";
import type { KafkaProducer, OutgoingMessage } from "../../../runtime/kafka/index.ts";

function fakeProducer(): { producer: KafkaProducer; sent: string[]; release: () => void; failNext: () => void } {
  const sent: string[] = [];
  let gate: (() => void) | undefined;
  let fail = false;
  const producer: KafkaProducer = {
    connect: async () => undefined,
    async send(_topic: string, messages: OutgoingMessage[]) {
      const batch = messages.map((m) => String(m.value)); // encoded when the request is built
      await new Promise<void>((r) => (gate = r));
      if (fail) {
        fail = false;
        throw new Error("broker unavailable");
      }
      sent.push(...batch);
    },
    sendToPartition: async () => 0,
    commitOffsets: async () => undefined,
    disconnect: async () => undefined,
  };
  return { producer, sent, release: () => gate?.(), failNext: () => (fail = true) };
}

const message = (offset: number) => ({ topic: "in", partition: 0, offset, key: null, value: Buffer.from(`m${offset}`), headers: {}, timestamp: 0 });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("the dead-letter queue", () => {
  it("sends what was queued during an in-flight send with the next drain", async () => {
    const p = fakeProducer();
    const q = deadLetterQueueOn(p.producer, "dlq");
    q.add(message(1), new Error("bad"), "source:in");
    const first = q.drain();
    await tick();
    q.add(message(2), new Error("bad"), "source:in");
    q.add(message(3), new Error("bad"), "source:in");
    p.release();
    await first;
    const second = q.drain();
    await tick();
    p.release();
    await second;
    expect(p.sent).toEqual(["m1", "m2", "m3"]);
    expect(q.count).toBe(3);
  });

  it("keeps a batch whose send failed, ahead of later dead letters", async () => {
    const p = fakeProducer();
    const q = deadLetterQueueOn(p.producer, "dlq");
    q.add(message(1), new Error("bad"), "source:in");
    p.failNext();
    const first = q.drain();
    await tick();
    q.add(message(2), new Error("bad"), "source:in");
    p.release();
    await expect(first).rejects.toThrow("broker unavailable");
    const second = q.drain();
    await tick();
    p.release();
    await second;
    expect(p.sent).toEqual(["m1", "m2"]);
  });
});
