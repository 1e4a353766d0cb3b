/**
 * Where a snapshot's files live. Checkpoints of local mode and savepoints of both modes write
 * through this interface: a folder today (a shared volume on Kubernetes), an object store later.
 * Files are written whole and atomically, so a reader never sees half of one.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Where one snapshot's files live. */
export interface SnapshotStorage {
  /** Human-readable location (a path or URL). */
  readonly location: string;
  /** Writes a file atomically (readers never see half of it). */
  write(name: string, data: Uint8Array | string): Promise<void>;
  /** Reads a file. */
  read(name: string): Promise<Buffer>;
  /** Names of the files present. */
  list(): Promise<string[]>;
  /** Deletes the snapshot. */
  dispose(): Promise<void>;
}

/** A snapshot in a folder (created on first write). */
export function folderStorage(dir: string): SnapshotStorage {
  let made = false;
  return {
    location: dir,
    async write(name, data) {
      if (!made) await mkdir(dir, { recursive: true });
      made = true;
      await writeFile(join(dir, `${name}.tmp`), data);
      await rename(join(dir, `${name}.tmp`), join(dir, name));
    },
    read: (name) => readFile(join(dir, name)),
    list: async () => (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.endsWith(".tmp")),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
