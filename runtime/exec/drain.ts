/**
 * Handing an exchange-fed operator its batch: load the keyed state the batch touches, run the
 * records through the operator chain in task order, then let watermarks advance (timers fire).
 * With LevelDB state a large single-input batch goes in slices whose reads overlap processing:
 * the next slice's getMany runs on the thread pool while this slice's records run on the main
 * thread.
 */
import type { Key } from "../api/functions.ts";
import type { Exchange, ExchangeBuffer } from "./exchange.ts";
import type { Instance } from "./instance.ts";

/** Records per slice of a pipelined drain: large enough that a read is worth splitting over the pool. */
export const DRAIN_SLICE = 4096;

/** The buffer of `head`'s only exchange input. */
function soleBuffer(head: Instance): { exchange: Exchange; buffer: ExchangeBuffer } {
  const { exchange } = head.exchangeInputs[0] as { exchange: Exchange };
  return { exchange, buffer: exchange.buffers[head.task] as ExchangeBuffer };
}

/** Loads the keyed state the buffered batch of one instance touches (LevelDB only). */
function prefetchFor(head: Instance): Promise<void> {
  const inputs = head.exchangeInputs;
  if (!head.op.prefetch) return Promise.resolve();
  // One input: its key array is the batch's key list as is.
  if (inputs.length === 1) {
    const b = soleBuffer(head).buffer;
    return b.size === 0 ? Promise.resolve() : head.op.prefetch(b.keys as Key[], b.size);
  }
  const keys = head.batchKeys;
  keys.length = 0;
  for (const { exchange } of inputs) {
    const b = exchange.buffers[head.task] as ExchangeBuffer;
    // Broadcast inputs carry no key.
    for (let i = 0; i < b.size; i++) {
      const k = b.keys[i];
      if (k !== undefined) keys.push(k);
    }
  }
  return keys.length === 0 ? Promise.resolve() : head.op.prefetch(keys, keys.length);
}

/** Lets an operator that looks things up outside the job load them for its buffered batch (one call per input). */
async function prepareBatchFor(head: Instance): Promise<void> {
  const op = head.op;
  if (op.prepareBatch === undefined) return;
  for (const { exchange } of head.exchangeInputs) {
    const b = exchange.buffers[head.task] as ExchangeBuffer;
    if (b.size > 0) await op.prepareBatch(exchange.input, b.values, b.size);
  }
}

/** Runs records [from, to) of one buffer through the instance's operator chain. */
function processRange(head: Instance, exchange: Exchange, b: ExchangeBuffer, from: number, to: number): void {
  const op = head.op;
  const { values, timestamps, keys } = b;
  const input = exchange.input;
  for (let i = from; i < to; i++) op.processElement(input, values[i], timestamps[i] as number, keys[i]);
}

/** Empties a processed buffer, keeping its arrays' capacity unless they grew beyond what a round needs. */
function release(b: ExchangeBuffer): void {
  const size = b.size;
  b.size = 0;
  if (b.values.length > size * 2 + 1024) {
    b.values.length = size;
    b.timestamps.length = size;
    b.keys.length = size;
  }
}

/** Runs the buffered batch of one instance through its operator chain. */
function processBuffered(head: Instance): number {
  let n = 0;
  for (const { exchange } of head.exchangeInputs) {
    const b = exchange.buffers[head.task] as ExchangeBuffer;
    processRange(head, exchange, b, 0, b.size);
    n += b.size;
    release(b);
  }
  return n;
}

/** Whether the group's batch can go in pipelined slices: keyed heads with one input each, no outside lookups, more than one slice. */
function pipelinable(group: Instance[]): boolean {
  let records = 0;
  for (const h of group) {
    if (h.exchangeInputs.length !== 1 || h.op.prefetch === undefined || h.op.prepareBatch !== undefined) return false;
    records += soleBuffer(h).buffer.size;
  }
  return records > DRAIN_SLICE;
}

/** Processes the group's batch slice by slice in task order, each slice's read started while the one before runs. */
async function processPipelined(group: Instance[]): Promise<number> {
  const slices: { head: Instance; from: number; to: number }[] = [];
  for (const head of group) {
    const size = soleBuffer(head).buffer.size;
    for (let from = 0; from < size; from += DRAIN_SLICE) slices.push({ head, from, to: Math.min(size, from + DRAIN_SLICE) });
  }
  const read = (i: number): Promise<void> | undefined => {
    const s = slices[i];
    if (s === undefined) return undefined;
    const { buffer } = soleBuffer(s.head);
    return s.head.op.prefetch?.(buffer.keys as Key[], s.to - s.from, s.from);
  };
  let next = read(0);
  let n = 0;
  for (let i = 0; i < slices.length; i++) {
    await next;
    // Keys of the next slice that this one loads are cached by now and not read again; what the
    // next read returns never replaces a cached entry (StateTable.loadMissing).
    next = read(i + 1);
    const { head, from, to } = slices[i] as { head: Instance; from: number; to: number };
    const { exchange, buffer } = soleBuffer(head);
    processRange(head, exchange, buffer, from, to);
    n += to - from;
  }
  for (const head of group) release(soleBuffer(head).buffer);
  return n;
}

/**
 * Hands every task of one exchange-fed operator its batch. State reads of all tasks run
 * concurrently (LevelDB reads in its thread pool), or in slices that overlap processing; records
 * and timers are processed in task order, so the output order stays deterministic.
 */
export async function drainNode(group: Instance[], persistent: boolean): Promise<number> {
  let n = 0;
  if (persistent && pipelinable(group)) n = await processPipelined(group);
  else {
    if (persistent) await Promise.all(group.map(prefetchFor));
    if (group.some((h) => h.op.prepareBatch !== undefined)) await Promise.all(group.map(prepareBatchFor));
    for (const head of group) n += processBuffered(head);
  }
  const advancing = group.filter((h) => h.pullExchangeWatermarks());
  if (advancing.length === 0) return n;
  await Promise.all(advancing.map((h) => h.prepareAdvance()));
  for (const h of advancing) {
    // Usually synchronous; a firing too large for the cache loads and evicts as it goes.
    const firing = h.finishAdvance();
    if (firing) await firing;
  }
  return n;
}
