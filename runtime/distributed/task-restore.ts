/**
 * The local store's side of restoring one task from the changelog. A store keeps a marker (the
 * changelog offset and metadata of the last checkpoint it applied) and an id of its own, which
 * every checkpoint written through it carries (`TaskMeta.owner`). Replaying from the marker is
 * only sound while nothing but this store's own writer appended to the changelog since: another
 * owner's changes may already be compacted away (tombstones included), so keys it deleted would
 * come back. A replay from the marker that meets another owner's checkpoint, or does not find
 * the marker's, stops; the store is then cleared (with a new id) and rebuilt from the start.
 */
import { randomUUID } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import { inlineEntries, noEntries, type StoreEntry } from "../checkpoint/format.ts";
import type { KeyedStateBackend } from "../state/backend.ts";
import { DIRTY_KEY, RESERVED_PREFIX } from "../state/store-keys.ts";
import type { StateChanges } from "../state/changes.ts";
import type { Logger } from "../log.ts";
import type { ReplaySink, TaskMeta } from "./changelog.ts";

/** Local store key of the checkpoint marker. */
const MARKER_KEY = `${RESERVED_PREFIX}checkpoint`;
/** Local store key of the store's id (new whenever the store is cleared). */
const STORE_ID_KEY = `${RESERVED_PREFIX}store-id`;

interface Marker {
  /** The changelog the marker refers to (another generation's store is rebuilt). */
  changelog: string;
  /** Changelog offset of the metadata record this store state equals. */
  metaOffset: number;
  meta: TaskMeta;
}

/** The runtime entries that record, in the store, that it equals the changelog up to `metaOffset`. */
export function markerEntries(changelog: string, metaOffset: number, meta: TaskMeta): [string, Uint8Array][] {
  return [[MARKER_KEY, serialize({ changelog, metaOffset, meta } satisfies Marker)]];
}

/** One task's restore from the changelog into its store. */
export class TaskRestore implements ReplaySink {
  readonly task: number;
  from = 0;
  /** The last checkpoint metadata replayed, and its offset. */
  meta: TaskMeta | undefined;
  metaOffset = -1;
  /** Id written into this task's checkpoints (the store's; a fresh one per process for heap state). */
  owner: string = randomUUID();
  /** Changelog records applied. */
  applied = 0;
  private readonly backend: KeyedStateBackend;
  private readonly changelog: string;
  /** The marker being validated by a replay from it. */
  private marker: Marker | undefined;
  private markerSeen = false;
  private dirty = false;
  private heap = new Map<string, Uint8Array | null>();

  private constructor(task: number, backend: KeyedStateBackend, changelog: string) {
    this.task = task;
    this.backend = backend;
    this.changelog = changelog;
  }

  /** Reads the store's marker and id: a clean store of this changelog replays from its marker, any other is cleared. */
  static async open(task: number, backend: KeyedStateBackend, changelog: string): Promise<TaskRestore> {
    const r = new TaskRestore(task, backend, changelog);
    if (!backend.store.persistent) return r;
    const [markerBytes, dirty, id] = await backend.store.getMany([MARKER_KEY, DIRTY_KEY, STORE_ID_KEY]);
    const stored = markerBytes && dirty === undefined ? (deserialize(markerBytes) as Marker) : undefined;
    if (stored?.changelog === changelog && id !== undefined) {
      r.owner = Buffer.from(id).toString("utf8");
      r.marker = stored;
      r.from = stored.metaOffset;
      r.meta = stored.meta;
      r.metaOffset = stored.metaOffset;
      return r;
    }
    await r.reset();
    return r;
  }

  /** True when the replay started from the marker. */
  get fromMarker(): boolean {
    return this.marker !== undefined;
  }

  /** Forgets everything: an empty store with a new id, replayed from the start. */
  async reset(): Promise<void> {
    this.marker = undefined;
    this.markerSeen = false;
    this.from = 0;
    this.meta = undefined;
    this.metaOffset = -1;
    this.applied = 0;
    this.heap = new Map();
    this.owner = randomUUID();
    if (!this.backend.store.persistent) return;
    await this.backend.store.clear();
    await this.backend.store.write([[STORE_ID_KEY, Buffer.from(this.owner)]], []);
    this.dirty = false;
  }

  async onChanges(changes: StateChanges): Promise<void> {
    this.applied += changes.puts.length + changes.dels.length;
    if (!this.backend.store.persistent) {
      for (const [k, v] of changes.puts) this.heap.set(k, v);
      for (const k of changes.dels) this.heap.set(k, null);
      return;
    }
    // Until the new marker is written, a crash leaves a store that must be rebuilt.
    if (!this.dirty) changes.puts.push([DIRTY_KEY, new Uint8Array(0)]);
    this.dirty = true;
    await this.backend.store.write(changes.puts, changes.dels);
  }

  onMeta(meta: TaskMeta, offset: number): boolean {
    if (this.marker) {
      if (offset === this.marker.metaOffset) this.markerSeen = true;
      // Written through another store since the marker: what it deleted may be compacted away.
      else if (offset > this.marker.metaOffset && meta.owner !== this.owner) return false;
      else if (offset > this.marker.metaOffset) this.markerSeen = true;
    }
    this.meta = meta;
    this.metaOffset = offset;
    return true;
  }

  /** After the replay: false when a replay from the marker never found it (the changelog was recreated or truncated). */
  get valid(): boolean {
    return this.marker === undefined || this.markerSeen;
  }

  /** Keyed entries for the engine to import: the replayed heap state (a persistent store already holds its own). */
  entries(): () => AsyncIterable<StoreEntry[]> {
    if (this.backend.store.persistent) return noEntries;
    const puts: StoreEntry[] = [];
    for (const [k, v] of this.heap) if (v !== null) puts.push([k, v]);
    this.heap = new Map();
    return inlineEntries(puts);
  }

  /** Records in the store that it now equals the changelog up to the last replayed checkpoint. */
  async finish(): Promise<void> {
    if (!this.backend.store.persistent || !this.meta) return;
    await this.backend.applyChanges({ puts: [], dels: [] }, markerEntries(this.changelog, this.metaOffset, this.meta));
    this.dirty = false;
  }
}

/**
 * Replays the changelog into every task's store up to its sentinel (at `sentinels` offsets);
 * stores found stale — by the replay, or because their marker lies beyond the changelog's end
 * (a recreated topic) — are cleared and replayed again from the start. Ends by writing each
 * store's new marker.
 */
export async function replayStores(options: {
  restores: TaskRestore[];
  sentinels: ReadonlyMap<number, number>;
  replay: (sinks: TaskRestore[], pass: number) => Promise<Set<number>>;
  log?: Logger;
}): Promise<void> {
  const stale = async (r: TaskRestore): Promise<void> => {
    options.log?.info("the task's local store is stale (the changelog was written through another store since its marker): rebuilding it", { task: r.task });
    await r.reset();
  };
  for (const r of options.restores) if (r.fromMarker && r.from > (options.sentinels.get(r.task) ?? Number.POSITIVE_INFINITY)) await stale(r);
  let pending = options.restores;
  for (let pass = 0; pending.length > 0; pass++) {
    const stopped = await options.replay(pending, pass);
    const again = pending.filter((r) => stopped.has(r.task) || !r.valid);
    for (const r of again) await stale(r);
    pending = again;
  }
  for (const r of options.restores) await r.finish();
}
