// The progress line in a real terminal: `runnel run` runs under `script` (a pseudo-terminal, so
// stdout and stderr are both the terminal), and the screen it leaves is replayed the way a
// terminal draws it (carriage returns, line clears, newlines). Results printed while the progress
// line is up must each stand on a row of their own, never glued to the progress text.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../env/lib/layout.ts";

/** The rows a terminal shows after drawing `raw`: \r returns to column 0, ESC[2K clears the row, \n ends it. */
function screen(raw: string): string[] {
  const rows: string[] = [];
  let row: string[] = [];
  let col = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (ch === "\u001b") {
      const m = /^\[([0-9;]*)([A-Za-z])/.exec(raw.slice(i + 1, i + 16));
      if (m) {
        if (m[2] === "K" && m[1] === "2") row = Array.from({ length: col }, () => " ");
        else if (m[2] === "K") row.length = Math.min(row.length, col);
        i += m[0].length;
        continue;
      }
    }
    if (ch === "\r") col = 0;
    else if (ch === "\n") {
      rows.push(row.join("").trimEnd());
      row = [];
      col = 0;
    } else row[col++] = ch;
  }
  if (row.length > 0) rows.push(row.join("").trimEnd());
  return rows;
}

const PROGRESS = /^[\d,]+ in {2}[\d,]+ ev\/s {2}out [\d,]+ {2}watermark \S+ {2}checkpoints \d+ {2}state [\d,]+( {2}dead letters [\d,]+)?$/;

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-pty-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a command under `script` and returns everything the terminal received. */
function underTerminal(command: string): Promise<{ code: number | null; raw: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, raw: Buffer.concat(chunks).toString("utf8") }));
  });
}

describe("the progress line in a terminal", () => {
  it("never shares a row with a result printed while it is shown", async () => {
    const manifest = join(dir, "job.yaml");
    // 400 records/s in event time that follows the wall clock: a result every half second, a progress update every second.
    await writeFile(
      manifest,
      `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: pty-progress }
spec:
  pipeline:
    sources:
      - id: ticks
        kafka: { topic: ticks }
        timestamp: { field: ts }
        local:
          generator:
            rate: 400
            partitions: 1
            fields:
              user: { kind: key, prefix: u, cardinality: 2 }
              ts: { kind: eventTime }
    steps:
      - { id: by-user, input: ticks, keyBy: { key: record.user } }
      - id: per-half-second
        input: by-user
        window: { type: tumbling, size: 500ms, aggregations: [{ name: total, fn: count }] }
    sinks:
      - { id: out, input: per-half-second, stdout: {} }
`,
    );
    const { code, raw } = await underTerminal(`${process.execPath} runtime/cli/main.ts run ${manifest} --max-records 2400`);
    expect(code, raw).toBe(0);
    const rows = screen(raw);
    const results = rows.filter((r) => r.includes('"windowStart"'));
    const progress = rows.filter((r) => r.includes(" ev/s "));
    // The run showed both, and results came while the progress line was up (the case that used to glue them).
    expect(results.length, raw).toBeGreaterThanOrEqual(4);
    const firstDraw = raw.indexOf(" ev/s ");
    expect(firstDraw, raw).toBeGreaterThanOrEqual(0);
    expect(raw.indexOf('"windowStart"', firstDraw), raw).toBeGreaterThan(firstDraw);
    for (const r of results) expect(() => JSON.parse(r) as unknown, `a result row holds something else: ${JSON.stringify(r)}`).not.toThrow();
    for (const r of progress) expect(r, `a progress row holds something else: ${JSON.stringify(r)}`).toMatch(PROGRESS);
    expect(rows.filter((r) => r.startsWith("runnel run: pty-progress finished"))).toHaveLength(1);
  });
});
