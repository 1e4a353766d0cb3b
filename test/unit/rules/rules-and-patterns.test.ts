/**
 * The risk system's run-time rules and CEP together: a rule added at run time changes decisions
 * for later events only, and after kill -9 a restore keeps both the rules (broadcast state) and
 * the partial matches (CEP state), so the output equals an uninterrupted run's.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectSink, job, queueSource, type KeyedBroadcastProcessFunction } from "../../../runtime/api/index.ts";
import { createEngine } from "../../../runtime/exec/engine.ts";
import { committedLines, runThenKill } from "../../helpers/local-run.ts";
import riskRulesJob, { ALLOWLISTED, BATCH } from "./fixtures/risk-rules-job.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "runnel-rules-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Order = { user: string; amount: number; id: string };
type Limit = { maxAmount: number };

describe("dynamic rules", () => {
  it("applies a rule added at run time to the events after it, never to earlier ones", async () => {
    const orders = queueSource<Order>({ partitions: 2 });
    const limits = queueSource<Limit>({ partitions: 1 });
    const out = collectSink<string>();
    const j = job("limits", { parallelism: 2 });
    const o = j.source(orders, { watermarks: { timestamp: () => 0 } });
    const l = j.source(limits, { watermarks: { timestamp: () => 0 } });
    o.keyBy((x) => x.user)
      .connect(l.broadcast())
      .process(
        (): KeyedBroadcastProcessFunction<string, Order, Limit, string> => ({
          processElement(x, ctx, c) {
            const max = ctx.broadcastState<number>("limit").get("max");
            c.collect(`${x.id} ${max !== undefined && x.amount > max ? "BLOCK" : "ALLOW"}`);
          },
          processBroadcastElement(rule, ctx) {
            ctx.broadcastState<number>("limit").set("max", rule.maxAmount);
          },
        }),
        { uid: "limit" },
      )
      .sink(out);
    const engine = createEngine({ graph: j.build(), idleSleepMs: 0 });
    await engine.open();
    orders.push(0, { user: "a", amount: 500, id: "o1" });
    orders.push(1, { user: "b", amount: 900, id: "o2" });
    await engine.round();
    limits.push(0, { maxAmount: 100 });
    await engine.round();
    orders.push(0, { user: "a", amount: 500, id: "o3" });
    orders.push(1, { user: "c", amount: 50, id: "o4" });
    await engine.round();
    limits.push(0, { maxAmount: 1000 }); // a changed rule: applies from here on, on every task
    await engine.round();
    orders.push(1, { user: "b", amount: 900, id: "o5" });
    await engine.round();
    await engine.close();
    expect(out.values().sort()).toEqual(["o1 ALLOW", "o2 ALLOW", "o3 BLOCK", "o4 ALLOW", "o5 ALLOW"]);
  });

  it("keeps rules and CEP partial matches through kill -9: restored output equals an uninterrupted run", async () => {
    const reference = join(dir, "reference");
    await createEngine({ graph: riskRulesJob([reference, "fast"]).build(), idleSleepMs: 0, batchSize: BATCH }).run();
    const expected = await committedLines(reference);
    // The test means something only if the pattern fires and the rules suppress some alerts.
    const unfiltered = join(dir, "unfiltered");
    await createEngine({ graph: riskRulesJob([unfiltered, "fast", "no-rules"]).build(), idleSleepMs: 0, batchSize: BATCH }).run();
    const all = await committedLines(unfiltered);
    expect(expected.length).toBeGreaterThan(20);
    expect(all.filter((l) => ALLOWLISTED.some((u) => l.startsWith(`ALERT ${u} `))).length).toBeGreaterThan(0);
    expect(expected.some((l) => ALLOWLISTED.some((u) => l.startsWith(`ALERT ${u} `)))).toBe(false);

    const out = join(dir, "out");
    const ckpt = join(dir, "ckpt");
    const state = join(dir, "state");
    await runThenKill({
      module: join(import.meta.dirname, "fixtures", "risk-rules-job.ts"),
      checkpointDir: ckpt,
      runArgs: ["--state", "level", "--state-dir", state, "--checkpoint-interval", "150", "--batch-size", String(BATCH)],
      jobArgs: [out, "throttle"],
    });
    const partial = await committedLines(out);
    expect(partial.length).toBeLessThan(expected.length);
    await createEngine({
      graph: riskRulesJob([out, "fast"]).build(),
      idleSleepMs: 0,
      batchSize: BATCH,
      state: { kind: "level", dir: state },
      checkpoint: { dir: ckpt },
      restoreFrom: "latest",
    }).run();
    expect(await committedLines(out)).toEqual(expected);
  });
});
