/**
 * Source partitions as the engine drives them: opening readers (at restored positions, with
 * restored watermark state) and reading one micro-batch per partition per round.
 */
import type { CheckpointMetadata } from "../checkpoint/format.ts";
import type { GraphNode } from "../graph/graph.ts";
import type { Clock } from "../time/clock.ts";
import { PartitionWatermarks } from "../time/watermarks.ts";
import type { SourceTask } from "./checkpointing.ts";
import type { Instance } from "./instance.ts";

/** Opens every partition of a source node, one per task (restoring from `meta` if given). */
export async function openSourceTasks(options: {
  node: GraphNode;
  parallelism: number;
  clock: Clock;
  instances: Instance[];
  meta: CheckpointMetadata | undefined;
  /** Tasks this process runs (default all). */
  active?: (task: number) => boolean;
  /** Tasks whose records count as read here (default all): see SourceTask.counted. */
  owned?: (task: number) => boolean;
}): Promise<SourceTask[]> {
  const { node, meta } = options;
  if (node.spec.kind !== "source") return [];
  const { source, watermarks } = node.spec;
  const tasks: SourceTask[] = [];
  for (let task = 0; task < options.parallelism; task++) {
    if (options.active && !options.active(task)) continue;
    const gen = new PartitionWatermarks({
      maxOutOfOrdernessMs: watermarks.maxOutOfOrdernessMs ?? 0,
      idleTimeoutMs: watermarks.idleTimeoutMs ?? 0,
      now: options.clock.now(),
    });
    // A task beyond the source's partition count has nothing to read: a finished input.
    const position = meta?.sources[node.uid]?.[task];
    const reader = task < source.partitions ? await source.open(task, position ?? undefined) : undefined;
    if (!reader) gen.finish();
    const maxTs = meta?.sourceMaxTimestamps[node.uid]?.[task];
    if (typeof maxTs === "number") gen.restore(maxTs);
    // A source that carries its own watermark (a repartition topic) replaces the generator's.
    const carried = reader?.watermark?.bind(reader);
    const watermark = carried ? () => carried().watermark : () => gen.current();
    const idle = carried ? () => carried().idle : (now: number) => gen.isIdle(now);
    tasks.push({
      uid: node.uid,
      partition: task,
      inst: options.instances[task] as Instance,
      reader,
      gen,
      timestamp: watermarks.timestamp,
      done: !reader,
      counted: options.owned?.(task) ?? true,
      watermark,
      idle,
    });
  }
  return tasks;
}

/**
 * Reads one micro-batch from every partition (reads run concurrently, records are emitted in
 * partition order), then emits each partition's watermark. Returns the number of records read and
 * how many of them count as this process's input (SourceTask.counted).
 * Records without a timestamp assigner get the processing time (ingestion time).
 */
export async function readSourceTasks(sources: SourceTask[], batchSize: number, now: number): Promise<{ read: number; counted: number }> {
  const results = await Promise.all(sources.map((s) => (s.done || s.paused || !s.reader ? Promise.resolve(undefined) : s.reader.read(batchSize))));
  let n = 0;
  let counted = 0;
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i] as SourceTask;
    const r = results[i];
    if (r === undefined) continue;
    const records = r.records;
    const assign = s.timestamp;
    const { timestamps, keys } = r;
    for (let j = 0; j < records.length; j++) {
      const v = records[j];
      const ts = timestamps ? (timestamps[j] as number) : assign ? assign(v) : now;
      s.gen.onEvent(ts);
      if (keys) s.inst.emitKeyed(v, ts, keys[j] as string | number);
      else s.inst.emit(v, ts);
    }
    n += records.length;
    if (s.counted) counted += records.length;
    if (records.length > 0) s.gen.onActivity(now);
    if (r.done) {
      s.done = true;
      s.gen.finish();
    }
  }
  for (const s of sources) s.inst.forwardWatermark(s.watermark(), s.idle(now));
  return { read: n, counted };
}
