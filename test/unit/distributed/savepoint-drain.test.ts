// A worker's savepoint coordinator against in-memory fakes of the engine and the distributed plan:
// a drain that never completes fails after the configured timeout naming the workers and tasks
// whose drained markers never arrived (and the job resumes); a stop-with-savepoint seals only once
// every worker's share is written — when one is missing it fails naming that worker, unsealed.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Engine } from "../../../runtime/exec/engine.ts";
import type { DistributedPlan } from "../../../runtime/distributed/plan.ts";
import type { DrainProgress, RepartitionWriter } from "../../../runtime/distributed/repartition.ts";
import { fileSavepointStorage, writeWorkerSavepoint } from "../../../runtime/distributed/savepoint-store.ts";
import { savepointCoordinator, type SealInfo } from "../../../runtime/distributed/savepoints.ts";
import type { SavepointStatus } from "../../../runtime/observe/savepoint-control.ts";
import { createLogger } from "../../../runtime/log.ts";
import { noEntries } from "../../../runtime/checkpoint/format.ts";

const quiet = createLogger("test", {}, { write: () => undefined });

/** An engine as the coordinator sees it: paused flags on sources, checkpoints counted, no state. */
function fakeEngine(parallelism: number): Engine & { checkpoints: number; stopped: boolean; source: { paused: boolean } } {
  const source = { uid: "clicks", paused: false };
  const engine = {
    checkpoints: 0,
    stopped: false,
    source,
    state: {
      graph: { nodes: [] },
      instances: [],
      sources: [source],
      parallelism,
      backends: Array.from({ length: parallelism }, () => ({ entryChunks: async function* () {} })),
    },
    checkpoint: async () => engine.checkpoints++,
    stop: () => void (engine.stopped = true),
  };
  return engine as unknown as Engine & { checkpoints: number; stopped: boolean; source: { paused: boolean } };
}

/** One repartition topic whose readers have seen drained markers only from `drainedFrom`. */
function planWithRepartition(parallelism: number, tasks: number[], drainedFrom: number[]): DistributedPlan {
  const readers = new Map<number, DrainProgress>();
  const writers = new Map<number, RepartitionWriter>();
  for (const t of tasks) {
    readers.set(t, {
      upstreamTasks: parallelism,
      drainedUpstreams: () => drainedFrom.length,
      undrainedUpstreams: () => Array.from({ length: parallelism }, (_, u) => u).filter((u) => !drainedFrom.includes(u)),
    });
    writers.set(t, { drained: () => undefined });
  }
  return { parallelism, repartitions: [{ sourceUid: "by-user", readers, writers, upstream: [] }] } as unknown as DistributedPlan;
}

/** Runs rounds until the savepoint leaves `pending` (a generous deadline: the machine may be loaded). */
async function settle(coordinator: ReturnType<typeof savepointCoordinator>, engine: Engine, id: string): Promise<SavepointStatus> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    await coordinator.onRound(engine);
    const status = coordinator.status(id);
    if (status && status.state !== "pending") return status;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`savepoint ${id} still pending`);
}

describe("savepoint drain timeout", () => {
  it("fails after the configured timeout naming the workers and tasks whose drained markers never arrived, then resumes", async () => {
    const root = mkdtempSync(join(tmpdir(), "runnel-drain-"));
    // Worker 0 of 3 on 6 tasks; only its own upstream tasks (0, 3) sent their markers.
    const engine = fakeEngine(6);
    const coordinator = savepointCoordinator({
      job: "orders",
      ordinal: 0,
      workers: 3,
      tasks: [0, 3],
      plan: planWithRepartition(6, [0, 3], [0, 3]),
      root,
      timeoutMs: 100,
      log: quiet,
    });
    const id = await coordinator.trigger("manual-1");
    const status = await settle(coordinator, engine, id);
    expect(status.state).toBe("failed");
    expect(status.error).toMatch(/not completed after \d+ s \(timeout 0\.1 s\): no drained markers yet from worker 1 \(tasks 1,4\), worker 2 \(tasks 2,5\)/);
    expect(engine.source.paused).toBe(false);
    expect(engine.checkpoints).toBe(0);
  });
});

describe("stop-with-savepoint sealing", () => {
  /** A stopping worker 0 of 2; `timeoutMs` bounds the wait for the other worker's share. */
  function stopping(root: string, seals: SealInfo[], recorded: SealInfo[], timeoutMs: number) {
    const engine = fakeEngine(2);
    const coordinator = savepointCoordinator({
      job: "orders",
      ordinal: 0,
      workers: 2,
      tasks: [0],
      plan: { parallelism: 2, repartitions: [] } as unknown as DistributedPlan,
      root,
      timeoutMs,
      markSealed: (info) => void seals.push(info),
      recordSealed: async (info) => void recorded.push(info),
      log: quiet,
    });
    return { engine, coordinator };
  }

  it("does not seal while another worker's share is missing: fails naming it, and the job resumes", async () => {
    const root = mkdtempSync(join(tmpdir(), "runnel-seal-"));
    const seals: SealInfo[] = [];
    const recorded: SealInfo[] = [];
    const { engine, coordinator } = stopping(root, seals, recorded, 300);
    const id = await coordinator.stopWithSavepoint("upgrade-1");
    const status = await settle(coordinator, engine, id);
    expect(status.state).toBe("failed");
    expect(status.error).toMatch(/the shares of worker 1 \(task 1\) were not written to .*upgrade-1; did every worker get the stop request\?/);
    expect(seals).toEqual([]);
    expect(recorded).toEqual([]);
    expect(engine.stopped).toBe(false);
    expect(engine.source.paused).toBe(false);
  });

  it("seals in one more checkpoint once every share is written, records the seal, and stops", async () => {
    const root = mkdtempSync(join(tmpdir(), "runnel-seal-"));
    const seals: SealInfo[] = [];
    const recorded: SealInfo[] = [];
    // The share is written while the coordinator waits: its timeout must not run out first on a loaded machine.
    const { engine, coordinator } = stopping(root, seals, recorded, 120_000);
    const id = await coordinator.stopWithSavepoint("upgrade-1");
    // The other worker's share arrives while this one waits.
    const meta = {
      version: 1,
      kind: "savepoint" as const,
      job: "orders",
      id,
      createdAt: "",
      parallelism: 2,
      operators: [],
      sources: {},
      sourceMaxTimestamps: {},
    };
    await writeWorkerSavepoint(
      fileSavepointStorage(join(root, "upgrade-1")),
      1,
      { ...meta, tasks: [1] },
      new Map([[1, { entries: noEntries, timers: {}, operators: {} }]]),
    );
    const status = await settle(coordinator, engine, id);
    expect(status).toEqual({ id, state: "completed", path: join(root, "upgrade-1") });
    expect(seals).toEqual([{ savepoint: id, path: join(root, "upgrade-1") }]);
    expect(recorded).toEqual(seals);
    // The drain's checkpoint, then the sealing one.
    expect(engine.checkpoints).toBe(2);
    expect(engine.stopped).toBe(true);
  });

  it("refuses savepoints when the job has no savepoint root", async () => {
    const coordinator = savepointCoordinator({
      job: "orders",
      ordinal: 0,
      workers: 1,
      tasks: [0],
      plan: { parallelism: 1, repartitions: [] } as unknown as DistributedPlan,
      log: quiet,
    });
    await expect(coordinator.trigger("x")).rejects.toThrow(/spec\.savepoint\.storage\.path/);
  });
});
