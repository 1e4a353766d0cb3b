/** The timer queue: ordering, deduplication, deletion during firing, snapshots. */
import { describe, expect, it } from "vitest";
import type { Key } from "../../../runtime/api/functions.ts";
import { TimerQueue } from "../../../runtime/state/timers.ts";

function fireUpTo(q: TimerQueue, until: number, onTimer: (k: Key, ts: number) => void): void {
  const due: number[] = [];
  q.collectDue(until, due, undefined);
  for (const ts of due) q.fire(ts, onTimer);
}

describe("TimerQueue", () => {
  it("fires in timestamp order, keys of one timestamp in registration order, each (key, ts) once", () => {
    const q = new TimerQueue();
    q.register("b", 20);
    q.register("a", 10);
    q.register("c", 20);
    q.register("b", 20);
    q.register("a", 30);
    expect(q.size).toBe(4);
    const fired: string[] = [];
    fireUpTo(q, 25, (k, ts) => fired.push(`${String(k)}@${ts}`));
    expect(fired).toEqual(["a@10", "b@20", "c@20"]);
    expect(q.size).toBe(1);
    expect(q.peek()).toBe(30);
  });

  it("skips timers deleted by an earlier callback of the same firing and collects their keys for prefetch", () => {
    const q = new TimerQueue();
    for (const k of ["x", "y", "z"]) q.register(k, 5);
    const keys = new Set<Key>();
    const due: number[] = [];
    q.collectDue(5, due, keys);
    expect([...keys]).toEqual(["x", "y", "z"]);
    const fired: Key[] = [];
    for (const ts of due)
      q.fire(ts, (k) => {
        fired.push(k);
        if (k === "x") q.delete("z", 5);
      });
    expect(fired).toEqual(["x", "y"]);
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
  });

  it("round-trips through a snapshot", () => {
    const q = new TimerQueue();
    q.register(1, 100);
    q.register("k", 50);
    q.register(2, 100);
    const r = new TimerQueue();
    r.restore(q.snapshot());
    expect(r.snapshot()).toEqual([
      [50, ["k"]],
      [100, [1, 2]],
    ]);
    expect(r.size).toBe(3);
  });
});
