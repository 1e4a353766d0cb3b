/**
 * One task's part of a snapshot as files: its keyed entries in chunk files of bounded size
 * (`task-<t>.entries-<n>.bin`), then a header (`task-<t>.bin`: timers, operator state, state
 * schemas, the chunk count) written last. Writing and reading stream chunk by chunk, so a task
 * with gigabytes of state never sits in memory whole. A chunk is a run of
 * `[u32 key length][key utf-8][u32 value length][value]`; values come back as views into the
 * chunk (no copy per entry). Format 1 headers held every entry inline; they are still read.
 */
import { deserialize, serialize } from "node:v8";
import { CheckpointError } from "../errors.ts";
import type { SnapshotStorage } from "./storage.ts";
import type { StoreEntry, TaskSnapshot } from "./format.ts";

/** Entries per chunk file (and per LevelDB batch when they are imported). */
export const CHUNK_ENTRIES = 32_768;

/** What a task header holds besides the chunk count. */
interface TaskHeader {
  format: 2;
  chunks: number;
  entries: number;
  timers: TaskSnapshot["timers"];
  operators: NonNullable<TaskSnapshot["operators"]>;
  schemas?: NonNullable<TaskSnapshot["schemas"]>;
}

const headerName = (task: number): string => `task-${task}.bin`;
const chunkName = (task: number, n: number): string => `task-${task}.entries-${String(n).padStart(5, "0")}.bin`;

/** Encodes a chunk of entries. */
export function encodeChunk(entries: readonly StoreEntry[]): Buffer {
  let size = 0;
  for (const [k, v] of entries) size += 8 + Buffer.byteLength(k) + v.byteLength;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [k, v] of entries) {
    const n = out.write(k, at + 4, "utf8");
    out.writeUInt32LE(n, at);
    at += 4 + n;
    out.writeUInt32LE(v.byteLength, at);
    out.set(v, at + 4);
    at += 4 + v.byteLength;
  }
  return out;
}

/** Decodes a chunk; values are views into `bytes`. */
export function decodeChunk(bytes: Buffer): StoreEntry[] {
  const out: StoreEntry[] = [];
  let at = 0;
  while (at < bytes.length) {
    const kn = bytes.readUInt32LE(at);
    const key = bytes.toString("utf8", at + 4, at + 4 + kn);
    at += 4 + kn;
    const vn = bytes.readUInt32LE(at);
    out.push([key, bytes.subarray(at + 4, at + 4 + vn)]);
    at += 4 + vn;
  }
  return out;
}

/** Writes one task's snapshot: entry chunks as they come, the header last. Returns the entry count. */
export async function writeTaskFiles(storage: SnapshotStorage, task: number, snap: TaskSnapshot): Promise<number> {
  let chunks = 0;
  let entries = 0;
  for await (const chunk of snap.entries()) {
    if (chunk.length === 0) continue;
    await storage.write(chunkName(task, chunks++), encodeChunk(chunk));
    entries += chunk.length;
  }
  const header: TaskHeader = {
    format: 2,
    chunks,
    entries,
    timers: snap.timers,
    operators: snap.operators ?? {},
    ...(snap.schemas ? { schemas: snap.schemas } : {}),
  };
  await storage.write(headerName(task), serialize(header));
  return entries;
}

/** Reads one task's header; its entries are read chunk by chunk when iterated. */
export async function readTaskFiles(storage: SnapshotStorage, task: number): Promise<TaskSnapshot> {
  let header: TaskHeader | { entries: StoreEntry[]; timers: TaskSnapshot["timers"]; operators?: TaskSnapshot["operators"] };
  try {
    header = deserialize(await storage.read(headerName(task))) as typeof header;
  } catch (err) {
    throw new CheckpointError(`cannot read task ${task} of the snapshot in ${storage.location}`, false, err);
  }
  if (Array.isArray(header.entries)) {
    // Format 1: every entry inline.
    const inline = header.entries;
    return {
      timers: header.timers,
      operators: header.operators ?? {},
      entryCount: inline.length,
      entries: async function* () {
        for (let i = 0; i < inline.length; i += CHUNK_ENTRIES) yield inline.slice(i, i + CHUNK_ENTRIES);
      },
    };
  }
  const h = header as TaskHeader;
  return {
    timers: h.timers,
    operators: h.operators,
    ...(h.schemas ? { schemas: h.schemas } : {}),
    entryCount: h.entries,
    entries: async function* () {
      for (let n = 0; n < h.chunks; n++) {
        let bytes: Buffer;
        try {
          bytes = await storage.read(chunkName(task, n));
        } catch (err) {
          throw new CheckpointError(`snapshot in ${storage.location}: chunk ${n} of task ${task} is missing or unreadable`, false, err);
        }
        yield decodeChunk(bytes);
      }
    },
  };
}
