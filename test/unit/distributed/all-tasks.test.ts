// A checkpoint's task parts fail together when a duplicate worker fences this one: the worker
// must stop as fenced (exit 79), whichever task's answer came first.
import { describe, expect, it } from "vitest";
import { ConnectorError, FencedError } from "../../../runtime/errors.ts";
import { allTasks } from "../../../runtime/distributed/kafka-checkpointer.ts";

describe("a checkpoint's tasks", () => {
  it("report a fenced failure over a retriable one that came first", async () => {
    const transient = Promise.reject(new ConnectorError("CONCURRENT_TRANSACTIONS", true));
    const fenced = new Promise<number>((_, reject) => setTimeout(() => reject(new FencedError("producer fenced")), 10));
    await expect(allTasks([transient, Promise.resolve(1), fenced])).rejects.toBeInstanceOf(FencedError);
  });

  it("report the first failure when none is fenced, and every result when all succeed", async () => {
    const first = new ConnectorError("first", true);
    await expect(allTasks([Promise.reject(first), Promise.reject(new ConnectorError("second", true))])).rejects.toBe(first);
    expect(await allTasks([Promise.resolve(1), Promise.resolve(2)])).toEqual([1, 2]);
  });
});
