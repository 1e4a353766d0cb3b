/**
 * Event-time progress: per-partition watermark generation at sources (bounded
 * out-of-orderness, idleness) and the minimum across input channels at every operator.
 */

/** Smallest watermark: nothing is known yet (Flink's Long.MIN_VALUE). */
export const MIN_WATERMARK = -8.64e15;
/** Largest watermark: end of a bounded input; every timer fires. */
export const MAX_WATERMARK = 8.64e15;

/** Watermark generator of one source partition (Flink's BoundedOutOfOrdernessWatermarks). */
export class PartitionWatermarks {
  private maxTs = MIN_WATERMARK;
  private readonly bound: number;
  private readonly idleTimeout: number;
  private lastEventAt: number;
  private finished = false;

  constructor(options: { maxOutOfOrdernessMs: number; idleTimeoutMs: number; now: number }) {
    this.bound = options.maxOutOfOrdernessMs;
    this.idleTimeout = options.idleTimeoutMs;
    this.lastEventAt = options.now;
  }

  /** Observes a record's timestamp. */
  onEvent(ts: number): void {
    if (ts > this.maxTs) this.maxTs = ts;
  }

  /** Largest timestamp seen (checkpointed, so watermarks resume where they were). */
  get maxTimestamp(): number {
    return this.maxTs;
  }

  /** Restores the largest timestamp seen from a checkpoint. */
  restore(maxTimestamp: number): void {
    this.maxTs = maxTimestamp;
  }

  /** Records that the partition produced data at processing time `now` (resets idleness). */
  onActivity(now: number): void {
    this.lastEventAt = now;
  }

  /** Marks the partition as ended: its watermark jumps to MAX. */
  finish(): void {
    this.finished = true;
  }

  /** Current watermark: max timestamp - bound - 1. */
  current(): number {
    if (this.finished) return MAX_WATERMARK;
    return this.maxTs === MIN_WATERMARK ? MIN_WATERMARK : this.maxTs - this.bound - 1;
  }

  /** True when the partition has been silent past its idle timeout (never when finished). */
  isIdle(now: number): boolean {
    return !this.finished && this.idleTimeout > 0 && now - this.lastEventAt >= this.idleTimeout;
  }
}

/**
 * Combines the watermarks of an operator's input channels: the minimum over active channels;
 * idle channels do not hold it back; the combined watermark never goes backwards.
 */
export class WatermarkCombiner {
  private readonly wms: Float64Array;
  private readonly idle: Uint8Array;
  private combined = MIN_WATERMARK;
  private allIdle = false;

  constructor(channels: number) {
    this.wms = new Float64Array(channels).fill(MIN_WATERMARK);
    this.idle = new Uint8Array(channels);
  }

  /** Number of channels. */
  get channels(): number {
    return this.wms.length;
  }

  /** The combined watermark. */
  get current(): number {
    return this.combined;
  }

  /** True when every channel is idle. */
  get idleAll(): boolean {
    return this.allIdle;
  }

  /** Updates one channel; returns true when the combined watermark or idleness changed. */
  update(channel: number, wm: number, idle: boolean): boolean {
    const prevIdle = this.idle[channel] === 1;
    const prevWm = this.wms[channel] ?? MIN_WATERMARK;
    if (prevIdle === idle && (idle || wm <= prevWm)) return false;
    this.idle[channel] = idle ? 1 : 0;
    if (!idle && wm > prevWm) this.wms[channel] = wm;
    return this.recompute();
  }

  private recompute(): boolean {
    let min = Infinity;
    for (let i = 0; i < this.wms.length; i++) {
      if (this.idle[i] === 0) {
        const w = this.wms[i] ?? MIN_WATERMARK;
        if (w < min) min = w;
      }
    }
    const allIdle = min === Infinity;
    let changed = allIdle !== this.allIdle;
    this.allIdle = allIdle;
    if (!allIdle && min > this.combined) {
      this.combined = min;
      changed = true;
    }
    return changed;
  }
}
