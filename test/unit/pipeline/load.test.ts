/** loadManifestJob: validation first, local-mode errors with field paths, stable uids, sink mapping. */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { describeGraph } from "../../../runtime/graph/graph.ts";
import { PipelineError } from "../../../runtime/pipeline/errors.ts";
import { loadManifestJob } from "../../../runtime/pipeline/load.ts";
import { ManifestInvalidError } from "../../../runtime/pipeline/errors.ts";
import { anyNumber, anyString, matching, runGraph } from "./helpers.ts";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "../../fixtures/streamjobs");

describe("loadManifestJob", () => {
  it("refuses a Kafka source without a local section, naming the field to add", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runnel-pipeline-"));
    const manifest = join(dir, "no-local.yaml");
    await writeFile(
      manifest,
      `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: no-local }
spec:
  pipeline:
    sources:
      - id: orders
        kafka: { topic: orders }
        local: { generator: { count: 5, fields: { id: { kind: sequence } } } }
      - id: devices
        kafka: { topic: device-fingerprints }
    steps:
      - { id: all, inputs: [orders, devices], union: {} }
    sinks:
      - { id: out, input: all, stdout: {} }
`,
    );
    const err = await loadManifestJob(manifest).catch((e: unknown) => e);
    await rm(dir, { recursive: true, force: true });
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).path).toBe(".spec.pipeline.sources[1].local");
    expect((err as Error).message).toMatch(/source "devices" reads Kafka topic "device-fingerprints" and has no local replacement/);
    expect((err as PipelineError).hint).toMatch(/local: \{ generator/);
  });

  it("refuses an invalid manifest with the findings runnel validate prints", async () => {
    const err = await loadManifestJob(join(fixtures, "invalid/slide-exceeds-size.yaml")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestInvalidError);
    expect((err as ManifestInvalidError).findings[0]?.path).toMatch(/^\.spec\.pipeline\.steps\[\d+\]\.window\.slide$/);
    expect((err as Error).message).toMatch(/slide must not exceed size/);
  });

  it("gives stateful operators the step ids as uids (savepoints map state by step id)", async () => {
    const c = await loadManifestJob(join(fixtures, "analytics.yaml"), { sinkOverride: "collect", maxRecordsPerSource: 10 });
    const uids = (describeGraph(c.graph) as { nodes: { uid: string; kind: string }[] }).nodes;
    const byUid = new Map(uids.map((n) => [n.uid, n.kind]));
    expect(byUid.get("behaviour")).toBe("source");
    expect(byUid.get("per-minute")).toBe("window");
    expect(byUid.get("sessions")).toBe("window");
    expect(byUid.get("hourly-features")).toBe("over");
    expect(byUid.get("profile")).toBe("keyedProcess");
    expect(byUid.get("minute-metrics")).toBe("sink");
    expect(byUid.get("dead-letter")).toBe("union");
  });

  it("writes Kafka and Redis sinks as ndjson, one folder per sink id, with --out", async () => {
    const dir = await mkdtemp(join(tmpdir(), "runnel-pipeline-"));
    try {
      const manifest = `apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: out-dir }
spec:
  pipeline:
    sources:
      - id: in
        kafka: { topic: in }
        local: { generator: { count: 20, partitions: 2, fields: { id: { kind: sequence }, user: { kind: key, prefix: u, cardinality: 3 } } } }
    steps:
      - { id: by-user, input: in, keyBy: { key: record.user } }
    sinks:
      - { id: events, input: by-user, kafka: { topic: out, key: key } }
      - id: last
        input: by-user
        redis: { address: "redis:6379", hash: { key: "'last:' + key", fields: { id: string(record.id) } }, ttl: 1h }
`;
      await writeFile(join(dir, "job.yaml"), manifest);
      const c = await loadManifestJob(join(dir, "job.yaml"), { outDir: join(dir, "out") });
      await runGraph(c.graph);
      const read = async (id: string): Promise<unknown[]> => {
        const files = (await readdir(join(dir, "out", id))).filter((f) => f.endsWith(".ndjson"));
        const text = (await Promise.all(files.map((f) => readFile(join(dir, "out", id, f), "utf8")))).join("");
        return text
          .split("\n")
          .filter((l) => l.length > 0)
          .map((l) => JSON.parse(l) as unknown);
      };
      const events = await read("events");
      expect(events).toHaveLength(20);
      expect(events[0]).toEqual({ id: anyNumber, user: matching(/^u[0-2]$/) });
      const last = await read("last");
      expect(last).toHaveLength(20);
      expect(last[0]).toEqual({ op: "hset", key: matching(/^last:u[0-2]$/), fields: { id: anyString }, ttlMs: 3_600_000 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
