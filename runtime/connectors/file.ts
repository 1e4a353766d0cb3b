/**
 * Newline-delimited JSON files. The source reads one file per partition and resumes at a byte
 * offset. The sink is two-phase: records go to an in-progress file that a checkpoint prepares
 * (fsync) and its completion commits (atomic rename), so readers only ever see committed data.
 */
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ConnectorError } from "../errors.ts";
import type { ReadResult, Sink, SinkWriter, Source, SourceReader } from "./types.ts";

const CHUNK = 1 << 20;

/** Where a line of an ndjson file is: its path and 1-based line number. */
export interface FileOrigin {
  path: string;
  line: number;
}

/**
 * Reads ndjson files, partition p = paths[p]; position = byte offset of the next line. `parse`
 * turns a line into a record (default JSON.parse); when it throws, the read fails naming the file
 * and line. A parse that never throws (returning a marker for a bad line) lets the job go on. The
 * origin it gets is reused for the next line: copy what you keep.
 */
export function fileSource<T = unknown>(options: { paths: string[]; parse?: (line: string, origin: FileOrigin) => T }): Source<T> {
  const parse = options.parse ?? ((line: string) => JSON.parse(line) as T);
  return {
    name: "file",
    partitions: options.paths.length,
    async open(partition, position): Promise<SourceReader<T>> {
      const path = options.paths[partition] as string;
      let fh: FileHandle;
      try {
        fh = await open(path, "r");
      } catch (err) {
        throw new ConnectorError(`cannot open ${path}`, false, err);
      }
      let offset = typeof position === "number" ? position : 0; // of the next unreturned line
      let readAt = offset;
      let pending: Buffer = Buffer.alloc(0);
      let eof = false;
      // Line numbers name bad lines; a resumed reader counts the lines before its offset once.
      const origin: FileOrigin = { path, line: offset > 0 ? (await countLines(fh, offset)) + 1 : 1 };
      return {
        async read(max): Promise<ReadResult<T>> {
          const records: T[] = [];
          while (records.length < max) {
            let nl = pending.indexOf(10);
            if (nl < 0) {
              if (eof) break;
              const buf = Buffer.allocUnsafe(CHUNK);
              const { bytesRead } = await fh.read(buf, 0, CHUNK, readAt);
              readAt += bytesRead;
              if (bytesRead === 0) {
                eof = true;
                if (pending.length > 0) pending = Buffer.concat([pending, Buffer.from("\n")]);
                if (pending.length === 0) break;
              } else pending = pending.length === 0 ? buf.subarray(0, bytesRead) : Buffer.concat([pending, buf.subarray(0, bytesRead)]);
              nl = pending.indexOf(10);
              if (nl < 0) continue;
            }
            const line = pending.toString("utf8", 0, nl).trim();
            offset += nl + 1;
            pending = pending.subarray(nl + 1);
            if (line.length > 0) {
              try {
                records.push(parse(line, origin));
              } catch (err) {
                throw new ConnectorError(`${path}:${origin.line}: not JSON: ${err instanceof Error ? err.message : String(err)}`, false, err, "data");
              }
            }
            origin.line++;
          }
          return { records, done: eof && pending.length === 0 };
        },
        position: () => offset,
        close: () => fh.close(),
      };
    },
  };
}

/** Newlines in the first `bytes` bytes of a file. */
async function countLines(fh: FileHandle, bytes: number): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, bytes));
  let lines = 0;
  for (let at = 0; at < bytes;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, bytes - at), at);
    if (bytesRead === 0) break;
    for (let i = buf.indexOf(10); i >= 0 && i < bytesRead; i = buf.indexOf(10, i + 1)) lines++;
    at += bytesRead;
  }
  return lines;
}

/** What a prepared checkpoint of the sink holds: in-progress files to publish. */
interface Prepared {
  /** [in-progress path, final path] pairs. */
  files: [string, string][];
}

/**
 * Writes ndjson to `dir`: task t of sink operator u publishes part-<u>-<t>-<epoch>.ndjson. Without
 * checkpoints, close() publishes everything; with them, only completed checkpoints do.
 */
export function fileSink<T>(options: { dir: string; format?: (value: T) => string }): Sink<T> {
  const format = options.format ?? ((v: T) => JSON.stringify(v));
  return {
    name: "file",
    async open(ctx): Promise<SinkWriter<T>> {
      await mkdir(options.dir, { recursive: true });
      const name = `${ctx.operatorUid}-${ctx.taskIndex}`;
      // Leftovers of a crashed run: files of epochs after the restored checkpoint were never
      // committed, so they go (their records replay). Those of the restored checkpoint stay: a run
      // killed between that checkpoint and its commit left them for the commit the restore repeats.
      const restored = ctx.restoredCheckpoint ?? -1;
      const [head, tail] = [`.part-${name}-`, ".inprogress"];
      for (const f of await readdir(options.dir)) {
        if (f.startsWith(head) && f.endsWith(tail) && !(Number(f.slice(head.length, -tail.length)) <= restored))
          await rm(join(options.dir, f), { force: true });
      }
      let epoch = restored + 1;
      let fh: FileHandle | undefined;
      let current = "";
      let lines: string[] = [];
      const ready: [string, string][] = [];
      const finalName = (e: number): string => join(options.dir, `part-${name}-${String(e).padStart(6, "0")}.ndjson`);
      const roll = async (nextEpoch: number): Promise<void> => {
        if (fh) {
          await fh.sync();
          await fh.close();
          fh = undefined;
          ready.push([current, finalName(epoch)]);
        }
        epoch = nextEpoch;
      };
      const writer: SinkWriter<T> = {
        write: (value: T) => {
          lines.push(format(value));
        },
        async flush() {
          if (lines.length === 0) return;
          if (!fh) {
            current = join(options.dir, `.part-${name}-${String(epoch).padStart(6, "0")}.inprogress`);
            fh = await open(current, "w");
          }
          const text = `${lines.join("\n")}\n`;
          lines = [];
          await fh.write(text);
        },
        async prepareCommit(checkpointId): Promise<Prepared> {
          await writer.flush();
          await roll(checkpointId + 1);
          return { files: ready.splice(0) };
        },
        async commit(_checkpointId, prepared) {
          for (const [from, to] of (prepared as Prepared).files) {
            try {
              await rename(from, to);
            } catch (err) {
              // Idempotent: committed already (a restore re-commits the last checkpoint).
              if (!(await exists(to))) throw new ConnectorError(`cannot publish ${to}`, true, err);
            }
          }
        },
        async close() {
          await writer.flush();
          await roll(epoch + 1);
          for (const [from, to] of ready.splice(0)) await rename(from, to);
        },
        async abort() {
          // The in-progress file stays unpublished; the next open() removes it.
          lines = [];
          await fh?.close();
          fh = undefined;
        },
      };
      return writer;
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
