/**
 * EnginePeers over MessagePorts, in one thread of a local run (ADR 36): a port to every other
 * thread for records and watermarks, and the thread's port to the main thread, which agrees on
 * each round's end and completes checkpoints. Each message from a peer is one exchange step of
 * an operator; they are taken per operator in the order sent. In a pipelined round a step takes
 * the peers' steps of the operator up to LAG rounds ago, in a lockstep round every step sent so
 * far, this round's included.
 */
import type { MessagePort } from "node:worker_threads";
import { carriedSymbols, restoreSymbols } from "../record-codec.ts";
import { fromColumns, toColumns } from "./columns.ts";
import { CheckpointError, InternalError } from "../../errors.ts";
import { append, type Exchange, type ExchangeBuffer } from "../exchange.ts";
import type { EnginePeers, RoundAgreement } from "../peers.ts";
import type { FromRunThread, PeerExchange, RecordBatch, ToRunThread } from "./protocol.ts";

/** The main thread as a thread sees it. */
export interface ControlPort {
  postMessage(message: FromRunThread): void;
  on(event: "message", listener: (message: ToRunThread) => void): unknown;
}

/** Options of portPeers. */
export interface PortPeersOptions {
  /** This thread's index. */
  thread: number;
  /** A port to each other thread, by thread index (undefined at this thread's own). */
  ports: readonly (MessagePort | undefined)[];
  /** The thread that runs each task. */
  ownerOf: (task: number) => number;
  /** Nodes every thread runs for every task (broadcast inputs): their watermarks are local everywhere. */
  replicated: ReadonlySet<number>;
  control: ControlPort;
  /** What the round report carries beside the round (progress for the main thread's display). */
  roundExtras: () => Omit<Extract<FromRunThread, { type: "round" }>, "type" | "moved" | "sourcesDone">;
}

/** A queue of messages from one port, each taken by the step waiting for it. */
function inbox<T>(): { put(m: T): void; take(): Promise<T> } {
  const ready: T[] = [];
  const waiting: ((m: T) => void)[] = [];
  return {
    put(m) {
      const w = waiting.shift();
      if (w) w(m);
      else ready.push(m);
    },
    take() {
      const m = ready.shift();
      return m === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(m);
    },
  };
}

/**
 * How many rounds a thread may run ahead of another: a pipelined step takes the peers' step of
 * LAG rounds ago, and a round's end applies the agreement on the round LAG before it. A GC pause
 * or a slower round in one thread is absorbed instead of stalling the other at once; 2 measured
 * best (ADR 36).
 */
const LAG = 2;

/** What the ends of the first LAG rounds apply: there is no agreement on an earlier round. */
const FIRST_AGREEMENT: RoundAgreement = { moved: true, finished: false, checkpoint: false, stop: false, lockstep: true };

/** Creates the peers of one thread's engine. */
export function portPeers(options: PortPeersOptions): EnginePeers {
  const { thread, ports, ownerOf, replicated, control } = options;
  const peers = ports.flatMap((p, i) => (p && i !== thread ? [i] : []));
  // Per peer, one queue per operator: a lockstep step takes up to LAG + 1 of an operator's messages while the other operators' wait.
  const inboxes = ports.map((p) => {
    if (!p) return undefined;
    const boxes = new Map<number, ReturnType<typeof inbox<PeerExchange>>>();
    const box = (node: number): ReturnType<typeof inbox<PeerExchange>> => {
      let b = boxes.get(node);
      if (b === undefined) boxes.set(node, (b = inbox<PeerExchange>()));
      return b;
    };
    p.on("message", (m: PeerExchange) => box(m.node).put(m));
    return box;
  });
  // Steps each operator took, and how many of each peer's steps of it were taken in.
  const steps = new Map<number, number>();
  const taken = ports.map(() => new Map<number, number>());
  // The first LAG + 1 rounds (and the drain after a restore) run in lockstep: no agreement says otherwise yet.
  let lockstep = true;
  let rounds = 0;
  const agreements = inbox<RoundAgreement>();
  const snapshots = inbox<Extract<ToRunThread, { type: "snapshotDone" | "snapshotFailed" }>>();
  control.on("message", (m) => {
    if (m.type === "agreed") agreements.put(m.agreement);
    else snapshots.put(m);
  });
  let exchanges: readonly Exchange[] = [];
  let owned: ReadonlySet<number> = new Set();

  /** What this engine sends each peer before `node` drains (and the buffers to move with it); empties the buffers it sends. */
  function outgoing(node: number, step: number): Map<number, { message: PeerExchange; transfer: ArrayBuffer[] }> {
    const out = new Map(
      peers.map((p) => [
        p,
        { message: { node, step, batches: [] as RecordBatch[], watermarks: [] as PeerExchange["watermarks"] }, transfer: [] as ArrayBuffer[] },
      ]),
    );
    for (const [x, ex] of exchanges.entries()) {
      if (ex.to !== node) continue;
      // Broadcast exchanges hold only this engine's tasks (every thread reads their inputs in full).
      if (ex.partitioning !== "broadcast") {
        for (const [task, b] of ex.buffers.entries()) {
          if (b.size === 0 || owned.has(task)) continue;
          const to = out.get(ownerOf(task)) as { message: PeerExchange; transfer: ArrayBuffer[] };
          to.message.batches.push(take(b, x, task, to.transfer));
        }
      }
      if (replicated.has(ex.from)) continue;
      for (const task of owned) {
        const wm: PeerExchange["watermarks"][number] = [x, task, ex.upstreamWatermark[task] as number, ex.upstreamIdle[task] as number];
        for (const m of out.values()) m.message.watermarks.push(wm);
      }
    }
    return out;
  }

  /** Takes what another engine sent into this engine's buffers. */
  function incoming(m: PeerExchange, node: number, step: number, from: number): void {
    if (m.step !== step)
      throw new InternalError(`thread ${from} sent step ${m.step} of operator ${node} where thread ${thread} takes step ${step}: the threads' rounds diverged`);
    for (const b of m.batches) put((exchanges[b.exchange] as Exchange).buffers[b.task] as ExchangeBuffer, b);
    for (const [x, task, wm, idle] of m.watermarks) (exchanges[x] as Exchange).setWatermark(task, wm, idle === 1);
  }

  return {
    attach(all, tasks) {
      exchanges = all;
      owned = tasks;
    },
    async exchange(node) {
      const step = (steps.get(node) ?? 0) + 1;
      steps.set(node, step);
      for (const [p, { message, transfer }] of outgoing(node, step)) (ports[p] as MessagePort).postMessage(message, transfer);
      const upTo = lockstep ? step : step - LAG;
      for (const p of peers) {
        const done = taken[p] as Map<number, number>;
        const box = (inboxes[p] as (node: number) => ReturnType<typeof inbox<PeerExchange>>)(node);
        for (let s = (done.get(node) ?? 0) + 1; s <= upTo; s++) {
          incoming(await box.take(), node, s, p);
          done.set(node, s);
        }
      }
    },
    async endRound(report) {
      control.postMessage({ type: "round", ...report, ...options.roundExtras() });
      // LAG rounds late: the agreement on round r - LAG (the others need not have ended this one).
      const agreed = rounds++ < LAG ? FIRST_AGREEMENT : await agreements.take();
      lockstep = agreed.lockstep;
      return agreed;
    },
    async completeSnapshot(dir, part) {
      control.postMessage({ type: "snapshot", dir, part });
      const answer = await snapshots.take();
      // As on one thread: a snapshot whose metadata could not be written (a full disk) is a checkpoint error, retriable as the main thread found it.
      if (answer.type === "snapshotFailed") throw new CheckpointError(`completing the snapshot in ${dir} failed: ${answer.message}`, answer.retriable);
      if (answer.dir !== dir) throw new InternalError(`the main thread completed ${answer.dir} while thread ${thread} waited for ${dir}`);
    },
  };
}

/** Puts a buffer's records into one batch (what to transfer with it beside) and empties the buffer. */
function take(b: ExchangeBuffer, exchange: number, task: number, transfer: ArrayBuffer[]): RecordBatch {
  const n = b.size;
  b.size = 0;
  const symbols: RecordBatch["symbols"] = [];
  for (let i = 0; i < n; i++) {
    const carried = carriedSymbols(b.values[i]);
    if (carried) symbols.push([i, carried]);
  }
  const columns = toColumns(b.values, n);
  const timestamps = new Float64Array(n);
  for (let i = 0; i < n; i++) timestamps[i] = b.timestamps[i] as number;
  transfer.push(...columns.transfer, timestamps.buffer);
  const keys = numberKeys(b.keys, n);
  if (keys instanceof Float64Array) transfer.push(keys.buffer as ArrayBuffer);
  const batch = { exchange, task, values: columns.batch, symbols, timestamps, keys };
  // What was sent is not held here too.
  b.values.fill(undefined, 0, n);
  b.keys.fill(undefined, 0, n);
  return batch;
}

/** The first `n` keys: in a Float64Array (moved, not cloned) when all are numbers, as most are. */
function numberKeys(keys: readonly unknown[], n: number): RecordBatch["keys"] {
  const numbers = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    if (typeof k !== "number") return keys.slice(0, n) as RecordBatch["keys"];
    numbers[i] = k;
  }
  return numbers;
}

/** Appends a batch another engine sent to this engine's buffer. */
function put(buffer: ExchangeBuffer, batch: RecordBatch): void {
  const { timestamps, keys } = batch;
  const values = fromColumns(batch.values);
  for (const [i, carried] of batch.symbols) restoreSymbols(values[i], carried);
  for (let i = 0; i < values.length; i++) append(buffer, values[i], timestamps[i] as number, keys[i]);
}
