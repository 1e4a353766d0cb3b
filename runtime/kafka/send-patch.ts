/**
 * The third change Runnel makes to kafkajs's internals (the others: batch-patch.ts,
 * coordinator-cache.ts): two costs of every send. kafkajs 2.2.x groups a send's messages by partition with
 * `Object.assign(result, { [p]: [...current, message] })` per message: the partition's array is
 * copied for every message added, so a send of n messages over p partitions copies about n²/2p
 * elements. A repartition topic's send of one round (16,384 records over 12 partitions) spent
 * more time there than in everything else the producer does (profile of the keyed window job,
 * 2026-12-06). This module replaces the grouping with one that pushes: the same object, the same
 * arrays in the same order, in linear time. And kafkajs encodes each record with a fresh Encoder
 * whose buffer comes from `Buffer.alloc` (a zero-filled ArrayBuffer of its own, 512 bytes, per
 * record; a sixth of the job's CPU with the GC it causes): its buffers now come from
 * `Buffer.allocUnsafe`, Node's shared pool for small sizes, and its varints (several per record)
 * are written in place instead of through a `Buffer.from` of a byte array each. An Encoder only ever exposes the bytes
 * it wrote (`buffer` is the slice up to its offset), so no stale pool bytes are sent.
 *
 * kafkajs's modules capture these when they are first loaded, so the replacements must be in the
 * module cache before that: every runtime module that loads kafkajs imports this module first.
 * When kafkajs was loaded earlier in the process (a test helper that imports it directly), the
 * originals stay, but for the Encoder's growth (a prototype method): only speed differs.
 */
import { createRequire } from "node:module";
import { kafkajsVersionChecked } from "./batch-patch.ts";

/** A message as kafkajs's partitioner sees it (opaque here). */
type Message = unknown;

/** Arguments of kafkajs's groupMessagesPerPartition. */
interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: Message[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: Message }) => number;
}

/** kafkajs's grouping, in linear time: partition → its messages, in send order. */
export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, Message[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, Message[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

/** Marks the linear grouping (an earlier copy of this module, e.g. in another test file, may have installed its own). */
const LINEAR = "runnelLinear";

/** Whether kafkajs's sends group in linear time (false: kafkajs was loaded before this module). */
export const linearGroupingInstalled: boolean = install();

/** kafkajs's Encoder, as far as the pooled constructor needs it. */
interface EncoderClass {
  prototype: { buf: Buffer; offset: number; ensureAvailable(length: number): void; writeUVarInt(value: number): unknown };
  nextPowerOfTwo(value: number): number;
  runnelPooled?: boolean;
}

/** Writes `value` as kafkajs's writeUVarInt does (the same bytes: LEB128 of its 32 bits), in place. */
export function writeUVarIntInPlace(this: { buf: Buffer; offset: number; ensureAvailable(length: number): void }, value: number): unknown {
  this.ensureAvailable(5);
  let v = value;
  while ((v & 0xffffff80) !== 0) {
    this.buf[this.offset++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  this.buf[this.offset++] = v & 0x7f;
  return this;
}

/** Makes kafkajs's Encoders take their buffers from Node's pool and write varints in place (see the module comment). */
function installPooledEncoder(require: NodeJS.Require): void {
  const path = require.resolve("kafkajs/src/protocol/encoder.js");
  const loadedBefore = require.cache[path] !== undefined;
  const Encoder = require(path) as EncoderClass;
  if (Encoder.runnelPooled === true) return;
  Encoder.prototype.ensureAvailable = function ensureAvailable(this: { buf: Buffer; offset: number }, length: number): void {
    if (this.offset + length <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  };
  Encoder.prototype.writeUVarInt = writeUVarIntInPlace;
  const mod = require.cache[path];
  if (loadedBefore || mod === undefined) return;
  // A function constructor sharing the class's prototype and statics: `new`, instanceof and
  // every method behave as before; only where the first buffer comes from differs.
  function PooledEncoder(this: { buf: Buffer; offset: number }, initialSize = 511): void {
    this.buf = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(initialSize));
    this.offset = 0;
  }
  PooledEncoder.prototype = Encoder.prototype;
  Object.setPrototypeOf(PooledEncoder, Encoder);
  Object.assign(PooledEncoder, { runnelPooled: true });
  mod.exports = PooledEncoder;
}

function install(): boolean {
  kafkajsVersionChecked();
  const require = createRequire(import.meta.url);
  installPooledEncoder(require);
  const sendMessages = require.resolve("kafkajs/src/producer/sendMessages.js");
  const grouping = require.resolve("kafkajs/src/producer/groupMessagesPerPartition.js");
  if ((require.cache[grouping]?.exports as Record<string, unknown> | undefined)?.[LINEAR] === true) return true;
  if (require.cache[sendMessages] !== undefined) return false;
  require(grouping);
  const mod = require.cache[grouping];
  if (mod === undefined) return false;
  mod.exports = Object.assign((args: GroupArgs) => groupMessagesPerPartition(args), { [LINEAR]: true });
  return true;
}
