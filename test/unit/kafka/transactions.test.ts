// Transaction timeouts and how Kafka failures are classed: the timeout is derived from the
// checkpoint settings (at least a minute, twice what a checkpoint cycle needs), `runnel validate`
// warns when a job needs longer transactions than Kafka brokers allow by default, a transaction
// the broker aborted for outliving its timeout is retriable while a newer producer with the same
// id fences for good, and the retry policy follows the errors' own `retriable` flag.
import { describe, expect, it } from "vitest";
import { FencedError } from "../../../runtime/errors.ts";
import { transactionError } from "../../../runtime/kafka/producer.ts";
import { isRetriable, retrying } from "../../../runtime/kafka/retry.ts";
import { checkDocument } from "../../../runtime/spec/check.ts";
import { transactionTimeouts } from "../../../runtime/spec/transaction-timeout.ts";

/** The shape kafkajs gives a broker's error answer. */
function brokerAnswer(type: string, retriable: boolean): Error {
  return Object.assign(new Error(`broker said ${type}`), { name: "KafkaJSProtocolError", type, retriable });
}

function job(checkpoint: Record<string, string>): unknown {
  return {
    apiVersion: "runnel.dev/v1alpha1",
    kind: "StreamJob",
    metadata: { name: "t" },
    spec: {
      kafka: { bootstrapServers: ["kafka:9092"] },
      checkpoint,
      pipeline: {
        sources: [{ id: "in", kafka: { topic: "in", partitions: 1 } }],
        sinks: [{ id: "out", input: "in", kafka: { topic: "out" } }],
      },
    },
  };
}

describe("transaction timeout", () => {
  it("is twice an interval plus a checkpoint timeout, and at least a minute", () => {
    expect(transactionTimeouts(5_000, 60_000)).toEqual({ requiredMs: 65_000, timeoutMs: 130_000 });
    expect(transactionTimeouts(100, 1_000)).toEqual({ requiredMs: 1_100, timeoutMs: 60_000 });
    expect(transactionTimeouts(10 * 60_000, 60_000).timeoutMs).toBe(22 * 60_000);
  });

  it("is checked by runnel validate against Kafka's default transaction.max.timeout.ms", async () => {
    const long = (await checkDocument(job({ interval: "20m" }))).findings.filter((f) => f.path === ".spec.checkpoint.interval");
    expect(long).toHaveLength(1);
    expect(long[0]?.severity).toBe("warning");
    expect(long[0]?.message).toContain("transaction.max.timeout.ms = 15m");
    expect(long[0]?.hint).toContain("interval + timeout within 15m");
    expect((await checkDocument(job({ interval: "5s" }))).findings.filter((f) => f.path === ".spec.checkpoint.interval")).toEqual([]);
    expect((await checkDocument(job({ interval: "14m", timeout: "2m" }))).findings.some((f) => f.path === ".spec.checkpoint.interval")).toBe(true);
    // At least once runs no transactions.
    expect((await checkDocument(job({ interval: "20m", mode: "at-least-once" }))).findings.some((f) => f.path === ".spec.checkpoint.interval")).toBe(false);
  });
});

describe("transactional producer errors", () => {
  const epoch = brokerAnswer("INVALID_PRODUCER_EPOCH", false);

  it("class a stale epoch in a transaction open past its timeout as a retriable timeout abort", () => {
    const err = transactionError("commit", epoch, "runnel.ns.job.3", 60_000, 1_000, 1_000 + 61_000);
    expect(err).not.toBeInstanceOf(FencedError);
    expect(err.retriable).toBe(true);
    expect(err.errorClass).toBe("transient");
    expect(err.message).toContain("past its 60 s timeout");
  });

  it("class a stale epoch in a young transaction as fenced (a newer producer took the task)", () => {
    const err = transactionError("commit", epoch, "runnel.ns.job.3", 60_000, 1_000, 1_000 + 2_000);
    expect(err).toBeInstanceOf(FencedError);
    expect(err.retriable).toBe(false);
    expect(err.errorClass).toBe("fenced");
    expect(transactionError("send", brokerAnswer("PRODUCER_FENCED", false), "x", 60_000, undefined)).toBeInstanceOf(FencedError);
  });

  it("class a timeout above the broker's limit as a configuration error naming the settings", () => {
    const err = transactionError("connect", brokerAnswer("INVALID_TRANSACTION_TIMEOUT", false), "x", 3_600_000, undefined);
    expect(err.errorClass).toBe("configuration");
    expect(err.message).toContain("transaction.max.timeout.ms");
    expect(err.message).toContain("spec.checkpoint.interval");
  });
});

describe("retry policy", () => {
  const fast = { deadlineMs: 2_000, initialDelayMs: 1, maxDelayMs: 5 };

  it("retries what Kafka calls retriable until it passes", async () => {
    let calls = 0;
    const value = await retrying(
      "read topic",
      async () => {
        if (++calls < 4) throw brokerAnswer("UNKNOWN_TOPIC_OR_PARTITION", true);
        return "ok";
      },
      fast,
    );
    expect(value).toBe("ok");
    expect(calls).toBe(4);
  });

  it("fails at once on a final answer, saying what was asked and the Kafka error", async () => {
    let calls = 0;
    const failing = retrying(
      "cannot create topic 'x'",
      async () => {
        calls++;
        throw brokerAnswer("TOPIC_AUTHORIZATION_FAILED", false);
      },
      fast,
    );
    await expect(failing).rejects.toMatchObject({ retriable: false, message: expect.stringContaining("cannot create topic 'x'") as unknown });
    await expect(failing).rejects.toThrow(/TOPIC_AUTHORIZATION_FAILED/);
    expect(calls).toBe(1);
  });

  it("gives up at the deadline with a retriable error", async () => {
    const failing = retrying(
      "read topic",
      async () => {
        throw brokerAnswer("LEADER_NOT_AVAILABLE", true);
      },
      { deadlineMs: 30, initialDelayMs: 5, maxDelayMs: 10 },
    );
    await expect(failing).rejects.toMatchObject({ retriable: true, name: "ConnectorError" });
  });

  it("reads the flag through kafkajs's own retries-exceeded wrapper", () => {
    const wrapped = (cause: Error): Error => Object.assign(new Error("retries exceeded"), { name: "KafkaJSNumberOfRetriesExceeded", retriable: false, cause });
    expect(isRetriable(wrapped(brokerAnswer("UNKNOWN_TOPIC_OR_PARTITION", true)))).toBe(true);
    expect(isRetriable(wrapped(brokerAnswer("INVALID_REPLICATION_FACTOR", false)))).toBe(false);
    expect(isRetriable(new TypeError("x"))).toBe(false);
  });
});
