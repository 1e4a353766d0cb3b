// The case systems' charts with the real helm (and the real apiserver for a server-side dry run):
// they lint strictly, render the example's StreamJob with the values applied — valid as
// `runnel validate` checks it — a topic Job that creates exactly that job's topics, and a
// generator Deployment writing where the job reads.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { checkDocument } from "../../runtime/spec/check.ts";
import { repoRoot } from "../env/lib/layout.ts";
import { uniqueName } from "../helpers/env.ts";
import { mustRun, runTool } from "../helpers/tools.ts";

type Obj = Record<string, unknown>;

/** The value at a dotted path ("spec.kafka.topic"; a number picks a list item). */
function at(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((x, k) => (x === null || typeof x !== "object" ? undefined : (x as Record<string, unknown>)[k]), o);
}
const objects = (o: unknown, path: string): Obj[] => (at(o, path) as Obj[] | undefined) ?? [];

const SYSTEMS = ["risk-control", "recommendation", "analytics"] as const;
const chart = (s: string): string => join(repoRoot, "charts", s);

/** Values every chart takes, and each one's own. */
const COMMON = [
  "--set",
  "kafka.bootstrapServers={b1:9092,b2:9092}",
  "--set",
  "kafka.topicPrefix=t1.",
  "--set",
  "kafka.partitions=6",
  "--set",
  "parallelism=3",
  "--set",
  "generator.rate=77",
  "--set",
  "watermark.idleness=45s",
];
const OWN: Record<(typeof SYSTEMS)[number], string[]> = {
  "risk-control": ["--set", "model.threshold=0.8"],
  recommendation: ["--set", "redis.address=cache:6380", "--set", "redis.keyPrefix=r1:", "--set", "recommendations.ttl=2h"],
  analytics: ["--set", "redis.address=cache:6380", "--set", "redis.keyPrefix=a1:", "--set", "dimension.cacheTtl=30s"],
};

function render(system: string, args: string[]): Obj[] {
  const out = mustRun("helm", ["template", "demo", chart(system), "--namespace", "ns1", ...args]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
}

const byKind = (docs: Obj[], kind: string): Obj => {
  const d = docs.find((x) => x.kind === kind);
  if (!d) throw new Error(`no ${kind} rendered`);
  return d;
};
const step = (job: Obj, id: string): Obj => objects(job, "spec.pipeline.steps").find((s) => s.id === id) as Obj;
const sink = (job: Obj, id: string): Obj => objects(job, "spec.pipeline.sinks").find((s) => s.id === id) as Obj;

describe("the case systems' charts (real helm)", () => {
  it.each(SYSTEMS)("%s lints with --strict", (system) => {
    expect(mustRun("helm", ["lint", chart(system), "--strict"])).toContain("1 chart(s) linted, 0 chart(s) failed");
  });

  it.each(SYSTEMS)("%s renders a valid StreamJob with the values applied, and the topic Job its manifest", async (system) => {
    const docs = render(system, [...COMMON, ...OWN[system]]);
    const job = byKind(docs, "StreamJob");
    const errors = (await checkDocument(job)).findings.filter((f) => f.severity === "error");
    expect(errors.map((f) => `${f.path}: ${f.message}`)).toEqual([]);
    expect(at(job, "metadata.name")).toBe("demo");
    expect(at(job, "spec.kafka.bootstrapServers")).toEqual(["b1:9092", "b2:9092"]);
    expect(at(job, "spec.parallelism")).toBe(3);
    expect(at(job, "spec.savepoint.storage.claimName")).toBe("demo-savepoints");
    for (const s of objects(job, "spec.pipeline.sources")) {
      expect(at(s, "kafka.topic")).toMatch(/^t1\./);
      if (s.mode === undefined) expect(at(s, "kafka.partitions")).toBe(6);
      if (s.watermark) expect(at(s, "watermark.idleness")).toBe("45s");
    }
    // An empty idleness: quiet partitions hold the watermark back.
    const waiting = byKind(render(system, [...COMMON, ...OWN[system], "--set", "watermark.idleness="]), "StreamJob");
    const watermarks = objects(waiting, "spec.pipeline.sources").filter((s) => s.watermark);
    expect(watermarks.length).toBeGreaterThan(0);
    for (const s of watermarks) expect(at(s, "watermark.idleness")).toBeUndefined();
    for (const s of objects(job, "spec.pipeline.sinks")) if (s.kafka) expect(at(s, "kafka.topic")).toMatch(/^t1\./);
    // The topic Job reads the same job from its ConfigMap.
    const config = docs.find((d) => d.kind === "ConfigMap") as Obj;
    expect(parseAllDocuments((at(config, "data") as Record<string, string>)["job.yaml"] as string)[0]?.toJS()).toEqual(job);
    const topics = byKind(docs, "Job");
    expect((at(topics, "metadata.annotations") as Obj)["helm.sh/hook"]).toBe("pre-install,pre-upgrade");
    expect(at(topics, "spec.template.spec.containers.0.args")).toEqual([
      "--job=/config/job.yaml",
      "--kafka=b1:9092,b2:9092",
      "--partitions=6",
      "--replication-factor=1",
    ]);
    const generator = at(byKind(docs, "Deployment"), "spec.template.spec.containers.0") as Obj;
    expect(generator.command).toEqual(["/usr/local/bin/node", `/app/examples/${system}/generator.ts`]);
    expect(generator.args).toEqual(
      expect.arrayContaining(["--kafka=b1:9092,b2:9092", "--topic-prefix=t1.", "--partitions=6", "--rate=77", "--realtime", "--count=0"]),
    );
  });

  it("risk-control: the threshold value sets the model's threshold", () => {
    const job = byKind(render("risk-control", OWN["risk-control"]), "StreamJob");
    expect(at(step(job, "scored"), "score.threshold")).toEqual({ value: 0.8, field: "decision", above: "BLOCK", below: "ALLOW" });
  });

  it("recommendation: Redis address, key prefix and expiry of the ranked lists", () => {
    const job = byKind(render("recommendation", OWN.recommendation), "StreamJob");
    expect(at(sink(job, "redis-recs"), "redis")).toMatchObject({ address: "cache:6380", keyPrefix: "r1:recs:", ttl: "2h" });
  });

  it("analytics: Redis of the dimension lookup and the profiles, the lookup cache's TTL; the generator writes the dimension there", () => {
    const docs = render("analytics", OWN.analytics);
    const job = byKind(docs, "StreamJob");
    expect(at(step(job, "features"), "lookupJoin.redis")).toMatchObject({ address: "cache:6380", keyPrefix: "a1:user:", cache: { ttl: "30s" } });
    expect(at(sink(job, "profiles"), "redis")).toMatchObject({ address: "cache:6380", keyPrefix: "a1:profile:" });
    expect(at(byKind(docs, "Deployment"), "spec.template.spec.containers.0.args")).toEqual(
      expect.arrayContaining(["--redis=cache:6380", "--redis-prefix=a1:"]),
    );
  });

  it.each(SYSTEMS)("%s without the generator and the topic Job renders the StreamJob alone", (system) => {
    const docs = render(system, ["--set", "generator.enabled=false", "--set", "topics.create=false"]);
    expect(docs.map((d) => d.kind)).toEqual(["StreamJob"]);
  });

  describe("against the apiserver", () => {
    const namespace = uniqueName("charts");
    beforeAll(() => {
      mustRun("kubectl", ["create", "namespace", namespace]);
    });
    afterAll(() => {
      runTool("kubectl", ["delete", "namespace", namespace, "--wait=false"]);
    });

    // The StreamJob needs the CRDs (the operator's chart installs them); the rest are built-in kinds.
    it.each(SYSTEMS)("%s: the Deployment, ConfigMap and Job pass a server-side dry run", (system) => {
      const docs = render(system, COMMON).filter((d) => d.kind !== "StreamJob");
      const input = docs.map((d) => JSON.stringify({ ...d, metadata: { ...(d.metadata as Obj), namespace } })).join("\n");
      const out = mustRun("kubectl", ["apply", "--dry-run=server", "-f", "-"], { input });
      expect(out.trim().split("\n")).toHaveLength(3);
    });
  });
});

describe("each chart's job is the example's", () => {
  it.each(SYSTEMS)("%s: files/job.yaml equals the example's job.yaml", (system) => {
    expect(readFileSync(join(chart(system), "files", "job.yaml"), "utf8")).toBe(readFileSync(join(repoRoot, "examples", system, "job.yaml"), "utf8"));
  });
});
