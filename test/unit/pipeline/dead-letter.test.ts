/** Dead letters: invalid records are routed with their reason and counted; valid ones pass unchanged. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { manifestGenerator } from "../../../runtime/pipeline/generator.ts";
import { DEFAULT_START_TIME } from "../../../runtime/pipeline/sources.ts";
import { plain } from "../../../runtime/pipeline/values.ts";
import { parseManifests } from "../../../runtime/spec/manifest.ts";
import type { GeneratorSource, Source, Step } from "../../../runtime/spec/generated/types.ts";
import { anyNumber, compileDoc, matching, runPipeline, sortedLines, streamJob } from "./helpers.ts";

const riskFile = join(dirname(fileURLToPath(import.meta.url)), "../../fixtures/streamjobs/risk.yaml");
const risk = parseManifests(readFileSync(riskFile, "utf8"))[0] as { spec: { pipeline: { sources: Source[]; steps: Step[] } } };
const orders = risk.spec.pipeline.sources.find((s) => s.id === "orders") as Source;
const clean = risk.spec.pipeline.steps.find((s) => s.id === "clean-orders") as Step;
const N = 3000;

type Order = { orderId: string; userId: string; amount: number; lat: number; lon: number; createdAt: number };

/** The reason the risk manifest's rules give a record, in rule order, or undefined when valid. */
function reasonOf(o: Order): string | undefined {
  if (!/^u[0-9]+$/.test(o.userId)) return "bad_id";
  if (!(o.amount > 0)) return "non_positive_amount";
  if (!(o.lat >= -90 && o.lat <= 90 && o.lon >= -180 && o.lon <= 180)) return "invalid_coordinates";
  return undefined;
}

async function input(): Promise<Order[]> {
  const src = manifestGenerator(orders.local?.generator as GeneratorSource, { startTime: DEFAULT_START_TIME, throttle: false, maxRecords: N });
  const out: Order[] = [];
  for (let p = 0; p < src.partitions; p++) out.push(...((await (await src.open(p)).read(1e9)).records as Order[]));
  return out;
}

describe("dead letters", () => {
  it("the risk manifest's cleaning sends each malformed order to the dead-letter stream with its reason, counted", async () => {
    const doc = streamJob("cleaning", {
      sources: [{ ...orders, local: { generator: { ...orders.local?.generator, count: N } } }],
      steps: [clean],
      sinks: [
        { id: "valid", input: "clean-orders", kafka: { topic: "valid" } },
        { id: "dead", input: "dead-letter", kafka: { topic: "dead" } },
      ],
    });
    const c = await compileDoc(doc);
    const out = await runPipeline(c);
    const records = await input();
    const expected = new Map<string, number>();
    for (const r of records) {
      const reason = reasonOf(r);
      if (reason) expected.set(reason, (expected.get(reason) ?? 0) + 1);
    }
    expect(expected.get("non_positive_amount")).toBeGreaterThan(0);
    expect(expected.get("invalid_coordinates")).toBeGreaterThan(0);
    const dead = (out.dead ?? []) as { step: string; reason: string; record: Order }[];
    expect(new Map(Object.entries(c.metrics.deadLetters).map(([k, v]) => [k.replace("clean-orders/", ""), v]))).toEqual(expected);
    expect(dead.length).toBe([...expected.values()].reduce((a, b) => a + b, 0));
    for (const d of dead) expect(d.reason).toBe(reasonOf(d.record));
    expect(dead.every((d) => d.step === "clean-orders")).toBe(true);
    // The valid records pass through untouched.
    expect(sortedLines(out.valid ?? [])).toEqual(sortedLines(records.filter((r) => reasonOf(r) === undefined)));
  });

  it("expression errors follow onError: dead-letter (with the error), skip (counted) or fail", async () => {
    const source = {
      id: "in",
      kafka: { topic: "in" },
      local: { generator: { count: 100, seed: 1, partitions: 1, fields: { n: { kind: "int", min: 0, max: 9 } } } },
    };
    // 10 / (n - 5) is a division by zero (an error) exactly when n == 5; int() makes it integer arithmetic.
    const step = (onError: string) => ({ id: "div", input: "in", onError, project: { fields: { q: "10 / (int(record.n) - 5)" } } });
    const count5 = (
      await runPipeline(
        await compileDoc(
          streamJob("ones", {
            sources: [source],
            steps: [{ id: "fives", input: "in", filter: { condition: "record.n == 5.0" } }],
            sinks: [{ id: "out", input: "fives", stdout: {} }],
          }),
          ".",
        ),
      )
    ).out?.length;
    expect(count5).toBeGreaterThan(0);

    const dl = await compileDoc(
      streamJob("dl", {
        sources: [source],
        steps: [step("dead-letter")],
        sinks: [
          { id: "out", input: "div", kafka: { topic: "o" } },
          { id: "dead", input: "dead-letter", kafka: { topic: "d" } },
        ],
      }),
    );
    const a = await runPipeline(dl);
    expect(a.out?.length).toBe(100 - (count5 as number));
    expect(a.dead?.length).toBe(count5);
    expect(a.dead?.[0]).toMatchObject({ step: "div", reason: "expression-error", error: matching(/division by zero/i), record: { n: 5 } });
    expect(dl.metrics.deadLetters).toEqual({ "div/expression-error": count5 });

    const skip = await compileDoc(streamJob("skip", { sources: [source], steps: [step("skip")], sinks: [{ id: "out", input: "div", kafka: { topic: "o" } }] }));
    expect((await runPipeline(skip)).out?.length).toBe(100 - (count5 as number));
    expect(skip.metrics.dropped).toEqual({ "div/expression-error": count5 });

    const fail = await compileDoc(streamJob("fail", { sources: [source], steps: [step("fail")], sinks: [{ id: "out", input: "div", kafka: { topic: "o" } }] }));
    await expect(runPipeline(fail)).rejects.toThrow(/operator 'div'/);
  });

  it("filters send rejected records to the dead-letter stream, a side output, or drop them (counted)", async () => {
    const source = {
      id: "in",
      kafka: { topic: "in" },
      local: { generator: { count: 50, seed: 2, partitions: 2, fields: { n: { kind: "int", min: 0, max: 9 } } } },
    };
    const doc = streamJob("filters", {
      sources: [source],
      steps: [
        { id: "small", input: "in", filter: { condition: "record.n < 5.0", onReject: "dead-letter", reason: "too_big" } },
        { id: "even", input: "small", filter: { condition: "int(record.n) % 2 == 0", onReject: "side-output" } },
        { id: "routed", input: "even", route: { routes: [{ name: "zero", condition: "record.n == 0.0" }], otherwise: "main" } },
      ],
      sinks: [
        { id: "main", input: "routed", kafka: { topic: "m" } },
        { id: "zero", input: "routed.zero", kafka: { topic: "z" } },
        { id: "odd", input: "even.rejected", kafka: { topic: "o" } },
        { id: "dead", input: "dead-letter", kafka: { topic: "d" } },
      ],
    });
    const c = await compileDoc(doc);
    const out = await runPipeline(c);
    const all = [...(out.main ?? []), ...(out.zero ?? []), ...(out.odd ?? []), ...((out.dead ?? []) as { record: unknown }[]).map((d) => d.record)];
    expect(all).toHaveLength(50);
    expect((out.dead as { reason: string; record: { n: number } }[]).every((d) => d.reason === "too_big" && d.record.n >= 5)).toBe(true);
    expect((out.odd as { n: number }[]).every((r) => r.n % 2 === 1 && r.n < 5)).toBe(true);
    expect((out.zero as { n: number }[]).every((r) => r.n === 0)).toBe(true);
    expect((out.main as { n: number }[]).every((r) => r.n === 2 || r.n === 4)).toBe(true);
    expect(c.metrics.deadLetters["small/too_big"]).toBe(out.dead?.length);
    expect(plain(out.main?.[0])).toEqual({ n: anyNumber });
  });
});
