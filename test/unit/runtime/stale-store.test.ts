// Stale local stores: a store left from an earlier ownership of a task replays the changelog from
// its marker only while nothing but its own writer appended since. Otherwise compaction may have
// removed what another owner deleted (tombstones included), and the key would come back: such a
// store is cleared and rebuilt from the start. The changelog here is an in-memory partition.
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serialize } from "node:v8";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryChangelog } from "../../helpers/changelog.ts";
import { replayChangelog, SENTINEL_KEY, TASK_META_KEY, type ChangelogRecord, type TaskMeta } from "../../../runtime/distributed/changelog.ts";
import { markerEntries, replayStores, TaskRestore } from "../../../runtime/distributed/task-restore.ts";
import { KeyedStateBackend } from "../../../runtime/state/backend.ts";
import { levelStore, removeTaskStores } from "../../../runtime/state/store.ts";
import { systemClock } from "../../../runtime/time/clock.ts";
import { existsSync, mkdirSync } from "node:fs";
import { blackholeSink, collectionSource, job } from "../../../runtime/api/index.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "runnel-stale-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const CHANGELOG = "runnel.test.job.changelog";
const meta = (id: number, owner: string): TaskMeta => ({ id, job: "job", positions: {}, maxTimestamps: {}, timers: {}, sinks: {}, owner });
const put = (offset: number, key: string, value: string): ChangelogRecord => ({ offset, key, value: Buffer.from(value) });
const metaRecord = (offset: number, m: TaskMeta): ChangelogRecord => ({ offset, key: TASK_META_KEY, value: serialize(m) });
const sentinel = (offset: number): ChangelogRecord => ({ offset, key: SENTINEL_KEY, value: Buffer.from("nonce") });

/** A task store holding `entries` and a marker at `metaOffset` written through it, as a worker leaves it. */
async function storeAt(
  entries: [string, string][],
  metaOffset: number,
  m: (owner: string) => TaskMeta,
): Promise<{ backend: KeyedStateBackend; owner: string }> {
  const backend = new KeyedStateBackend({ store: await levelStore({ path: join(dir, "task-0") }), clock: systemClock, trackChanges: true });
  const r = await TaskRestore.open(0, backend, CHANGELOG); // a fresh store: gets its id
  await backend.store.write(
    entries.map(([k, v]) => [k, Buffer.from(v)]),
    [],
  );
  await backend.applyChanges({ puts: [], dels: [] }, markerEntries(CHANGELOG, metaOffset, m(r.owner)));
  return { backend, owner: r.owner };
}

/** Restores task 0 of `backend` from `records` (sentinel at the last offset); returns the store's keys. */
async function restore(backend: KeyedStateBackend, records: ChangelogRecord[]): Promise<string[]> {
  const r = await TaskRestore.open(0, backend, CHANGELOG);
  await replayStores({
    restores: [r],
    sentinels: new Map([[0, (records.at(-1) as ChangelogRecord).offset]]),
    replay: (sinks) =>
      replayChangelog({
        connection: { brokers: [] },
        topic: CHANGELOG,
        readerGroup: "g",
        sinks,
        sentinels: new Map([[0, "nonce"]]),
        source: memoryChangelog(records),
      }),
  });
  const keys: string[] = [];
  for await (const chunk of backend.entryChunks()) for (const [k] of chunk) keys.push(k);
  return keys;
}

describe("stale local stores", () => {
  it("rebuilds a store when another store's writer appended to the changelog since its marker", async () => {
    // This store wrote k1 (offset 0) and checkpoint 0 (offset 1). Another owner then deleted k1 and
    // checkpointed (offsets 2, 3); compaction removed k1's put and tombstone and the older metadata.
    const { backend } = await storeAt([["op\u0000s\u0000sk1", "v1"]], 1, (owner) => meta(0, owner));
    const compacted = [put(4, "op\u0000s\u0000sk2", "v2"), metaRecord(5, meta(1, "another-store")), sentinel(6)];
    expect(await restore(backend, compacted)).toEqual(["op\u0000s\u0000sk2"]);
    await backend.close();
  });

  it("replays from the marker while only this store's writer appended (a crash between commit and apply)", async () => {
    const { backend, owner } = await storeAt([["op\u0000s\u0000sk1", "v1"]], 1, (o) => meta(0, o));
    const log = [
      put(0, "op\u0000s\u0000sk1", "v1"),
      metaRecord(1, meta(0, owner)),
      put(2, "op\u0000s\u0000sk2", "v2"),
      metaRecord(3, meta(1, owner)),
      sentinel(4),
    ];
    // From the marker: k1 stays although the replay never reads offset 0.
    expect(await restore(backend, log.slice(1))).toEqual(["op\u0000s\u0000sk1", "op\u0000s\u0000sk2"]);
    await backend.close();
  });

  it("rebuilds a store whose marker lies beyond the changelog's end (the topic was recreated)", async () => {
    const { backend } = await storeAt([["op\u0000s\u0000sold", "v"]], 40, (o) => meta(9, o));
    expect(await restore(backend, [put(0, "op\u0000s\u0000snew", "v"), metaRecord(1, meta(0, "x")), sentinel(2)])).toEqual(["op\u0000s\u0000snew"]);
    await backend.close();
  });

  it("deletes the stores of tasks a worker no longer owns when it opens its own", async () => {
    for (const t of [0, 1, 2, 5]) mkdirSync(join(dir, `task-${t}`));
    const j = job("owned");
    j.source(collectionSource<number>({ partitions: [[], [], [], []] }))
      .keyBy((n) => n)
      .process<number>((rt) => {
        rt.valueState<number>({ name: "v" });
        return { processElement() {} };
      })
      .sink(blackholeSink());
    const engine = createEngine({ graph: j.build(), tasks: [0, 2], state: { kind: "level", dir } });
    await engine.open();
    await engine.close();
    expect([0, 1, 2, 5].map((t) => existsSync(join(dir, `task-${t}`)))).toEqual([true, false, true, false]);
    expect(await removeTaskStores(dir, new Set([0, 2]))).toEqual([]);
  });
});
