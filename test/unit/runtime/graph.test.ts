/** The job graph: stable uids, validation, the plain description. */
import { describe, expect, it } from "vitest";
import { collectSink, collectionSource, count, job, tumbling } from "../../../runtime/api/index.ts";
import { describeGraph } from "../../../runtime/graph/graph.ts";
import { JobDefinitionError } from "../../../runtime/errors.ts";
import { taskOfKey, murmur2 } from "../../../runtime/exec/hash.ts";

function build(extraBranch: boolean) {
  const j = job("uids");
  const src = j.source(collectionSource<number>({ partitions: [[1]] }), { uid: "numbers" });
  const doubled = src.map((x) => x * 2);
  if (extraBranch) src.filter((x) => x > 0).sink(collectSink());
  doubled
    .keyBy((x) => x % 2)
    .window(tumbling({ sizeMs: 10 }))
    .aggregate(count())
    .uid("counts")
    .sink(collectSink());
  return j.build();
}

describe("job graph", () => {
  it("derives uids deterministically and keeps them when an unrelated branch is added", () => {
    const a = build(false);
    const b = build(false);
    const c = build(true);
    expect(a.nodes.map((n) => n.uid)).toEqual(b.nodes.map((n) => n.uid));
    const uidsOf = (g: typeof a) => new Set(g.nodes.map((n) => n.uid));
    for (const uid of uidsOf(a)) expect(uidsOf(c).has(uid)).toBe(true);
    expect(a.nodes[0]?.uid).toBe("numbers");
    expect(a.nodes.find((n) => n.spec.kind === "window")?.uid).toBe("counts");
    expect(a.nodes[1]?.uid).toMatch(/^map-[0-9a-f]{8}$/);
  });

  it("describes itself as plain data", () => {
    const d = describeGraph(build(false)) as { nodes: { kind: string }[]; edges: { partitioning: string }[] };
    expect(d.nodes.map((n) => n.kind)).toEqual(["source", "map", "window", "sink"]);
    expect(d.edges.map((e) => e.partitioning)).toEqual(["forward", "hash", "forward"]);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it("rejects duplicate uids, jobs without sinks, bad names and unbounded global windows", () => {
    const dup = job("dup");
    dup
      .source(collectionSource({ partitions: [[1]] }), { uid: "x" })
      .map((v) => v, { uid: "x" })
      .sink(collectSink());
    expect(() => dup.build()).toThrow(JobDefinitionError);
    const noSink = job("nosink");
    noSink.source(collectionSource({ partitions: [[1]] }));
    expect(() => noSink.build()).toThrow(/no sink/);
    expect(() => job("Bad_Name")).toThrow(/lowercase/);
    const g = job("global");
    expect(() =>
      g
        .source(collectionSource<number>({ partitions: [[1]] }))
        .keyBy((x) => x)
        .window({ kind: "global" })
        .aggregate(count()),
    ).toThrow(/count trigger/);
  });

  it("routes keys like Kafka's default partitioner (murmur2)", () => {
    // Reference values of org.apache.kafka.common.utils.Utils.murmur2 on UTF-8 bytes.
    expect(murmur2("21")).toBe(-973932308);
    expect(murmur2("foobar")).toBe(-790332482);
    expect(murmur2("a-little-bit-long-string")).toBe(-985981536);
    expect(murmur2("a-little-bit-longer-string")).toBe(-1486304829);
    expect(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")).toBe(-58897971);
    expect(murmur2("abc")).toBe(479470107);
    expect(taskOfKey("abc", 1)).toBe(0);
    expect(taskOfKey(21, 7)).toBe(taskOfKey("21", 7));
  });
});

describe("integer key routing", () => {
  it("hashes integers exactly like their decimal strings", () => {
    for (const n of [0, 7, 10, 123456789, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 3]) {
      for (const p of [2, 3, 12]) expect(taskOfKey(n, p)).toBe(taskOfKey(String(n), p));
    }
  });

  it("stays exact when remembered hashes are evicted by keys sharing their slot, and when asked again", () => {
    // Keys 4,096 apart share a slot of the integer-hash cache; each is asked twice in a row and again later.
    const keys = [5, 4101, 8197, 5, 2 ** 31 + 5, 4101, 123 * 4096 + 5];
    for (let round = 0; round < 2; round++) {
      for (const n of keys) for (const p of [2, 7, 12]) expect(taskOfKey(n, p)).toBe(taskOfKey(String(n), p));
    }
    for (let n = 0; n < 20_000; n += 3) expect(taskOfKey(n, 12)).toBe(taskOfKey(String(n), 12));
  });
});
