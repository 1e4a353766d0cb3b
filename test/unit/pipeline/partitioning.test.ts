/**
 * Which keyed steps need a repartition topic on a cluster: a keyed step whose input is already
 * in its key's task (after a colocated keyBy, after another keyed step, through steps that carry
 * the key, through a union of such streams) keys in place; a keyBy on a new key does not.
 */
import { describe, expect, it } from "vitest";
import { compilePipeline } from "../../../runtime/pipeline/compile.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";
import { parseStreamJob } from "../../../runtime/spec/validate.ts";

/** The hash edges of the compiled job, as `target uid: colocated | repartition`. */
function hashEdges(steps: string): Record<string, string> {
  const job = parseStreamJob(
    parseManifests(`apiVersion: runnel.dev/v1alpha1
kind: StreamJob
metadata: { name: parts }
spec:
  parallelism: 2
  pipeline:
    sources:
      - { id: orders, kafka: { topic: orders, partitionedBy: userId }, timestamp: { field: ts } }
      - { id: logins, kafka: { topic: logins, partitionedBy: userId }, timestamp: { field: ts } }
    steps:
${steps}
    sinks:
      - { id: out, input: last, kafka: { topic: out } }
`)[0],
  ).value;
  const c = compilePipeline(job, {
    mode: "cluster",
    baseDir: ".",
    sourceOverride: () => ({ name: "none", partitions: 2, open: () => Promise.reject(new Error("not run")) }),
  });
  const g = c.graph;
  return Object.fromEntries(
    g.edges.filter((e) => e.partitioning === "hash").map((e) => [g.nodes[e.to]?.uid ?? "?", e.colocated === true ? "colocated" : "repartition"]),
  );
}

describe("partitioning of keyed steps", () => {
  it("keeps a chain of keyed steps on the topic's key in place, through projects and a union", () => {
    const edges = hashEdges(`      - { id: o-by-user, input: orders, keyBy: { key: record.userId } }
      - { id: l-by-user, input: logins, keyBy: { key: record.userId } }
      - { id: o-norm, input: o-by-user, project: { fields: { kind: "'order'", ts: record.ts } } }
      - { id: l-norm, input: l-by-user, project: { fields: { kind: "'login'", ts: record.ts } } }
      - { id: merged, inputs: [o-norm, l-norm], union: {} }
      - id: counts
        input: merged
        window: { type: tumbling, size: 1m, aggregations: [{ name: n, fn: count }] }
      - id: scored
        input: counts
        score: { features: [{ name: n, expression: double(record.n), weight: 1.0 }] }
      - id: last
        input: scored
        process: { onRecord: [{ emit: { n: record.n } }] }
`);
    expect(edges).toEqual({ counts: "colocated", last: "colocated" });
  });

  it("repartitions for a key the input is not partitioned by, and after a union with such a stream", () => {
    const edges = hashEdges(`      - { id: by-item, input: orders, keyBy: { key: record.itemId } }
      - { id: o-by-user, input: orders, keyBy: { key: record.userId } }
      - { id: per-item, input: by-item, window: { type: tumbling, size: 1m, aggregations: [{ name: n, fn: count }] } }
      - { id: merged, inputs: [o-by-user, by-item], union: {} }
      - id: last
        input: merged
        window: { type: tumbling, size: 1m, aggregations: [{ name: n, fn: count }] }
`);
    expect(edges).toEqual({ "per-item": "repartition", last: "repartition" });
  });
});
