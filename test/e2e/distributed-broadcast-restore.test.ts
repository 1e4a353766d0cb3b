// Broadcast state through restarts and savepoints (real broker, worker processes): two workers
// judge orders by rules read from a two-partition broadcast topic. After the rules arrived, both
// workers are killed with SIGKILL and restarted; later they stop with a savepoint and a new
// generation restores from it; then that generation is killed and restarted too. Orders after
// each restart must still be judged by the rules read before it — read back by Runnel's own
// read-committed reader and by Kafka's Java consumer in read_committed, each order exactly once.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Partitioners, type Kafka } from "kafkajs";
import { taskOfKey } from "../../runtime/exec/hash.ts";
import { readCommittedWithJavaAtLeast } from "../helpers/java-consumer.ts";
import { createTopics, kafkaAdminHooks } from "../helpers/kafka.ts";
import { waitFor } from "../helpers/kube.ts";
import {
  adminUrl,
  CommittedRecords,
  exitWithin,
  kill9,
  logTail,
  requestSavepoint,
  rulesPipeline,
  startWorker,
  testJobName,
  writeJobManifest,
  type WorkerProcess,
} from "../helpers/distributed.ts";

const TOKEN = "broadcast-restore-token";
const TASKS = 4;

/** The rule each order must get: amounts above 1000 are "big", negative ones "neg", others none. */
const expectedRule = (amount: number): string => (amount > 1000 ? "big" : amount < 0 ? "neg" : "none");

describe("distributed broadcast state through kill -9 and savepoints (real broker)", () => {
  const k = kafkaAdminHooks();
  const running: WorkerProcess[] = [];
  afterAll(() => {
    for (const w of running) w.child.kill("SIGKILL");
  });

  it("judges orders after every restart by the rules read before it, each order exactly once", async () => {
    const { kafka, admin } = k;
    const name = testJobName("bcrestore");
    const [orders, rules, output] = [`${name}-orders`, `${name}-rules`, `${name}-out`];
    await createTopics(admin, [orders], TASKS);
    await createTopics(admin, [rules], 2);
    await createTopics(admin, [output], 1);
    const { dir, manifest, savepointRoot } = writeJobManifest(name, {
      parallelism: TASKS,
      savepoints: true,
      pipeline: rulesPipeline({ orders, partitions: TASKS, rules, output }),
    });
    const job = { dir, manifest };
    // One user per task, so every task of both workers must know both rules.
    const users: string[] = [];
    for (let i = 0; users.length < TASKS; i++) if (taskOfKey(`u${i}`, TASKS) === users.length) users.push(`u${i}`);
    const seen = new Map<number, string[]>();
    const reader = new CommittedRecords((value) => {
      const r = JSON.parse(value) as { seq: number; rule?: string };
      seen.set(r.seq, [...(seen.get(r.seq) ?? []), r.rule ?? "none"]);
    });
    await reader.start(output);
    const sent = new Map<number, number>();
    let seq = 0;
    /** Sends one order per user with each amount; returns their sequence numbers. */
    async function sendOrders(amounts: number[]): Promise<number[]> {
      const messages = users.flatMap((user, t) =>
        amounts.map((amount) => {
          sent.set(seq, amount);
          return { partition: t, value: JSON.stringify({ seq: seq++, user, amount }) };
        }),
      );
      await send(kafka, orders, messages);
      return messages.map((m) => (JSON.parse(m.value) as { seq: number }).seq);
    }
    const judged = (seqs: number[]): boolean => seqs.every((s) => seen.has(s));
    const launch = (ordinal: number, extra: string[] = []): WorkerProcess => {
      const w = startWorker(job, ordinal, 2, { extraArgs: ["--admin", "127.0.0.1:0", ...extra], env: { RUNNEL_ADMIN_TOKEN: TOKEN } });
      running.push(w);
      return w;
    };
    const logs = (ws: WorkerProcess[]) => ws.map((w) => `--- worker ${w.ordinal}\n${logTail(w)}`).join("\n");
    /** Sends orders until they come out judged (the workers may still be starting), then checks the last round's rules. */
    async function expectRulesApplied(ws: WorkerProcess[], phase: string): Promise<void> {
      const amounts = [5000, -5, 10];
      let last: number[] = [];
      await waitFor(
        `orders judged by the rules (${phase})`,
        async () => {
          if (last.length === 0 || judged(last)) {
            if (last.length > 0 && last.every((s) => seen.get(s)?.[0] === expectedRule(sent.get(s) as number))) return true;
            last = await sendOrders(amounts);
          }
          return false;
        },
        { timeoutMs: 180_000, intervalMs: 300 },
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\nlast orders: ${JSON.stringify(last.map((s) => [s, sent.get(s), seen.get(s)]))}\n${logs(ws)}`);
      });
    }
    // The rules arrive before any order; the first orders may be judged before a worker read them.
    await send(kafka, rules, [
      { partition: 0, value: JSON.stringify({ id: "big", condition: "record.amount > 1000.0" }) },
      { partition: 1, value: JSON.stringify({ id: "neg", condition: "record.amount < 0.0" }) },
    ]);
    let workers = [launch(0), launch(1)];
    await expectRulesApplied(workers, "first start");

    // 1. kill -9 both workers after their checkpoints hold the rules; orders after the restart.
    for (const w of workers) await kill9(w);
    workers = [launch(0), launch(1)];
    const afterKill = await sendOrders([5000, -5, 10]);
    await waitFor("orders after the kill", () => judged(afterKill), { timeoutMs: 180_000 }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${logs(workers)}`);
    });
    expect(afterKill.map((s) => [s, seen.get(s)?.[0]])).toEqual(afterKill.map((s) => [s, expectedRule(sent.get(s) as number)]));

    // 2. Stop with a savepoint; a new generation restores from it.
    const urls = await Promise.all(workers.map((w) => adminUrl(w)));
    for (const u of urls) await requestSavepoint(`${u}/stop`, TOKEN, { name: "sp-1" });
    for (const w of workers) expect(await exitWithin(w), logTail(w)).toBe(0);
    const savepoint = join(savepointRoot, "sp-1");
    const restore = ["--restore-from", savepoint];
    workers = [launch(0, restore), launch(1, restore)];
    const afterSavepoint = await sendOrders([5000, -5, 10]);
    await waitFor("orders after the savepoint", () => judged(afterSavepoint), { timeoutMs: 180_000 }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${logs(workers)}`);
    });
    expect(afterSavepoint.map((s) => [s, seen.get(s)?.[0]])).toEqual(afterSavepoint.map((s) => [s, expectedRule(sent.get(s) as number)]));

    // 3. kill -9 the restored generation (its state now lives in its own changelog) and restart it.
    for (const w of workers) await kill9(w);
    workers = [launch(0, restore), launch(1, restore)];
    const afterSecondKill = await sendOrders([5000, -5, 10]);
    await waitFor("orders after the second kill", () => judged(afterSecondKill), { timeoutMs: 180_000 }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${logs(workers)}`);
    });
    expect(afterSecondKill.map((s) => [s, seen.get(s)?.[0]])).toEqual(afterSecondKill.map((s) => [s, expectedRule(sent.get(s) as number)]));
    for (const w of workers) w.child.kill("SIGTERM");
    for (const w of workers) expect(await w.exited, logTail(w)).toBe(0);
    await reader.stop();

    // Every order exactly once, as Kafka's own Java consumer sees the output in read_committed.
    expect([...seen].filter(([, rs]) => rs.length > 1)).toEqual([]);
    const java = await readCommittedWithJavaAtLeast(output, sent.size);
    const bySeq = new Map<number, string[]>();
    for (const r of java) {
      const v = JSON.parse(r.value) as { seq: number; rule?: string };
      bySeq.set(v.seq, [...(bySeq.get(v.seq) ?? []), v.rule ?? "none"]);
    }
    expect(bySeq.size).toBe(sent.size);
    expect([...bySeq].filter(([, rs]) => rs.length > 1)).toEqual([]);
    for (const s of [...afterKill, ...afterSavepoint, ...afterSecondKill]) expect([s, bySeq.get(s)]).toEqual([s, [expectedRule(sent.get(s) as number)]]);
  });
});

async function send(kafka: Kafka, topic: string, messages: { partition: number; value: string }[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, messages });
  await producer.disconnect();
}
