/**
 * The state benchmark: a keyed running count over 1,000,000 distinct keys, heap state versus
 * LevelDB state (write-back cache bounded below the key count, so LevelDB really is read).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blackholeSink, job, type KeyedProcessFunction, type RuntimeContext } from "../runtime/api/index.ts";
import { generatorSource, type GenEvent } from "../runtime/connectors/generator.ts";
import { createEngine } from "../runtime/exec/engine.ts";

/** Runs the keyed-count job; returns events per second. */
export async function keyedStateRun(options: {
  events: number;
  keys: number;
  state: "heap" | "level";
  cacheEntries?: number;
}): Promise<{ rate: number; seconds: number; readMs: number; writeMs: number }> {
  const j = job(`keyed-${options.state}`);
  j.source(generatorSource({ countPerPartition: options.events, keys: options.keys, seed: 9 }), { watermarks: { timestamp: (e: GenEvent) => e.ts } })
    .keyBy((e) => e.key)
    .process((rt: RuntimeContext): KeyedProcessFunction<number, GenEvent, number> => {
      const n = rt.valueState<number>({ name: "n" });
      return {
        processElement(_e, _ctx, out) {
          const v = (n.value() ?? 0) + 1;
          n.update(v);
          if (v === 100) out.collect(v);
        },
      };
    })
    .sink(blackholeSink());
  const dir = options.state === "level" ? await mkdtemp(join(tmpdir(), "runnel-bench-")) : "";
  try {
    const engine = createEngine({
      graph: j.build(),
      batchSize: 16_384,
      state: options.state === "level" ? { kind: "level", dir, maxCachedEntries: options.cacheEntries ?? 2_000_000 } : { kind: "heap" },
    });
    const t0 = performance.now();
    await engine.run();
    const seconds = (performance.now() - t0) / 1000;
    const stats = engine.backends[0]?.stats;
    return { rate: options.events / seconds, seconds, readMs: stats?.readMs ?? 0, writeMs: stats?.writeMs ?? 0 };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
