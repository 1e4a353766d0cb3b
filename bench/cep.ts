/**
 * The CEP benchmark: the risk system's account-takeover pattern (>5 login failures, then >3 IP
 * changes, within 10 minutes) over 100,000 users in local mode, generator → keyBy → CEP →
 * blackhole, one task. Prints events/s, and the same pipeline with a pass-through keyed function
 * in place of CEP as the floor the engine itself sets.
 *
 *   npx node bench/cep.ts [--events 1000000] [--keys 100000] [--state heap|level] [--no-baseline]
 *
 * `npm run bench` runs it too (bench/main.ts) and writes the figures into docs/benchmarks.md.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { blackholeSink, job, type KeyedProcessFunction } from "../runtime/api/index.ts";
import { generatorSource, hashRandom, type GenEvent } from "../runtime/connectors/generator.ts";
import { createEngine } from "../runtime/exec/engine.ts";
import { AfterMatchSkipStrategy, CEP, Pattern } from "../runtime/cep/index.ts";

/** A login event of a user. */
interface Login {
  user: number;
  type: "fail" | "ok" | "ip";
  t: number;
}

/**
 * 2% of the events belong to 100 users under attack (mostly failures and IP changes); the rest
 * spread over all users, who mostly log in fine and sometimes fail once or twice.
 */
function login(e: GenEvent): Login {
  const hot = e.rnd < 0.02;
  const r = (e.rnd * 1000) % 1; // a second uniform number from the same draw
  const type = hot ? (r < 0.6 ? "fail" : r < 0.9 ? "ip" : "ok") : r < 0.1 ? "fail" : r < 0.13 ? "ip" : "ok";
  return { user: hot ? (e.key % 100) * 1000 : e.key, type, t: e.ts };
}

const takeover = (): Pattern<Login> =>
  Pattern.begin<Login>("fails", AfterMatchSkipStrategy.skipPastLastEvent())
    .where((e) => e.type === "fail")
    .timesOrMore(6)
    .followedBy("ipChanges")
    .where((e) => e.type === "ip")
    .timesOrMore(4)
    .within(600_000);

/**
 * The alerts the pattern must give, computed without the CEP library: the generator's events
 * rebuilt from its formula (one partition, seed 17, 2,000 events/s), then per user in order a
 * partial match started by every failure that takes the failures after it until it has 6, moves
 * to the IP changes at the first IP change after that, and matches at its 4th if that is less
 * than 10 minutes after its first failure; a match discards every partial match of the user (skip
 * past last event), a partial match older than 10 minutes is dropped.
 */
export function cepReference(events: number, keys: number): number {
  const runs = new Map<number, { start: number; fails: number; ips: number }[]>();
  let alerts = 0;
  for (let i = 0; i < events; i++) {
    const e = login({ seq: i, partition: 0, key: Math.floor(hashRandom(17, i, 1) * keys), ts: Math.floor(i / 2), rnd: hashRandom(17, i, 3) });
    if (e.type === "ok") continue;
    const live = (runs.get(e.user) ?? []).filter((r) => e.t - r.start < 600_000);
    let matched = false;
    for (const r of live) {
      if (e.type === "fail" && r.ips === 0) r.fails++;
      else if (e.type === "ip" && r.fails >= 6 && ++r.ips === 4) matched = true;
    }
    if (matched) {
      alerts++;
      runs.set(e.user, []);
      continue;
    }
    if (e.type === "fail") live.push({ start: e.t, fails: 1, ips: 0 });
    runs.set(e.user, live);
  }
  return alerts;
}

/** One timed run: the CEP job, or with `cep: false` the same pipeline with a pass-through function. */
export async function cepRun(options: {
  events: number;
  keys: number;
  state: "heap" | "level";
  cep: boolean;
}): Promise<{ rate: number; alerts: number; seconds: number }> {
  const j = job(options.cep ? "cep-bench" : "cep-baseline");
  // 2,000 events/s of event time: each user sees ~10 events over ~8 minutes, so many partial matches expire by `within`.
  const logins = j
    .source(generatorSource<Login>({ countPerPartition: options.events, keys: options.keys, ratePerSec: 2000, seed: 17, make: login }), {
      watermarks: { timestamp: (e: Login) => e.t },
    })
    .keyBy((e) => e.user);
  let alerts = 0;
  if (options.cep) {
    CEP.pattern(logins, takeover(), { uid: "takeover" })
      .process<number>((m, _ctx, out) => {
        alerts++;
        out.collect(m.size);
      })
      .sink(blackholeSink());
  } else {
    logins.process((): KeyedProcessFunction<number, Login, number> => ({ processElement() {} })).sink(blackholeSink());
  }
  const dir = options.state === "level" ? await mkdtemp(join(tmpdir(), "runnel-cep-bench-")) : "";
  try {
    const engine = createEngine({
      graph: j.build(),
      batchSize: 16_384,
      state: options.state === "level" ? { kind: "level", dir, maxCachedEntries: 4 * options.keys } : { kind: "heap" },
    });
    const t0 = performance.now();
    await engine.run();
    const seconds = (performance.now() - t0) / 1000;
    return { rate: options.events / seconds, alerts, seconds };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "1000000" },
      keys: { type: "string", default: "100000" },
      state: { type: "string", default: "heap" },
      "no-baseline": { type: "boolean", default: false },
    },
  });
  const events = Number(values.events);
  const keys = Number(values.keys);
  const state = values.state === "level" ? "level" : "heap";
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  const cep = await cepRun({ events, keys, state, cep: true });
  console.log(
    `cep account-takeover: ${fmt(cep.rate)} events/s (${fmt(events)} events, ${fmt(keys)} keys, ${state} state, ${cep.seconds.toFixed(2)} s, ${cep.alerts} alerts)`,
  );
  if (!values["no-baseline"]) {
    const base = await cepRun({ events, keys, state, cep: false });
    console.log(`baseline pass-through keyed function: ${fmt(base.rate)} events/s (${base.seconds.toFixed(2)} s)`);
  }
}

// Standalone when run directly; bench/main.ts imports cepRun for `npm run bench`.
if (import.meta.main) await main();
