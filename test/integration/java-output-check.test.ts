// The exactly-once tests' independent output check (test/helpers/distributed.ts `javaCheck`,
// Kafka's own Java consumer in read_committed) can fail: on a real broker it passes exactly the
// reference, leaves aborted transactions out, and reports duplicated, wrong and missing windows.
import type { Kafka } from "kafkajs";
import { describe, expect, it } from "vitest";
import { uniqueName } from "../helpers/env.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { createCountJob, javaCheck, produce, type CountJob } from "../helpers/distributed.ts";

/** The job's reference windows as output records (what the count job writes). */
function outputOf(job: CountJob): { key: string; windowStart: number; events: number; total: number }[] {
  return [...job.reference].map(([k, v]) => {
    const [key, start] = k.split("@") as [string, string];
    return { key, windowStart: Number(start), ...v };
  });
}

/** Writes `committed` records in a committed transaction, then `aborted` ones in an aborted one. */
async function writeOutput(kafka: Kafka, job: CountJob, committed: object[], aborted: object[] = []): Promise<void> {
  const producer = kafka.producer({ transactionalId: uniqueName("java-check"), maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const messages = (records: object[]) => records.map((r, i) => ({ partition: i % 3, value: JSON.stringify(r) }));
  let tx = await producer.transaction();
  await tx.send({ topic: job.output, messages: messages(committed) });
  await tx.commit();
  if (aborted.length > 0) {
    tx = await producer.transaction();
    await tx.send({ topic: job.output, messages: messages(aborted) });
    await tx.abort();
  }
  await producer.disconnect();
}

describe("the Java read_committed output check (real broker)", () => {
  const k = kafkaAdminHooks();
  /** Reads again while windows are missing for this long (a read itself ends after 10 s without records). */
  const patience = 15_000;

  it("passes exactly the reference, and ignores an aborted transaction's duplicates", async () => {
    const job = await createCountJob(k.admin, 3);
    await produce(k.kafka, job, 200, 4);
    const windows = outputOf(job);
    expect(windows.length).toBeGreaterThanOrEqual(4);
    await writeOutput(k.kafka, job, windows, windows.slice(0, 2));
    expect(await javaCheck(job, patience)).toEqual({ windows: windows.length, duplicates: [], mismatches: [] });
  });

  it("reports duplicated, wrong and missing windows", async () => {
    const job = await createCountJob(k.admin, 3);
    await produce(k.kafka, job, 200, 4);
    const [first, second, ...rest] = outputOf(job);
    if (!first || !second) throw new Error("the reference has fewer than two windows");
    await writeOutput(k.kafka, job, [first, first, { ...second, events: second.events + 1 }, ...rest.slice(1)]);
    const { duplicates, mismatches } = await javaCheck(job, patience);
    expect(duplicates).toEqual([`${first.key}@${first.windowStart}`]);
    expect(mismatches.some((b) => b.startsWith(`${second.key}@${second.windowStart}: got`))).toBe(true);
    expect(mismatches).toContain(`${rest[0]?.key}@${rest[0]?.windowStart}: missing`);
  });

  it("reads again while windows are only missing, and names them once it gives up", async () => {
    const job = await createCountJob(k.admin, 3);
    await produce(k.kafka, job, 200, 4);
    const [first, ...rest] = outputOf(job);
    await writeOutput(k.kafka, job, rest);
    expect((await javaCheck(job, patience)).mismatches).toEqual([`${first?.key}@${first?.windowStart}: missing`]);
  });
});
