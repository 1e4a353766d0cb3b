/**
 * What a restoring worker takes from a savepoint for tasks without a checkpoint of their own in
 * the changelog: their share of its keyed state and timers, their input positions, and the
 * broadcast state with the broadcast inputs' positions it goes with.
 */
import { parseStoreKey, type CheckpointMetadata, type Snapshot, type TaskSnapshot, type TimerSnapshot } from "../checkpoint/format.ts";
import { taskOfKey } from "../exec/hash.ts";
import { decodeKey } from "../state/table.ts";
import type { ReplicatedPositions } from "./changelog.ts";

/** Restores the broadcast inputs' positions that go with the restored broadcast state. */
export function setReplicated(meta: CheckpointMetadata, replicated: Record<string, ReplicatedPositions>): void {
  for (const [uid, r] of Object.entries(replicated)) {
    meta.sources[uid] = [];
    meta.sourceMaxTimestamps[uid] = [];
    for (const [p, pos] of Object.entries(r.positions)) meta.sources[uid][Number(p)] = pos;
    for (const [p, ts] of Object.entries(r.maxTimestamps)) meta.sourceMaxTimestamps[uid][Number(p)] = ts;
  }
}

/**
 * The savepoint's share of the tasks that have no checkpoint of their own yet: their keys' state
 * and timers, filtered as the savepoint streams (the engine re-splits by key). Its operator state
 * only when no task has a newer copy from the changelog.
 */
export function savepointShare(sp: Snapshot, share: Set<number>, parallelism: number, withOperators: boolean): TaskSnapshot[] {
  const mine = (key: Parameters<typeof taskOfKey>[0]): boolean => share.has(taskOfKey(key, parallelism));
  return sp.tasks.flatMap((snap): TaskSnapshot[] => {
    if (!snap) return [];
    const timers: Record<string, TimerSnapshot> = {};
    for (const [uid, t] of Object.entries(snap.timers))
      timers[uid] = { ...t, event: t.event.filter(([, k]) => mine(k)), processing: t.processing.filter(([, k]) => mine(k)) };
    return [
      {
        entries: async function* () {
          for await (const chunk of snap.entries()) {
            const kept = chunk.filter((e) => mine(decodeKey(parseStoreKey(e[0]).encodedKey)));
            if (kept.length > 0) yield kept;
          }
        },
        timers,
        operators: withOperators ? (snap.operators ?? {}) : {},
        ...(snap.schemas ? { schemas: snap.schemas } : {}),
      },
    ];
  });
}

/** The savepoint's input positions of the tasks restored from it (and of the broadcast inputs, with its broadcast state). */
export function addSavepointPositions(
  sp: CheckpointMetadata,
  share: Set<number>,
  meta: CheckpointMetadata,
  replicated: Set<string>,
  withReplicated: boolean,
): void {
  for (const [uid, positions] of Object.entries(sp.sources)) {
    const all = replicated.has(uid);
    if (all && !withReplicated) continue;
    const ts = sp.sourceMaxTimestamps[uid] ?? [];
    for (const [t, pos] of positions.entries()) {
      if (pos === undefined || (!all && !share.has(t))) continue;
      (meta.sources[uid] ??= [])[t] = pos;
      if (ts[t] !== undefined) (meta.sourceMaxTimestamps[uid] ??= [])[t] = ts[t];
    }
  }
  meta.id = Math.max(meta.id, 0);
}
