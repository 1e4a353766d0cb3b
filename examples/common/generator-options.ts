/**
 * The options every example generator shares: where to write (files or Kafka), how much and how
 * fast, the seed, and the shape of event time (bursts, out-of-order and late events) and of the
 * data (skew, dirty records).
 */
import { durationOption, inRange, timeOption, UsageError, type OptionSpec, type Values } from "./cli.ts";
import { openOutput, type Output } from "./output.ts";
import type { TimelineOptions } from "./timeline.ts";

/** Options of every generator (each adds its own). */
export const GENERATOR_OPTIONS: Record<string, OptionSpec> = {
  out: { type: "string", description: "write ndjson files into this folder (one per topic; what `runnel run` reads)", placeholder: "dir" },
  kafka: { type: "string", description: "write to Kafka instead: comma-separated host:port brokers", placeholder: "brokers" },
  "topic-prefix": { type: "string", description: "prepended to every Kafka topic name", default: "" },
  partitions: { type: "integer", description: "partitions of the Kafka topics the generator creates", default: 4 },
  seed: { type: "integer", description: "random seed: the same seed gives the same data", default: 1 },
  count: { type: "integer", description: "events to generate (0 = until stopped)", default: 20000 },
  rate: { type: "number", description: "events per second of wall-clock time (0 = as fast as possible)", default: 0 },
  start: { type: "string", description: "event time of the first event: ISO time, epoch ms, or now", default: "2026-01-01T00:00:00Z" },
  "events-per-second": { type: "number", description: "events per second of event time (outside bursts)", default: 10 },
  realtime: { type: "boolean", description: "event time follows the wall clock (with --rate; for live runs and latency)" },
  "burst-every": { type: "string", description: "a burst of traffic every this much event time (0s = none)", default: "10m" },
  "burst-length": { type: "string", description: "how long a burst lasts", default: "30s" },
  "burst-factor": { type: "number", description: "the event rate during a burst, as a multiple", default: 5 },
  "out-of-order": { type: "number", description: "share of events out of order (by less than the job's watermark bound)", default: 0.05 },
  late: { type: "number", description: "share of events late by more than any window of the job", default: 0.002 },
  dirty: { type: "number", description: "share of malformed records (the job dead-letters them)", default: 0.01 },
  users: { type: "integer", description: "number of users", default: 2000 },
  skew: { type: "number", description: "Zipf exponent of user activity (0 = uniform)", default: 1.1 },
  "no-end-tick": { type: "boolean", description: "do not end a bounded run with the end tick that closes the job's windows" },
  "id-prefix": { type: "string", description: "prepended to event and order ids (a second run into the same topics)", default: "" },
};

/** What a generator gets from the shared options. */
export interface GeneratorSettings {
  seed: number;
  /** 0 = unbounded. */
  count: number;
  users: number;
  skew: number;
  dirtyShare: number;
  endTick: boolean;
  /** Kafka: malformed records may also be bytes that are not JSON (files hold JSON lines only). */
  kafka: boolean;
  /** Prepended to generated ids. */
  idPrefix: string;
  timeline: TimelineOptions;
}

/** Reads the shared options; `bounds` are the job's watermark bound and longest window, which disorder and lateness must respect. */
export function generatorSettings(values: Values, bounds: { watermarkBoundMs: number; longestWindowMs: number }): GeneratorSettings {
  if ((values.out === undefined) === (values.kafka === undefined)) throw new UsageError("give exactly one of --out <dir> and --kafka <brokers>");
  const share = (name: string): number => inRange(values, name, 0, 1);
  const realtime = values.realtime === true;
  if (realtime && (values.rate as number) <= 0) throw new UsageError("--realtime needs --rate (events per second of wall-clock time)");
  if ((values.users as number) < 1) throw new UsageError("--users must be at least 1");
  // Late by half a window more than the longest window: past every window of the job however far
  // its tasks are apart (up to that half window), and only once the job's watermark has moved.
  const lateBy = Math.round(1.5 * bounds.longestWindowMs);
  return {
    seed: values.seed as number,
    count: values.count as number,
    users: values.users as number,
    skew: inRange(values, "skew", 0, 5),
    dirtyShare: share("dirty"),
    endTick: values["no-end-tick"] !== true,
    kafka: values.kafka !== undefined,
    idPrefix: values["id-prefix"] as string,
    timeline: {
      start: timeOption(values, "start"),
      eventsPerSecond: realtime ? (values.rate as number) : inRange(values, "events-per-second", 0.001, 1e7),
      realtime,
      burstEveryMs: durationOption(values, "burst-every"),
      burstLengthMs: durationOption(values, "burst-length"),
      burstFactor: inRange(values, "burst-factor", 1, 1000),
      outOfOrderShare: share("out-of-order"),
      // Half the watermark bound: out-of-order events are never late, whatever the tasks' skew.
      maxDisorderMs: Math.floor(bounds.watermarkBoundMs / 2),
      lateShare: share("late"),
      lateByMs: lateBy,
      lateAfterMs: lateBy,
    },
  };
}

/** Opens the output the options name. */
export function outputOf(values: Values, label: string, compacted: readonly string[] = []): Promise<Output> {
  return openOutput({
    label,
    rate: values.rate as number,
    compacted,
    ...(values.out !== undefined
      ? { dir: values.out as string }
      : {
          brokers: String(values.kafka)
            .split(",")
            .map((b) => b.trim())
            .filter((b) => b.length > 0),
          topicPrefix: values["topic-prefix"] as string,
          partitions: values.partitions as number,
        }),
  });
}

/** Stops a generator run on Ctrl-C / SIGTERM after the current record (unbounded runs). */
export function stopSignal(): { stopped: boolean } {
  const s = { stopped: false };
  const stop = (): void => {
    s.stopped = true;
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return s;
}
