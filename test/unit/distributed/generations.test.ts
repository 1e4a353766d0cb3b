// Which generation a worker runs (ADR 16): the current one resumes, an unknown one starts (from
// its savepoint or fresh), an older one is refused unless asked for, and without a name the
// newest generation resumes — the restart after an upgrade that used to re-run the old one.
import { describe, expect, it } from "vitest";
import { chooseGeneration, FIRST_GENERATION, type GenerationRecord, type Generations } from "../../../runtime/distributed/generations.ts";
import { GenerationError } from "../../../runtime/errors.ts";

const NOW = new Date("2026-03-01T10:00:00Z");

function known(current: string | undefined, ...records: GenerationRecord[]): Generations {
  return { current, records: new Map(records.map((r) => [r.generation, r])) };
}

const g1: GenerationRecord = { generation: "g1", startedAt: "2026-02-01T00:00:00.000Z" };
const g2: GenerationRecord = { generation: "g2", restoredFrom: "/savepoints/upgrade-1", startedAt: "2026-02-02T00:00:00.000Z" };
const noSavepoint = async (): Promise<string> => {
  throw new Error("the savepoint must not be read");
};

describe("choosing a worker's generation", () => {
  it("starts g0 when nothing is recorded and none is named, and records it", async () => {
    const chosen = await chooseGeneration(known(undefined), { savepointId: noSavepoint }, NOW);
    expect(chosen).toMatchObject({ generation: FIRST_GENERATION, record: true, entry: { generation: "g0", startedAt: NOW.toISOString() } });
    expect(chosen.entry.restoredFrom).toBeUndefined();
  });

  it("resumes the current generation when none is named, never an older one", async () => {
    const chosen = await chooseGeneration(known("g2", g1, g2), { savepointId: noSavepoint }, NOW);
    expect(chosen).toMatchObject({ generation: "g2", record: false, entry: g2 });
  });

  it("runs a named current generation without recording anything", async () => {
    expect(
      await chooseGeneration(known("g2", g1, g2), { generation: "g2", restoreFrom: "/savepoints/upgrade-1", savepointId: noSavepoint }, NOW),
    ).toMatchObject({
      generation: "g2",
      record: false,
    });
  });

  it("starts an unknown named generation from --restore-from (absolute), or fresh without it", async () => {
    const restored = await chooseGeneration(known("g1", g1), { generation: "g2", restoreFrom: "/savepoints/./upgrade-1", savepointId: noSavepoint }, NOW);
    expect(restored).toMatchObject({ generation: "g2", record: true, entry: { generation: "g2", restoredFrom: "/savepoints/upgrade-1" } });
    const fresh = await chooseGeneration(known("g1", g1), { generation: "g2", savepointId: noSavepoint }, NOW);
    expect(fresh.entry.restoredFrom).toBeUndefined();
  });

  it("refuses a known older generation, naming the current one and the flag", async () => {
    const attempt = chooseGeneration(known("g2", g1, g2), { generation: "g1", savepointId: noSavepoint }, NOW);
    await expect(attempt).rejects.toBeInstanceOf(GenerationError);
    await expect(attempt).rejects.toThrow(/generation g1 is not the job's current generation g2 .*--generation g2.*--allow-old-generation/);
    expect(((await attempt.catch((e: unknown) => e)) as GenerationError).errorClass).toBe("configuration");
  });

  it("runs an older generation with --allow-old-generation and makes it current again", async () => {
    const chosen = await chooseGeneration(known("g2", g1, g2), { generation: "g1", allowOldGeneration: true, savepointId: noSavepoint }, NOW);
    expect(chosen).toMatchObject({ generation: "g1", record: true, entry: g1 });
  });

  it("names a generation after the savepoint when restoring without a name, and resumes it on later starts", async () => {
    const first = await chooseGeneration(
      known("g0", { generation: "g0", startedAt: "x" }),
      { restoreFrom: "/sp/up-1", savepointId: async () => "sp-abc" },
      NOW,
    );
    expect(first).toMatchObject({ generation: "sp-abc", record: true, entry: { restoredFrom: "/sp/up-1" } });
    // The same arguments after a pod restart: the generation restored from that savepoint resumes.
    const again = await chooseGeneration(known("sp-abc", first.entry), { restoreFrom: "/sp/up-1", savepointId: noSavepoint }, NOW);
    expect(again).toMatchObject({ generation: "sp-abc", record: false });
    // The same savepoint restored again after another generation: a new name.
    const g3: GenerationRecord = { generation: "g3", startedAt: "y" };
    const twice = await chooseGeneration(known("g3", first.entry, g3), { restoreFrom: "/sp/up-1", savepointId: async () => "sp-abc" }, NOW);
    expect(twice.generation).toBe("sp-abc-2");
  });

  it("refuses a malformed generation token", async () => {
    await expect(chooseGeneration(known(undefined), { generation: "G_1", savepointId: noSavepoint })).rejects.toThrow(/not a generation token/);
  });
});
