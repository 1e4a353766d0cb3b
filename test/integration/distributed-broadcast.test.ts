// Broadcast rules on a cluster (real broker): two workers in one process share a job whose rules
// come from a 3-partition topic. Every task of both workers sees every rule — read in full by each
// worker, whatever the partitions — and a rule added while the job runs applies to later records.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorker } from "../../runtime/distributed/worker.ts";
import { createLogger } from "../../runtime/log.ts";
import { operatorCounts } from "../../runtime/observe/engine-metrics.ts";
import { consumeAll, createTopics, inputProducer, kafkaAdminHooks } from "../helpers/kafka.ts";
import { rulesPipeline, testJobName, writeJobManifest } from "../helpers/distributed.ts";
import { waitFor } from "../helpers/wait.ts";

describe("distributed workers: broadcast rules (real broker)", () => {
  const k = kafkaAdminHooks();

  it("applies every rule in every task of every worker, and rules added at run time", async () => {
    const { kafka, admin } = k;
    const name = testJobName("bc");
    const [input, rules, output] = [`${name}-in`, `${name}-rules`, `${name}-out`];
    await createTopics(admin, [input, output], 4);
    await createTopics(admin, [rules], 3);
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 4,
      pipeline: rulesPipeline({ orders: input, partitions: 4, rules, output }),
    });
    const producer = inputProducer(kafka);
    await producer.connect();
    // One rule per partition of the rules topic: each worker must read all three.
    await producer.send({
      topic: rules,
      messages: [
        { partition: 0, value: JSON.stringify({ id: "big", condition: "record.amount > 1000.0" }) },
        { partition: 1, value: JSON.stringify({ id: "zero", condition: "record.amount == 0.0" }) },
        { partition: 2, value: JSON.stringify({ id: "neg", condition: "record.amount < 0.0" }) },
      ],
    });
    const orders = (from: number, amounts: number[]) =>
      amounts.map((amount, i) => ({ partition: (from + i) % 4, value: JSON.stringify({ seq: from + i, user: `u${from + i}`, amount }) }));
    const workers = await Promise.all(
      [0, 1].map((ordinal) => createWorker({ manifest, ordinal, workers: 2, namespace: "test", stateDir: join(dir, `w${ordinal}`) })),
    );
    const runs = workers.map((w) => w.run());
    /** Records each owned task's rules step received (rules and orders), over both workers. */
    const received = (): number[] =>
      workers.flatMap((w) =>
        operatorCounts(w.engine.state)
          .filter((c) => c.operator === "decisions")
          .map((c) => c.recordsIn),
      );
    try {
      // Rules are read from the start of their topic: wait until every task of both workers has all three.
      await waitFor("every task to receive the three rules", () => received().length === 4 && received().every((n) => n >= 3), { timeoutMs: 120_000 });
      await producer.send({ topic: input, messages: orders(0, [5000, 0, -1, 10, 2000, 0, -5, 20]) });
      const first = await consumeAll(kafka, output, { count: 8, idleMs: 15_000 });
      const ruleOf = (got: typeof first) =>
        new Map(got.map((m) => JSON.parse(String(m.message.value)) as { seq: number; rule?: string }).map((r) => [r.seq, r.rule ?? "none"]));
      expect(Object.fromEntries(ruleOf(first))).toEqual({ 0: "big", 1: "zero", 2: "neg", 3: "none", 4: "big", 5: "zero", 6: "neg", 7: "none" });
      // Every order has passed the rules step: counted before the rule is sent (a task may take it at
      // once), each task's count then grows by the new rule.
      const before = received();
      await producer.send({
        topic: rules,
        messages: [{ partition: 1, value: JSON.stringify({ id: "small", condition: "record.amount > 0.0 && record.amount < 100.0" }) }],
      });
      await waitFor("every task to receive the rule added at run time", () => received().every((n, i) => n > (before[i] as number)), { timeoutMs: 120_000 });
      await producer.send({ topic: input, messages: orders(8, [10, 20, 30, 40]) });
      const all = ruleOf(await consumeAll(kafka, output, { count: 12, idleMs: 15_000 }));
      expect([8, 9, 10, 11].map((s) => all.get(s))).toEqual(["small", "small", "small", "small"]);
    } finally {
      await producer.disconnect();
      for (const w of workers) w.stop();
      await Promise.all(runs);
    }
  });

  it("keeps its rules through a restart: they come back with the checkpoint, not by reading the rules again", async () => {
    const { kafka, admin } = k;
    const name = testJobName("bcr");
    const [input, rules, output] = [`${name}-in`, `${name}-rules`, `${name}-out`];
    await createTopics(admin, [input, output], 2);
    await createTopics(admin, [rules], 1);
    const { dir, manifest } = writeJobManifest(name, {
      parallelism: 2,
      pipeline: `    sources:
      - id: orders
        kafka: { topic: ${input}, partitions: 2 }
      - id: rules
        mode: broadcast
        kafka: { topic: ${rules} }
    steps:
      - { id: by-user, input: orders, keyBy: { key: record.user } }
      - id: decisions
        input: by-user
        broadcastRules: { rules: rules, conditionField: condition, unmatched: pass, emit: { seq: record.seq, rule: rule.id } }
    sinks:
      - { id: out, input: decisions, kafka: { topic: ${output} } }
`,
    });
    const producer = inputProducer(kafka);
    await producer.connect();
    const lines: string[] = [];
    const log = createLogger("worker", {}, { format: "json", write: (l) => lines.push(l) });
    const start = () => createWorker({ manifest, ordinal: 0, workers: 1, namespace: "test", stateDir: join(dir, "w0"), log });
    const order = (seq: number) => ({ partition: seq % 2, value: JSON.stringify({ seq, user: `u${seq}`, amount: 5000 }) });
    const ruleOf = async (count: number) =>
      new Map(
        (await consumeAll(kafka, output, { count, idleMs: 15_000 }))
          .map((m) => JSON.parse(String(m.message.value)) as { seq: number; rule?: string })
          .map((r) => [r.seq, r.rule ?? "none"]),
      );
    try {
      await producer.send({ topic: rules, messages: [{ value: JSON.stringify({ id: "big", condition: "record.amount > 1000.0" }) }] });
      let worker = await start();
      let run = worker.run();
      const deadline = Date.now() + 60_000;
      while (!lines.some((l) => l.includes("rule big set"))) {
        if (Date.now() > deadline) throw new Error(`the rule was not applied:\n${lines.slice(-5).join("\n")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Once this order's decision is visible, a checkpoint holding the rule has committed.
      await producer.send({ topic: input, messages: [order(0)] });
      expect((await ruleOf(1)).get(0)).toBe("big");
      worker.stop();
      await run;
      // The restarted worker resumes the rules topic after the rule: only its checkpoint has it.
      worker = await start();
      run = worker.run();
      await producer.send({ topic: input, messages: [order(1), order(2)] });
      const after = await ruleOf(3);
      worker.stop();
      await run;
      expect([after.get(1), after.get(2)]).toEqual(["big", "big"]);
    } finally {
      await producer.disconnect();
    }
  });
});
