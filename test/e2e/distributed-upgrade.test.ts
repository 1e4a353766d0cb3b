// Upgrades that change window state (real broker, worker processes). v1 counts and sums per user
// and second; it stops with a savepoint. A version with 2-second windows under the same step is
// refused, naming the step and the change. v2 adds `maxN` and restores: windows that span the
// upgrade keep their counts and sums (maxN covers their later events), windows after it are
// whole; a worker killed right after the restore (local state wiped) still has the savepoint's
// windows, from the changelog. Then a last-state upgrade inside the same generation adds `minN` (state migrated in the
// stores and in the changelog), and a worker is killed with its local state wiped, so its state
// is rebuilt from the changelog. Every window comes out exactly once with the reference's counts,
// read by Runnel's reader and by Kafka's Java consumer in read_committed.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../runtime/worker-contract.ts";
import { readCommittedWithJavaAtLeast } from "../helpers/java-consumer.ts";
import { kafkaAdminHooks } from "../helpers/kafka.ts";
import { waitFor } from "../helpers/kube.ts";
import {
  adminUrl,
  CommittedRecords,
  exitWithin,
  countManifest,
  createCountJob,
  kill9,
  logTail,
  produce,
  produceFlush,
  requestSavepoint,
  startWorker,
  stopGracefully,
  type WorkerProcess,
} from "../helpers/distributed.ts";

const TOKEN = "upgrade-test-token";

/** A window result as the job writes it. */
interface Row {
  key: string;
  windowStart: number;
  events: number;
  total: number;
  maxN?: number;
  minN?: number;
}

describe("distributed upgrades that change window state (real broker)", () => {
  const k = kafkaAdminHooks();
  const running: WorkerProcess[] = [];
  afterAll(() => {
    for (const w of running) w.child.kill("SIGKILL");
  });

  it("refuses an incompatible window, migrates added aggregations, through savepoint and last-state upgrades", async () => {
    const { kafka, admin } = k;
    const job = await createCountJob(admin, 4);
    const maxN = "{ name: maxN, fn: max, of: record.n }";
    const minN = "{ name: minN, fn: min, of: record.n }";
    const manifest = (file: string, options: Parameters<typeof countManifest>[0] extends infer O ? Partial<O> : never): string => {
      const path = join(job.dir, file);
      writeFileSync(path, countManifest({ ...job, ...options }));
      return path;
    };
    const wider = manifest("job-2s.yaml", { windowSize: "2s" });
    const v2 = manifest("job-v2.yaml", { moreAggregations: [maxN] });
    const v3 = manifest("job-v3.yaml", { moreAggregations: [maxN, minN] });
    const launch = (ordinal: number, file: string | undefined, extra: string[] = []): WorkerProcess => {
      const w = startWorker(job, ordinal, 2, {
        extraArgs: ["--admin", "127.0.0.1:0", ...extra],
        env: { RUNNEL_ADMIN_TOKEN: TOKEN },
        ...(file ? { manifest: file } : {}),
      });
      running.push(w);
      return w;
    };
    const logs = (ws: WorkerProcess[]) => ws.map((w) => `--- worker ${w.ordinal}\n${logTail(w)}`).join("\n");
    /** Once worker `o` committed a checkpoint, kills it, wipes its local state and starts it again. */
    async function killAfterCheckpoint(ws: WorkerProcess[], o: number, file: string): Promise<void> {
      const status = `${await adminUrl(ws[o] as WorkerProcess)}/status`;
      await waitFor(`a checkpoint of worker ${o}`, async () => ((await (await fetch(status)).json()) as { checkpoints: number }).checkpoints > 0, {
        timeoutMs: 120_000,
      }).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\n${logs(ws)}`);
      });
      await kill9(ws[o] as WorkerProcess);
      rmSync(join(job.dir, `state-w${o}`), { recursive: true, force: true });
      ws[o] = launch(o, file, ["--restore-from", savepoint]);
      await adminUrl(ws[o]); // from then on SIGTERM stops it gracefully
    }
    const savepoint = join(job.savepointRoot, "v1");
    const rows = new Map<string, Row[]>();
    const reader = new CommittedRecords((value) => {
      const r = JSON.parse(value) as Row;
      if (r.key === "flush") return;
      const key = `${r.key}@${r.windowStart}`;
      rows.set(key, [...(rows.get(key) ?? []), r]);
    });
    await reader.start(job.output);

    // v1, stopped with a savepoint once windows come out. Batches end mid-second (200 records a
    // second), so windows of the last second are open across each upgrade.
    await produce(kafka, job, 3050);
    let workers = [launch(0, undefined), launch(1, undefined)];
    await waitFor("v1 windows", () => rows.size >= 100, { timeoutMs: 120_000 }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${logs(workers)}`);
    });
    for (const u of await Promise.all(workers.map((w) => adminUrl(w)))) await requestSavepoint(`${u}/stop`, TOKEN, { name: "v1" });
    for (const w of workers) expect(await exitWithin(w), logTail(w)).toBe(0);
    const afterV1 = job.produced;
    await produce(kafka, job, 2030);

    // 2-second windows under the same step: refused, with the step, the change and the way out.
    const refused = launch(0, wider, ["--restore-from", savepoint]);
    // A configuration error: the exit code says restarting will not help.
    expect(await exitWithin(refused), logTail(refused)).toBe(EXIT_CODES.configuration);
    const why = logTail(refused, 30);
    expect(why).toContain("step 'per-second'");
    expect(why).toContain("its window changed from tumbling 1s to tumbling 2s");
    expect(why).toContain("--drop-incompatible-state per-second");

    // v2 adds maxN. Worker 0 is killed with its local state wiped right after its first
    // checkpoint: the windows it took from the savepoint must be in the changelog by then.
    const restore = ["--restore-from", savepoint];
    workers = [launch(0, v2, restore), launch(1, v2, restore)];
    await killAfterCheckpoint(workers, 0, v2);
    await produce(kafka, job, 2070);
    const seenBefore = rows.size;
    await waitFor("v2 windows", () => rows.size >= seenBefore + 100, { timeoutMs: 180_000 }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${logs(workers)}`);
    });

    // Last-state upgrade in the same generation: v3 adds minN. No input arrives until worker 1 has
    // checkpointed under v3, then it is killed and loses its local state: the windows still open
    // from v2 are rebuilt from the changelog, which must hold them migrated.
    for (const w of workers) expect(await stopGracefully(w), logTail(w)).toBe(0);
    const afterV2 = job.produced;
    expect(afterV1 % 200 && afterV2 % 200).toBeGreaterThan(0);
    workers = [launch(0, v3, restore), launch(1, v3, restore)];
    await killAfterCheckpoint(workers, 1, v3);
    await produce(kafka, job, 4000);
    await produceFlush(kafka, job);
    await waitFor("every window", () => rows.size >= job.reference.size, { timeoutMs: 240_000 }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${rows.size} of ${job.reference.size}\n${logs(workers)}`);
    });
    for (const w of workers) expect(await stopGracefully(w), logTail(w)).toBe(0);
    await reader.stop();

    // Exactly once, counts and sums as the reference, added aggregations where they must be whole.
    const problems: string[] = [];
    for (const [key, ref] of job.reference) {
      const got = rows.get(key) ?? [];
      if (got.length !== 1) {
        problems.push(`${key}: ${got.length} results`);
        continue;
      }
      const r = got[0] as Row;
      if (r.events !== ref.events || r.total !== ref.total) problems.push(`${key}: ${JSON.stringify(r)} but expected events ${ref.events}, total ${ref.total}`);
      if (ref.first >= afterV1 && r.maxN !== ref.maxN) problems.push(`${key}: maxN ${r.maxN}, expected ${ref.maxN} (window after the v2 upgrade)`);
      if (ref.first >= afterV2 && r.minN !== ref.minN) problems.push(`${key}: minN ${r.minN}, expected ${ref.minN} (window after the v3 upgrade)`);
      // A window with events after an upgrade fired under it: the added aggregation is there.
      if (ref.last >= afterV1 && typeof r.maxN !== "number") problems.push(`${key}: no maxN though it had events after the v2 upgrade`);
      if (ref.last >= afterV2 && typeof r.minN !== "number") problems.push(`${key}: no minN though it had events after the v3 upgrade`);
      // A window whose events all came before an upgrade but that fired after it has null there.
      if (typeof r.maxN === "number" && r.maxN > ref.maxN) problems.push(`${key}: maxN ${r.maxN} above the window's largest n ${ref.maxN}`);
      if (typeof r.minN === "number" && r.minN < ref.minN) problems.push(`${key}: minN ${r.minN} below the window's smallest n ${ref.minN}`);
    }
    expect(problems.slice(0, 20), `job ${job.name} in ${job.dir}`).toEqual([]);
    expect([...rows.keys()].filter((key) => !job.reference.has(key))).toEqual([]);

    // The same, as Kafka's own Java consumer reads the output in read_committed.
    const java = (await readCommittedWithJavaAtLeast(job.output, job.reference.size)).map((r) => JSON.parse(r.value) as Row).filter((r) => r.key !== "flush");
    const byKey = new Map<string, Row[]>();
    for (const r of java) byKey.set(`${r.key}@${r.windowStart}`, [...(byKey.get(`${r.key}@${r.windowStart}`) ?? []), r]);
    expect([...byKey].filter(([, rs]) => rs.length !== 1).map(([key]) => key)).toEqual([]);
    expect(
      [...job.reference].filter(([key, ref]) => byKey.get(key)?.[0]?.events !== ref.events || byKey.get(key)?.[0]?.total !== ref.total).map(([key]) => key),
    ).toEqual([]);
  });
});
