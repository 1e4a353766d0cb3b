// The Kafka client's log filter: broker answers kafkajs retries by itself are not printed as
// errors; everything else still is.
import { describe, expect, it } from "vitest";
import { isRetriedAnswer } from "../../../runtime/kafka/connection.ts";

describe("Kafka client log filter", () => {
  it("drops retried coordinator and transaction answers", () => {
    expect(
      isRetriedAnswer({
        namespace: "Connection",
        log: { message: "Response GroupCoordinator(key: 10, version: 2)", error: "The group coordinator is not available" },
      }),
    ).toBe(true);
    expect(
      isRetriedAnswer({
        namespace: "Connection",
        log: {
          message: "Response AddPartitionsToTxn(key: 24, version: 1)",
          error: "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing",
        },
      }),
    ).toBe(true);
    expect(
      isRetriedAnswer({
        namespace: "Producer",
        log: {
          message:
            "Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing",
        },
      }),
    ).toBe(true);
  });

  it("keeps real failures and anything not a broker answer", () => {
    expect(isRetriedAnswer({ namespace: "Connection", log: { message: "Response Produce(key: 0, version: 7)", error: "The producer has been fenced" } })).toBe(
      false,
    );
    expect(isRetriedAnswer({ namespace: "Producer", log: { message: "Failed to send messages: The producer has been fenced" } })).toBe(false);
    expect(isRetriedAnswer({ namespace: "Consumer", log: { message: "Crash", error: "The coordinator is loading" } })).toBe(false);
  });

  it("counts a broker it cannot connect to yet as retried (kafkajs tries again; the final failure is Runnel's one line)", () => {
    expect(isRetriedAnswer({ namespace: "Connection", log: { message: "Connection error: connect ECONNREFUSED 127.0.0.1:1" } })).toBe(true);
    expect(
      isRetriedAnswer({
        namespace: "BrokerPool",
        log: { message: "Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:1" },
      }),
    ).toBe(true);
    expect(isRetriedAnswer({ namespace: "Consumer", log: { message: "Connection error: connect ECONNREFUSED 127.0.0.1:1" } })).toBe(false);
  });
});
