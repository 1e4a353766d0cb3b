/**
 * One parallel instance of an operator, wired to its downstream: forward edges are direct
 * calls (operator chaining), hash and broadcast edges go through an Exchange. It combines its
 * input channels' watermarks and forwards its own.
 */
import type { Key } from "../api/functions.ts";
import { InternalError } from "../errors.ts";
import { MIN_WATERMARK, WatermarkCombiner } from "../time/watermarks.ts";
import type { Exchange, ExchangeBuffer } from "./exchange.ts";
import type { Operator, Output } from "./operator.ts";

/** A downstream connection of an instance. */
export type Target = { kind: "forward"; to: Instance; input: number; channel: number } | { kind: "exchange"; exchange: Exchange };

/** An operator instance plus its routing and watermark bookkeeping. */
export class Instance implements Output {
  /** The operator (a no-op for sources: the engine drives them). */
  readonly op: Operator;
  /** Node id. */
  readonly node: number;
  /** Task index. */
  readonly task: number;
  /** Combined watermark of the inputs. */
  combiner: WatermarkCombiner;
  /** Main-output targets. */
  readonly main: Target[] = [];
  /** Side-output targets by tag. */
  readonly side = new Map<string, Target[]>();
  /** Exchange inputs and the first combiner channel of each. */
  readonly exchangeInputs: { exchange: Exchange; channel: number }[] = [];
  /** Records this instance emitted (main and side outputs that lead somewhere); read by metrics. */
  recordsOut = 0;
  /** Records received over forward edges (exchange inputs count in their buffers); read by metrics. */
  forwardIn = 0;
  private lastWatermark = MIN_WATERMARK;
  private sentWatermark = Number.NaN;
  private sentIdle = false;

  constructor(options: { op: Operator; node: number; task: number }) {
    this.op = options.op;
    this.node = options.node;
    this.task = options.task;
    this.combiner = new WatermarkCombiner(0);
  }

  /** Emits to the main output. */
  emit(value: unknown, ts: number): void {
    this.recordsOut++;
    const targets = this.main;
    for (let i = 0; i < targets.length; i++) deliver(targets[i] as Target, value, ts);
  }

  /** Emits a record whose key is known already (read from a repartition topic): exchanges route by it as is. */
  emitKeyed(value: unknown, ts: number, key: Key): void {
    this.recordsOut++;
    const targets = this.main;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i] as Target;
      if (t.kind === "exchange") t.exchange.pushKeyed(value, ts, key);
      else deliver(t, value, ts);
    }
  }

  /** Emits to a side output. */
  emitSide(tag: string, value: unknown, ts: number): void {
    const targets = this.side.get(tag);
    if (targets === undefined) return;
    this.recordsOut++;
    for (let i = 0; i < targets.length; i++) deliver(targets[i] as Target, value, ts);
  }

  /** A forward input channel's watermark changed (synchronous path: non-keyed operators only). */
  onChannelWatermark(channel: number, wm: number, idle: boolean): void {
    if (!this.combiner.update(channel, wm, idle)) return;
    const w = this.combiner.current;
    if (w > this.lastWatermark && !this.combiner.idleAll) {
      this.lastWatermark = w;
      // Forward channels feed non-keyed operators only; their timers never fire in slices.
      if (this.op.onWatermark?.(w)) throw new InternalError("a keyed operator sits on a forward channel");
    }
    this.forwardWatermark(this.lastWatermark, this.combiner.idleAll);
  }

  /** Pulls exchange channel statuses into the combiner; true when something changed. */
  pullExchangeWatermarks(): boolean {
    let changed = false;
    for (const { exchange, channel } of this.exchangeInputs) {
      const wms = exchange.upstreamWatermark;
      for (let p = 0; p < wms.length; p++) {
        if (this.combiner.update(channel + p, wms[p] as number, exchange.upstreamIdle[p] === 1)) changed = true;
      }
    }
    return changed;
  }

  /** Keys of the coming batch when it spans several inputs (one array per instance). */
  readonly batchKeys: Key[] = [];
  private pendingWatermark: number | undefined;

  /** Phase one of a watermark advance: loads what the due timers will touch. */
  async prepareAdvance(): Promise<void> {
    const w = this.combiner.current;
    this.pendingWatermark = undefined;
    if (w > this.lastWatermark && !this.combiner.idleAll) {
      if (this.op.prepareWatermark) await this.op.prepareWatermark(w);
      this.pendingWatermark = w;
    }
  }

  /** Phase two: fires timers and forwards the watermark (in task order; a promise only when the firing goes in slices). */
  finishAdvance(): Promise<void> | undefined {
    const w = this.pendingWatermark;
    if (w !== undefined) {
      this.pendingWatermark = undefined;
      this.lastWatermark = w;
      const firing = this.op.onWatermark?.(w);
      if (firing) return firing.then(() => this.forwardWatermark(this.lastWatermark, this.combiner.idleAll));
    }
    this.forwardWatermark(this.lastWatermark, this.combiner.idleAll);
    return undefined;
  }

  /** Records this instance received: over forward edges plus those its exchange inputs handed it. */
  get recordsIn(): number {
    let n = this.forwardIn;
    for (const { exchange } of this.exchangeInputs) n += (exchange.buffers[this.task] as ExchangeBuffer).received;
    return n;
  }

  /** The operator's current watermark. */
  get watermark(): number {
    return this.lastWatermark;
  }

  /** Sends a watermark status downstream when it differs from the last one sent. */
  forwardWatermark(wm: number, idle: boolean): void {
    if (wm === this.sentWatermark && idle === this.sentIdle) return;
    this.sentWatermark = wm;
    this.sentIdle = idle;
    this.op.onWatermarkStatus?.(wm, idle);
    const send = (t: Target): void => {
      if (t.kind === "forward") t.to.onChannelWatermark(t.channel, wm, idle);
      else t.exchange.setWatermark(this.task, wm, idle);
    };
    this.main.forEach(send);
    for (const targets of this.side.values()) targets.forEach(send);
  }
}

function deliver(t: Target, value: unknown, ts: number): void {
  if (t.kind === "forward") {
    t.to.forwardIn++;
    t.to.op.processElement(t.input, value, ts, undefined as Key | undefined);
  } else t.exchange.push(value, ts);
}
