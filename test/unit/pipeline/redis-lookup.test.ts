/**
 * The Redis lookup join in local mode, with `local.file` standing in for Redis: keyed and unkeyed
 * inputs, left and inner joins, select, and the key errors that go to the dead-letter stream.
 * (Against the real Redis: test/integration/redis-connectors.test.ts.)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { compilePipeline } from "../../../runtime/pipeline/compile.ts";
import { plain } from "../../../runtime/pipeline/values.ts";
import { parseStreamJob } from "../../../runtime/spec/validate.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";

function manifest(steps: string, partitions = 2): string {
  return `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: lookup }
spec:
  parallelism: ${partitions}
  pipeline:
    sources:
      - id: views
        kafka: { topic: views }
        timestamp: { field: ts }
        local: { file: { path: views.ndjson } }
    steps:
${steps}
    sinks:
      - { id: out, input: joined, kafka: { topic: out } }
      - { id: dead, input: dead-letter, kafka: { topic: dead } }
`;
}

async function run(steps: string): Promise<{ out: Record<string, unknown>[]; dead: Record<string, unknown>[] }> {
  const dir = mkdtempSync(join(tmpdir(), "runnel-lookup-"));
  writeFileSync(join(dir, "users.ndjson"), ['{"key": "u1", "ageGroup": "18-24"}', '{"key": "u2", "ageGroup": "45+"}'].join("\n"));
  const views = [{ userId: "u1", ts: 1 }, { userId: "u2", ts: 2 }, { userId: "u3", ts: 3 }, { userId: "u1", ts: 4 }, { ts: 5 }];
  writeFileSync(join(dir, "views.ndjson"), views.map((v) => JSON.stringify(v)).join("\n"));
  const job = parseStreamJob(parseManifests(manifest(steps))[0]).value;
  const c = compilePipeline(job, { mode: "local", baseDir: dir, sinkOverride: "collect" });
  await createEngine({ graph: c.graph, idleSleepMs: 0, batchSize: 2 }).run();
  const values = (id: string) => (c.collected.get(id)?.values() ?? []).map((v) => plain(v) as Record<string, unknown>);
  return { out: values("out"), dead: values("dead") };
}

const redis = `redis: { address: "redis:6379", keyPrefix: "user:", local: { file: { path: users.ndjson } }, cache: { maxEntries: 1, ttl: 1m } }`;

describe("lookupJoin against Redis hashes (local file)", () => {
  it("left-joins a keyed stream, with select", async () => {
    const { out, dead } = await run(`      - { id: by-user, input: views, keyBy: { key: record.userId } }
      - id: joined
        input: by-user
        lookupJoin:
          ${redis}
          key: record.userId
          select: { userId: record.userId, ts: record.ts, ageGroup: "row == null ? 'unknown' : row.ageGroup" }
`);
    expect(out.sort((a, b) => (a.ts as number) - (b.ts as number))).toEqual([
      { userId: "u1", ts: 1, ageGroup: "18-24" },
      { userId: "u2", ts: 2, ageGroup: "45+" },
      { userId: "u3", ts: 3, ageGroup: "unknown" },
      { userId: "u1", ts: 4, ageGroup: "18-24" },
    ]);
    // The record without a userId fails at the keyBy before it.
    expect(dead).toMatchObject([{ step: "by-user", reason: "expression-error", record: { ts: 5 } }]);
  });

  it("inner-joins an unkeyed stream (keyed by the lookup key), putting the row under `as`", async () => {
    const { out, dead } = await run(`      - id: joined
        input: views
        lookupJoin:
          ${redis}
          key: record.userId
          type: inner
          as: user
`);
    expect(out.map((r) => [r.userId, (r.user as { ageGroup: string }).ageGroup]).sort()).toEqual([
      ["u1", "18-24"],
      ["u1", "18-24"],
      ["u2", "45+"],
    ]);
    // The record without a userId has no lookup key: it goes to the dead-letter stream with the reason.
    expect(dead).toMatchObject([{ step: "joined", reason: "expression-error", record: { ts: 5 } }]);
  });
});
