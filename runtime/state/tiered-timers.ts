/**
 * Timers of one keyed operator for one time domain, in two tiers (ADR 34): memory (a TimerQueue)
 * holds timers up to the horizon, the operator's timer table in the task's store holds timers
 * from the horizon on; the horizon's own timestamp may be split between them, never one timer.
 * A queue past its bound moves its latest timers to the store a bounded number at a time; the
 * store's timers fire from it, a slice of keys at a time, when time reaches them; and when memory
 * runs low, the earliest of them come back. Memory thus holds at most the bound (plus a round's
 * registrations), whatever the number of keys with timers.
 *
 * Order: timestamps ascend across both tiers (memory's due timers fire first: none is later than
 * the horizon); the keys of one timestamp fire in registration order in memory and in key order
 * from the store. Both are deterministic, and a restore rebuilds the same split (the horizon is
 * part of the snapshot).
 */
import type { Key } from "../api/functions.ts";
import type { KeyedStateBackend } from "./backend.ts";
import { encodeValue } from "./codec.ts";
import type { StateTable } from "./table.ts";
import { timerId, timerIdKey, timerIdTs } from "./timer-ids.ts";
import { TimerQueue } from "./timers.ts";

/** A stored timer's value: its presence is the timer. */
const PRESENT = true;
const PRESENT_BYTES = encodeValue(PRESENT);

/** Loads the state of a slice's keys (evicting first) before they fire. */
export type SliceLoader = (keys: Key[]) => Promise<void>;

/** Timers in memory up to a bound, the later ones in the state store. */
export class TieredTimers {
  /** The in-memory tier: timers up to the horizon. */
  readonly memory = new TimerQueue();
  private readonly table: StateTable<boolean>;
  private readonly backend: KeyedStateBackend;
  private horizonTs = Number.POSITIVE_INFINITY;
  /** No stored timer is earlier than this (infinity: none is known). */
  private nextStored = Number.POSITIVE_INFINITY;

  constructor(options: { backend: KeyedStateBackend; uid: string; domain: "event" | "processing" }) {
    this.backend = options.backend;
    this.table = options.backend.table<boolean>({ uid: options.uid, name: `\u0001${options.domain}-timers`, rawKeys: true });
  }

  /** Timers after this timestamp are in the store, and some at it may be (infinity: none). */
  get horizon(): number {
    return this.horizonTs;
  }

  /** Timers in memory plus stored timer entries held in the cache. */
  get size(): number {
    return this.memory.size + this.table.size;
  }

  /** Registers a timer; a duplicate (key, ts) is ignored. */
  register(key: Key, ts: number): void {
    const h = this.horizonTs;
    if (h === Number.POSITIVE_INFINITY || ts < h || (ts === h && this.memory.has(key, ts))) this.memory.register(key, ts);
    else {
      this.table.put(timerId(ts, key), PRESENT);
      this.backend.timersStored++;
      if (ts < this.nextStored) this.nextStored = ts;
    }
  }

  /** Deletes a timer if present. */
  delete(key: Key, ts: number): void {
    const h = this.horizonTs;
    if (h === Number.POSITIVE_INFINITY || ts <= h) this.memory.delete(key, ts);
    if (h !== Number.POSITIVE_INFINITY && ts >= h) this.table.remove(timerId(ts, key));
  }

  /**
   * When memory holds more than the backend's timer bound: moves its latest timers to the store
   * until it holds the bound less a slice (`sliceKeys`, a quarter of the cache bound) — what the
   * cache takes in at once stays a slice plus a round's registrations — never a timer at or
   * before `floor` (it may be firing). Within a timestamp the earliest registered move first; the
   * horizon becomes the lowest timestamp touched. Timers at infinite timestamps stay in memory.
   */
  spillOver(floor: number): void {
    const limit = this.backend.timerLimit;
    if (this.memory.size <= limit) return;
    let quota = this.memory.size - Math.max(0, limit - this.backend.sliceKeys);
    const counts = this.memory.countsByTimestamp();
    let lowest = Number.POSITIVE_INFINITY;
    for (let i = counts.length - 1; i >= 0 && quota > 0; i--) {
      const [ts, n] = counts[i] as [number, number];
      if (!(ts > floor)) break;
      if (!Number.isFinite(ts)) continue;
      this.moveToStore(ts, Math.min(n, quota));
      quota -= n;
      lowest = ts;
    }
    this.lowerHorizon(lowest);
  }

  private moveToStore(ts: number, n: number): void {
    const keys = this.memory.removeSome(ts, n);
    for (const k of keys) this.table.put(timerId(ts, k), PRESENT);
    this.backend.timersStored += keys.length;
  }

  private lowerHorizon(to: number): void {
    if (to < this.horizonTs) this.horizonTs = to;
    if (to < this.nextStored) this.nextStored = to;
  }

  /** Whether a stored timer may be due at `until`. */
  storedDue(until: number): boolean {
    return this.nextStored <= until;
  }

  /**
   * Fires the stored timers due at `until` in (timestamp, key) order, `sliceKeys` at a time:
   * `load` gets each slice's keys first. A timer deleted by an earlier callback does not fire;
   * one registered in the store for a due timestamp during the firing fires in it too.
   */
  async fireStored(until: number, sliceKeys: number, load: SliceLoader, fire: (key: Key, ts: number) => void): Promise<void> {
    while (this.nextStored <= until) {
      // Registrations during this pass lower it again; a pass that ends short of the end sets it.
      this.nextStored = Number.POSITIVE_INFINITY;
      for await (const ids of this.storedIds(sliceKeys)) {
        const beyond = ids.findIndex((id) => timerIdTs(id) > until);
        if (beyond !== 0) await this.fireSlice(beyond < 0 ? ids : ids.slice(0, beyond), load, fire);
        if (beyond >= 0) {
          this.nextStored = Math.min(this.nextStored, timerIdTs(ids[beyond] as string));
          break;
        }
      }
    }
  }

  /** The stored timer ids in (timestamp, key) order, `limit` at a time (each slice read after the caller handled the one before). */
  private async *storedIds(limit: number): AsyncGenerator<string[]> {
    let after: string | undefined;
    for (;;) {
      const slice = await this.backend.scanTable(this.table, after, limit);
      if (slice.keys.length > 0) yield slice.keys;
      if (slice.done) return;
      after = slice.last;
    }
  }

  private async fireSlice(ids: string[], load: SliceLoader, fire: (key: Key, ts: number) => void): Promise<void> {
    await load(ids.map(timerIdKey));
    // Installed after the load (whose eviction could drop them); cached ids keep their newer state.
    for (const id of ids) this.table.loadMissing(id, PRESENT_BYTES);
    for (const id of ids) {
      if (this.table.get(id) === undefined) continue; // deleted by an earlier callback
      this.table.remove(id);
      fire(timerIdKey(id), timerIdTs(id));
    }
  }

  /**
   * When memory holds under a quarter of its bound and timers are stored: moves the earliest
   * stored timers back until memory holds half the bound, and raises the horizon to the first
   * one left (infinity when none is). Returns undefined when there is nothing to do.
   */
  refill(): Promise<void> | undefined {
    const limit = this.backend.timerLimit;
    if (this.horizonTs === Number.POSITIVE_INFINITY || this.memory.size >= limit / 4) return undefined;
    return this.takeBack(limit / 2 - this.memory.size);
  }

  private async takeBack(budget: number): Promise<void> {
    const taken: string[] = [];
    let stopAt = Number.POSITIVE_INFINITY;
    scan: for await (const ids of this.storedIds(Math.max(1, Math.min(8192, Math.ceil(budget))))) {
      for (const id of ids) {
        if (taken.length >= budget) {
          stopAt = timerIdTs(id);
          break scan;
        }
        taken.push(id);
      }
    }
    for (const id of taken) {
      this.memory.register(timerIdKey(id), timerIdTs(id));
      this.table.remove(id);
    }
    this.horizonTs = stopAt;
    this.nextStored = stopAt;
  }

  /** The horizon to save with the memory timers (undefined when nothing is stored). */
  snapshotHorizon(): number | undefined {
    return this.horizonTs === Number.POSITIVE_INFINITY ? undefined : this.horizonTs;
  }

  /** Re-registers a timer of a snapshot's memory tier: in memory up to the horizon (its own timestamp included, as it was), else in the store. */
  restore(key: Key, ts: number): void {
    if (this.horizonTs === Number.POSITIVE_INFINITY || ts <= this.horizonTs) this.memory.register(key, ts);
    else this.register(key, ts);
  }

  /**
   * Restores a saved horizon: the stored timers from it on come with the keyed entries. Restored
   * from several parts, the lowest wins, and memory timers after it (another part's) move to the store.
   */
  restoreHorizon(horizon: number | undefined): void {
    if (horizon === undefined || !(horizon < this.horizonTs)) return;
    for (const [ts, n] of this.memory.countsByTimestamp()) if (ts > horizon && Number.isFinite(ts)) this.moveToStore(ts, n);
    this.lowerHorizon(horizon);
  }
}
