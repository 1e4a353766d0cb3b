/**
 * Histograms cheap enough for the hot path: observe() is a loop over at most 16 preallocated
 * bucket bounds and two additions, with no allocation and no prom-client call; a sink's
 * LatencyRecorder only stores each record's timestamp and observes once per round. Prometheus
 * reads them at scrape time through a prom-client Histogram that reports their counts.
 */
import { Histogram, type Registry } from "prom-client";
import { InternalError } from "../errors.ts";

/** The most buckets a histogram may have (besides +Inf); observe() scans them linearly. */
export const MAX_BUCKETS = 16;

/** Upper bounds (seconds) of the end-to-end latency histogram. */
export const LATENCY_SECONDS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** Upper bounds (seconds) of the checkpoint duration histogram. */
export const CHECKPOINT_SECONDS_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Counts of observations per bucket (not cumulative; the last slot is +Inf), their sum and count. */
export class BucketHistogram {
  /** Upper bounds, ascending. */
  readonly bounds: Float64Array;
  /** Observations per bucket; counts[bounds.length] holds those above every bound. */
  readonly counts: Float64Array;
  /** Sum of all observed values. */
  sum = 0;
  /** Number of observations. */
  count = 0;

  constructor(bounds: readonly number[]) {
    if (bounds.length === 0 || bounds.length > MAX_BUCKETS) throw new InternalError(`a histogram has 1..${MAX_BUCKETS} buckets, got ${bounds.length}`);
    for (let i = 1; i < bounds.length; i++) {
      if (!((bounds[i] as number) > (bounds[i - 1] as number))) throw new InternalError(`histogram bounds must ascend strictly: ${bounds.join(", ")}`);
    }
    this.bounds = Float64Array.from(bounds);
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one value. */
  observe(value: number): void {
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && value > (bounds[i] as number)) i++;
    const counts = this.counts;
    counts[i] = (counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }

  /** Adds another histogram's observations (same bounds) into this one. */
  add(other: BucketHistogram): void {
    if (other.bounds.length !== this.bounds.length || other.bounds.some((b, i) => b !== this.bounds[i]))
      throw new InternalError("cannot merge histograms with different bounds");
    for (let i = 0; i < this.counts.length; i++) this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    this.sum += other.sum;
    this.count += other.count;
  }

  /** A summary for JSON status output (counts are for Prometheus). */
  toJSON(): { count: number; sum: number } {
    return { count: this.count, sum: this.sum };
  }
}

/**
 * End-to-end latency of the records a sink writes. Per record it only stores the event
 * timestamp (reading the clock per record would cost more than the rest of a simple job);
 * flush(now) turns the stored timestamps into latencies with one clock read, once per round.
 */
export class LatencyRecorder {
  /** Latencies in seconds (processing time minus event time; 0 for timestamps in the future). */
  readonly histogram = new BucketHistogram(LATENCY_SECONDS_BUCKETS);
  private pending = new Float64Array(1024);
  private size = 0;
  private readonly limits = new Float64Array(MAX_BUCKETS + 1);
  private readonly now: () => number;

  constructor(now: () => number) {
    this.now = now;
  }

  /** Notes one written record's event timestamp (ms). */
  record(ts: number): void {
    if (this.size === this.pending.length) this.makeRoom();
    this.pending[this.size++] = ts;
  }

  /**
   * Observes the latency of every noted record as of `now` (ms). Bucket bounds become timestamp
   * limits first (latency <= bound exactly when ts >= now - bound); the search starts at the
   * previous record's bucket, since records of one round mostly share one. A timestamp in the
   * future counts as latency 0, a NaN one as latency 0 too.
   */
  flush(now: number): void {
    const n = this.size;
    if (n === 0) return;
    const { bounds, counts } = this.histogram;
    const nb = bounds.length;
    const limits = this.limits;
    for (let b = 0; b < nb; b++) limits[b] = now - (bounds[b] as number) * 1000;
    limits[nb] = Number.NEGATIVE_INFINITY; // +Inf bucket: every timestamp is >= its limit
    const pending = this.pending;
    let sumMs = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      let ts = pending[i] as number;
      if (ts !== ts) ts = now; // NaN
      if (ts < (limits[b] as number)) {
        do b++;
        while (ts < (limits[b] as number));
      } else {
        while (b > 0 && ts >= (limits[b - 1] as number)) b--;
      }
      counts[b] = (counts[b] as number) + 1;
      if (ts < now) sumMs += now - ts;
    }
    this.histogram.sum += sumMs / 1000;
    this.histogram.count += n;
    this.size = 0;
  }

  /** Grows the buffer up to 64 Ki timestamps; beyond, observes what it holds now. */
  private makeRoom(): void {
    if (this.pending.length >= 65_536) return this.flush(this.now());
    const bigger = new Float64Array(this.pending.length * 2);
    bigger.set(this.pending);
    this.pending = bigger;
  }
}

/** One labelled series of an exported histogram. */
export interface HistogramSeries {
  labels: Record<string, string>;
  histogram: BucketHistogram;
}

type SampleValue = { value: number; labels: Record<string, string | number>; metricName: string };

function leLabel(bound: number): string {
  return Number.isFinite(bound) ? String(bound) : "+Inf";
}

/** The Prometheus samples of one series: cumulative `_bucket`s with `le`, then `_sum` and `_count`. */
export function histogramSamples(name: string, series: HistogramSeries): SampleValue[] {
  const { labels, histogram } = series;
  const out: SampleValue[] = [];
  let cumulative = 0;
  for (let i = 0; i < histogram.counts.length; i++) {
    cumulative += histogram.counts[i] as number;
    const bound = i < histogram.bounds.length ? (histogram.bounds[i] as number) : Number.POSITIVE_INFINITY;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: leLabel(bound) }, value: cumulative });
  }
  out.push({ metricName: `${name}_sum`, labels: { ...labels }, value: histogram.sum });
  out.push({ metricName: `${name}_count`, labels: { ...labels }, value: histogram.count });
  return out;
}

/**
 * A prom-client histogram whose samples come from `read()` at every scrape (its own observe()
 * is unused): the job keeps BucketHistograms, the registry only formats them. The registry asks
 * getForPromString() for the text format and get() for JSON; both report read()'s series.
 */
class ScrapedHistogram extends Histogram<string> {
  private readonly read: () => HistogramSeries[];
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(options: { name: string; help: string; labelNames: string[]; buckets: readonly number[]; registry: Registry; read: () => HistogramSeries[] }) {
    super({ name: options.name, help: options.help, labelNames: options.labelNames, buckets: [...options.buckets], registers: [options.registry] });
    this.read = options.read;
    this.metricName = options.name;
    this.metricHelp = options.help;
  }

  /** The metric with the current samples (what prom-client's registry formats). */
  async getForPromString(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SampleValue[] }> {
    return {
      name: this.metricName,
      help: this.metricHelp,
      type: "histogram",
      aggregator: "sum",
      values: this.read().flatMap((s) => histogramSamples(this.metricName, s)),
    };
  }

  override async get(): Promise<Awaited<ReturnType<Histogram<string>["get"]>>> {
    return (await this.getForPromString()) as unknown as Awaited<ReturnType<Histogram<string>["get"]>>;
  }
}

/** Registers a histogram metric whose series `read()` returns at each scrape. */
export function registerScrapedHistogram(options: {
  name: string;
  help: string;
  labelNames: string[];
  buckets: readonly number[];
  registry: Registry;
  read: () => HistogramSeries[];
}): void {
  new ScrapedHistogram(options);
}

/** Merges series with equal label values (e.g. the tasks of one operator) into one each. */
export function mergeSeries(series: HistogramSeries[]): HistogramSeries[] {
  const byKey = new Map<string, HistogramSeries>();
  for (const s of series) {
    const key = JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const merged = byKey.get(key);
    if (merged) merged.histogram.add(s.histogram);
    else {
      const copy = new BucketHistogram([...s.histogram.bounds]);
      copy.add(s.histogram);
      byKey.set(key, { labels: s.labels, histogram: copy });
    }
  }
  return [...byKey.values()];
}
