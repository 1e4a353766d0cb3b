/**
 * Partial matches are keyed state: a checkpoint taken mid-attack and restored in a new engine
 * completes the attack with events the new engine never saw, with heap and LevelDB state.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEngine, type StateOption } from "../../../runtime/exec/engine.ts";
import { attack, takeoverJob, type Login } from "./takeover.ts";

const T0 = 1_000_000;
let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-cep-ckpt-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** u1: 6 failures and 2 IP changes, then (after the checkpoint) 2 more IP changes; u9 noise. */
function input(): Login[] {
  const events = attack("u1", T0, 6, 4, T0 + 60_000);
  const noise: Login[] = Array.from({ length: 12 }, (_, i) => ({ user: "u9", type: "ok" as const, t: T0 + 500 + i * 5000, id: `o${i + 1}` }));
  return [...events, ...noise].sort((a, b) => a.t - b.t);
}

describe("CEP checkpoint and restore", () => {
  for (const kind of ["heap", "level"] as const) {
    it(`keeps partial matches across a restore (${kind} state)`, async () => {
      const state: StateOption = kind === "heap" ? { kind: "heap" } : { kind: "level", dir: join(dir, "state") };
      const ckpt = join(dir, "ckpt");
      const events = input();
      const cut = events.findIndex((e) => e.id === "i3");
      const first = takeoverJob([events]);
      // batchSize 1: one event per round, so the checkpoint lands right before i3.
      const e1 = createEngine({ graph: first.job.build(), idleSleepMs: 0, batchSize: 1, state, checkpoint: { dir: ckpt } });
      await e1.open();
      for (let i = 0; i < cut; i++) await e1.round();
      expect(await e1.checkpoint()).toBe(0);
      expect(first.alerts.values()).toEqual([]);
      // The first engine is abandoned (a crash): nothing flushed; only LevelDB's lock is released, as a dying process would.
      for (const b of e1.backends) await b.store.close();
      // A fresh engine restores and reads from i3 on.
      const second = takeoverJob([events]);
      const e2 = createEngine({ graph: second.job.build(), idleSleepMs: 0, batchSize: 1, state, checkpoint: { dir: ckpt }, restoreFrom: "latest" });
      await e2.run();
      expect(second.alerts.values()).toEqual(["u1: f1 f2 f3 f4 f5 f6 | i1 i2 i3 i4"]);
    });
  }

  it("without the restored state the same tail matches nothing (the test can fail)", async () => {
    const events = input();
    const tail = events.slice(events.findIndex((e) => e.id === "i3"));
    const fresh = takeoverJob([tail]);
    await createEngine({ graph: fresh.job.build(), idleSleepMs: 0 }).run();
    expect(fresh.alerts.values()).toEqual([]);
  });
});
