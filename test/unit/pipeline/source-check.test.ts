// Bad input never stops a job: a source's lines that are not JSON objects, records without a
// readable event time and values that break the declared field types go to the dead-letter
// stream with their reason (and file:line for a file), counted, while the job goes on and the
// good records come out as if the bad ones had never been there — whatever the batch size.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../../runtime/cli/main.ts";
import { captureOutput } from "../../helpers/capture.ts";
import { compileDoc, runPipeline, sortedLines, streamJob } from "./helpers.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-source-check-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type DeadLetter = { step: string; reason: string; error?: string; record: unknown; origin?: string };

/** A job reading `events.ndjson` (event time in `ts`), counting per user in 1-second windows, with a dead-letter sink. */
function countingJob(source: object = {}): object {
  return streamJob("checked", {
    sources: [
      {
        id: "events",
        kafka: { topic: "events" },
        timestamp: { field: "ts" },
        fields: { user: "string", ts: "int", amount: "double" },
        local: { file: { path: "events.ndjson" } },
        ...source,
      },
    ],
    steps: [
      { id: "by-user", input: "events", keyBy: { key: "record.user" } },
      { id: "per-second", input: "by-user", window: { type: "tumbling", size: "1s", aggregations: [{ name: "n", fn: "count" }] } },
    ],
    sinks: [
      { id: "out", input: "per-second", kafka: { topic: "out" } },
      { id: "dead", input: "dead-letter", kafka: { topic: "dead" } },
    ],
  });
}

const T = Date.UTC(2026, 0, 1);
const good = (user: string, ms: number, amount = 1.5): string => JSON.stringify({ user, ts: T + ms, amount });

describe("the source check", () => {
  it("dead-letters a file's malformed lines (invalid JSON, null, non-objects, binary garbage) with file:line, and the job goes on", async () => {
    const file = join(dir, "events.ndjson");
    const lines: (string | Buffer)[] = [
      good("a", 0),
      "{not json",
      "null",
      "42",
      '["a", 1]',
      Buffer.from([0xff, 0xfe, 0x00, 0x9c, 0x80, 0x7b]),
      good("a", 200),
      good("b", 1500),
    ];
    await writeFile(file, Buffer.concat(lines.flatMap((l) => [Buffer.isBuffer(l) ? l : Buffer.from(l), Buffer.from("\n")])));
    const c = await compileDoc(countingJob(), dir);
    const out = await runPipeline(c);
    const dead = (out.dead ?? []) as DeadLetter[];
    expect(dead.map((d) => [d.reason, d.origin])).toEqual([
      ["invalid-json", `${file}:2`],
      ["not-an-object", `${file}:3`],
      ["not-an-object", `${file}:4`],
      ["not-an-object", `${file}:5`],
      ["invalid-json", `${file}:6`],
    ]);
    expect(dead.every((d) => d.step === "events" && typeof d.error === "string" && d.error.length > 0)).toBe(true);
    expect(dead[0]).toMatchObject({ record: "{not json", error: expect.stringMatching(/not JSON/) as unknown });
    expect(dead[1]).toMatchObject({ record: null, error: expect.stringMatching(/null, not an object/) as unknown });
    expect(c.metrics.deadLetters).toEqual({ "events/invalid-json": 2, "events/not-an-object": 3 });
    expect(sortedLines(out.out ?? [])).toEqual(
      sortedLines([
        { key: "a", windowStart: T, windowEnd: T + 1000, n: 2 },
        { key: "b", windowStart: T + 1000, windowEnd: T + 2000, n: 1 },
      ]),
    );
  });

  it("dead-letters a record without a readable event time instead of giving it time 0, the same at every batch size", async () => {
    await writeFile(
      join(dir, "events.ndjson"),
      [
        good("a", 0),
        JSON.stringify({ user: "a", amount: 1 }),
        JSON.stringify({ user: "a", ts: null }),
        JSON.stringify({ user: "a", ts: "yesterday" }),
        good("a", 900),
        good("b", 3100),
      ].join("\n"),
    );
    const runs = [];
    for (const batch of [1, 2, 4096]) {
      const c = await compileDoc(countingJob({ fields: { user: "string" } }), dir);
      runs.push({ out: await runPipeline(c, batch), metrics: c.metrics });
    }
    for (const { out, metrics } of runs) {
      const windows = (out.out ?? []) as { key: string; windowStart: number; n: number }[];
      // No window of 1970, nothing counted late: exactly the good records' windows.
      expect(sortedLines(windows)).toEqual(
        sortedLines([
          { key: "a", windowStart: T, windowEnd: T + 1000, n: 2 },
          { key: "b", windowStart: T + 3000, windowEnd: T + 4000, n: 1 },
        ]),
      );
      const dead = (out.dead ?? []) as DeadLetter[];
      // The reader's event-time error names the field and what it held.
      expect(dead.map((d) => [d.reason, d.error, d.origin?.replace(`${dir}/`, "")])).toEqual([
        ["event-time", 'event-time field "ts" is missing', "events.ndjson:2"],
        ["event-time", 'event-time field "ts" is missing', "events.ndjson:3"],
        ["event-time", 'event-time field "ts" is "yesterday", not a number (epoch-millis)', "events.ndjson:4"],
      ]);
      expect(metrics.deadLetters).toEqual({ "events/event-time": 3 });
    }
  });

  it("reads ISO-8601 and epoch-seconds event times, and dead-letters what does not parse", async () => {
    await writeFile(
      join(dir, "events.ndjson"),
      [JSON.stringify({ user: "a", at: "2026-01-01T00:00:00.500Z" }), JSON.stringify({ user: "a", at: "soon" }), JSON.stringify({ user: "b", at: 5 })].join(
        "\n",
      ),
    );
    const iso = await runPipeline(await compileDoc(countingJob({ timestamp: { field: "at", format: "iso-8601" }, fields: { user: "string" } }), dir));
    expect(iso.out).toEqual([{ key: "a", windowStart: T, windowEnd: T + 1000, n: 1 }]);
    expect(((iso.dead ?? []) as DeadLetter[]).map((d) => d.error)).toEqual([
      'event-time field "at" is "soon", not an ISO-8601 time',
      'event-time field "at" is 5, not an ISO-8601 time',
    ]);
    const seconds = await runPipeline(await compileDoc(countingJob({ timestamp: { field: "at", format: "epoch-seconds" }, fields: { user: "string" } }), dir));
    expect(seconds.out).toEqual([{ key: "b", windowStart: 5000, windowEnd: 6000, n: 1 }]);
    expect(((seconds.dead ?? []) as DeadLetter[]).map((d) => d.error)).toEqual([
      'event-time field "at" is "2026-01-01T00:00:00.500Z", not a number (epoch-seconds)',
      'event-time field "at" is "soon", not a number (epoch-seconds)',
    ]);
  });

  it("enforces the declared field types: a value of another type is dead-lettered, absent and null ones pass", async () => {
    await writeFile(
      join(dir, "events.ndjson"),
      [
        good("a", 0),
        JSON.stringify({ user: 123, ts: T + 10, amount: 1 }),
        JSON.stringify({ user: "a", ts: T + 20, amount: "12.5" }),
        JSON.stringify({ user: "a", ts: T + 30.5, amount: 2 }),
        JSON.stringify({ user: "a", ts: T + 40 }),
        JSON.stringify({ user: "a", ts: T + 50, amount: null }),
      ].join("\n"),
    );
    const c = await compileDoc(countingJob(), dir);
    const out = await runPipeline(c);
    const dead = (out.dead ?? []) as DeadLetter[];
    expect(dead.map((d) => [d.reason, d.error])).toEqual([
      ["field-type", 'field "user" is 123, not string'],
      ["field-type", 'field "amount" is "12.5", not double'],
      ["field-type", `field "ts" is ${T + 30.5}, not int`],
    ]);
    expect(dead[0]?.record).toEqual({ user: 123, ts: T + 10, amount: 1 });
    expect(c.metrics.deadLetters).toEqual({ "events/field-type": 3 });
    expect(out.out).toEqual([{ key: "a", windowStart: T, windowEnd: T + 1000, n: 3 }]);
  });

  it("fieldTypes: coerce converts what converts without loss and dead-letters the rest", async () => {
    await writeFile(
      join(dir, "events.ndjson"),
      [
        JSON.stringify({ user: 123, ts: String(T + 10), amount: "12.5", vip: "true" }),
        JSON.stringify({ user: "a", ts: T + 20, amount: "twelve" }),
        JSON.stringify({ user: "a", ts: T + 30, amount: 2, vip: "yes" }),
      ].join("\n"),
    );
    const doc = countingJob({ fieldTypes: "coerce", fields: { user: "string", ts: "int", amount: "double", vip: "bool" } });
    const c = await compileDoc(
      {
        ...doc,
        spec: {
          pipeline: {
            ...(doc as { spec: { pipeline: object } }).spec.pipeline,
            steps: [],
            sinks: [
              { id: "out", input: "events", kafka: { topic: "out" } },
              { id: "dead", input: "dead-letter", kafka: { topic: "dead" } },
            ],
          },
        },
      },
      dir,
    );
    const out = await runPipeline(c);
    expect(out.out).toEqual([{ user: "123", ts: T + 10, amount: 12.5, vip: true }]);
    expect(((out.dead ?? []) as DeadLetter[]).map((d) => d.error)).toEqual([
      'field "amount" is "twelve", not double (nor convertible to it)',
      'field "vip" is "yes", not bool (nor convertible to it)',
    ]);
  });

  it("`runnel run` finishes a manifest whose file holds garbage, and its summary counts the dead letters", async () => {
    await writeFile(join(dir, "events.ndjson"), [good("a", 0), "{oops", "null", good("a", 10)].join("\n"));
    const manifest = join(dir, "job.yaml");
    await writeFile(
      manifest,
      `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: garbage-in }
spec:
  pipeline:
    sources:
      - id: events
        kafka: { topic: events }
        timestamp: { field: ts }
        local: { file: { path: events.ndjson } }
    steps:
      - { id: big, input: events, filter: { condition: "record.amount > 1.0" } }
    sinks:
      - { id: out, input: big, kafka: { topic: out } }
`,
    );
    const io = captureOutput();
    const code = await main(["run", manifest, "--no-progress", "--out", join(dir, "out")]);
    expect(code, io.err()).toBe(0);
    expect(io.err()).toMatch(/garbage-in finished .*dead letters 2 \(events\/invalid-json 1, events\/not-an-object 1\)/);
  });
});
