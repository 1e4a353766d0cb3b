/**
 * The matching engine: an interpreter over the plan's stage list. A partial match ("run") is a
 * small record — the stage it is at, the events taken there, the events taken so far (a shared
 * linked list) and its start — plus a bit mask over its *positions*. A run at stage s with c
 * events taken stands for several places the match may be at once: still in stage s (more
 * events for it) and, when s has enough events, already waiting at s+1, and past s+1 when that
 * one is optional, and so on. Each position applies its own contiguity to every event: it takes
 * the event (a new run), ignores it (the position survives) or dies; a run dies with its last
 * position. Keeping the positions in one record means the event list is shared and a run is
 * only allocated when an event is taken; a surviving run is updated in place.
 *
 * Order: runs are kept sorted by start (new runs start at the end; a run's successors take its
 * place), so `within` expires a prefix and skip strategies prune a prefix. Matches completed by
 * one event come out in run order; with a skip strategy other than noSkip they are held back
 * while an earlier-started run lives (it could still complete and prune them), and released in
 * start order.
 */
import type { Key } from "../api/functions.ts";
import type { PatternContext } from "./conditions.ts";
import { eventsOfStage, type EventNode } from "./events.ts";
import { ANY, RELAXED, type CompiledCondition, type Plan, type Stage } from "./plan.ts";
import { skipTarget } from "./skip.ts";

/** A partial match. Plain data: it lives in keyed state and is checkpointed as is. */
export interface Run {
  /** Stage of position 0. */
  s: number;
  /** Events taken in stage s. */
  c: number;
  /** Dead positions: bit i is the position at stage s + i (s + i = stage count: the end, for end guards). */
  d: number;
  /** 1 until an event arrives after the last take (notNext guards check only that event). */
  f: number;
  /** Events taken, newest first. */
  l: EventNode;
  /** Sequence number of the first event. */
  q: number;
  /** Timestamp of the first event (`within`). */
  t: number;
}

/** A complete match held back by the skip strategy. */
export interface Held {
  /** Sequence number of its first event. */
  q: number;
  /** Its events. */
  l: EventNode;
}

/** A key's CEP state: the event-time buffer, timers, partial and held matches. */
export interface CepKeyState {
  /** Buffered timestamps (arrival order). */
  bt: number[];
  /** Buffered events, parallel to bt. */
  be: unknown[];
  /** Registered timer for the earliest buffered event. */
  t: number | undefined;
  /** Registered timer for the earliest `within` expiry. */
  w: number | undefined;
  /** Sequence number of the next event fed to the matcher. */
  n: number;
  /** Partial matches, sorted by start. */
  r: Run[];
  /** Held matches, sorted by start; undefined until one is held. */
  h: Held[] | undefined;
}

/** The state of a key that just received its first event. */
export function newKeyState(ts: number, event: unknown): CepKeyState {
  return { bt: [ts], be: [event], t: ts, w: undefined, n: 0, r: [], h: undefined };
}

/** Where the matcher delivers results. */
export interface MatchSink {
  /** A complete match. */
  match(list: EventNode): void;
  /** A partial match dropped by `within` (called only when timeouts are reported). */
  timeout(list: EventNode, at: number): void;
}

/** Runs a plan over keys' states; one per task (it owns scratch buffers and a condition cache). */
export class Matcher<T> {
  private readonly plan: Plan<T>;
  private readonly stages: readonly Stage<T>[];
  /** Index of the last position a run may be at: the end itself when end guards wait there. */
  private readonly limit: number;
  private readonly reportTimeouts: boolean;
  private readonly stageIndex: Map<string, number>;
  /** Per-event cache of non-iterative condition results: valid when stamp[slot] === tick. */
  private readonly stamp: number[];
  private readonly result: boolean[];
  private tick = 0;
  private out: Run[] = [];
  private readonly doneList: EventNode[] = [];
  private readonly doneStart: number[] = [];
  /** Chain end of the last step (bit of its last position). */
  private lastBit = 1;
  private curList: EventNode | null = null;
  private curTs = 0;
  private curKey: Key = "";
  private readonly ctx: PatternContext<T>;

  constructor(plan: Plan<T>, reportTimeouts: boolean) {
    this.plan = plan;
    this.stages = plan.stages;
    this.limit = plan.endGuard ? plan.stages.length : plan.stages.length - 1;
    this.reportTimeouts = reportTimeouts;
    this.stageIndex = new Map(plan.names.map((n, i) => [n, i]));
    this.stamp = new Array<number>(plan.slots).fill(-1);
    this.result = new Array<boolean>(plan.slots).fill(false);
    const eventsFor = (stage: string): readonly T[] => {
      const i = this.stageIndex.get(stage);
      return i === undefined ? [] : eventsOfStage<T>(this.curList, i);
    };
    this.ctx = { eventsFor, timestamp: () => this.curTs, key: () => this.curKey };
  }

  /** Drops the runs `within` expired at time `t` (first event time + within <= t); holds or emits what that completes. */
  advanceTime(st: CepKeyState, t: number, sink: MatchSink): void {
    const w = this.plan.windowMs;
    const runs = st.r;
    if (w === 0 || runs.length === 0 || (runs[0] as Run).t + w > t) return;
    let k = 0;
    for (; k < runs.length; k++) {
      const r = runs[k] as Run;
      if (r.t + w > t) break;
      // A match that only waits behind end guards (the pattern ends with a NOT stage) is complete now.
      if (this.plan.endGuard && this.endAlive(r)) {
        this.doneList.push(r.l);
        this.doneStart.push(r.q);
      } else if (this.reportTimeouts) sink.timeout(r.l, r.t + w);
    }
    runs.splice(0, k);
    this.finish(st, sink);
  }

  /**
   * Feeds one event (timestamp `ts`, key `key`) to the key's runs and starts new ones. Events
   * come in timestamp order, with advanceTime(st, ts) called before the first event at each `ts`.
   */
  process(st: CepKeyState, event: T, ts: number, key: Key, sink: MatchSink): void {
    this.tick++;
    this.curTs = ts;
    this.curKey = key;
    const seq = st.n++;
    const out = this.out;
    out.length = 0;
    for (const r of st.r) {
      let d = this.step(r.s, r.c, r.d, r.f, r.l, r.q, r.t, event, seq, false);
      const full = ((this.lastBit << 1) - 1) | 0;
      d &= full;
      if (d === full) continue;
      // Position 0 dead: the run now starts at its first live position.
      let s = r.s;
      let c = r.c;
      while ((d & 1) !== 0) {
        s++;
        c = 0;
        d >>>= 1;
      }
      r.s = s;
      r.c = c;
      r.d = d;
      r.f = 0;
      out.push(r);
    }
    // Every event may start a match; the virtual run at stage 0 only keeps what it takes.
    this.step(0, 0, 0, 0, null, seq, ts, event, seq, true);
    this.out = st.r;
    st.r = out;
    this.finish(st, sink);
  }

  /** Result of a condition for the current event, computed once per event unless iterative. */
  private holds(c: CompiledCondition<T>, e: T, list: EventNode | null): boolean {
    if (c.iterative) {
      this.curList = list;
      return c.test(e, this.ctx);
    }
    const slot = c.slot;
    if (this.stamp[slot] === this.tick) return this.result[slot] as boolean;
    const v = c.test(e, this.ctx);
    this.stamp[slot] = this.tick;
    this.result[slot] = v;
    return v;
  }

  /** A stage holding `n` events lets the match move on. */
  private canExit(j: number, n: number): boolean {
    const st = this.stages[j] as Stage<T>;
    return n >= st.min || (n === 0 && st.optional);
  }

  /**
   * Applies event `e` to each live position of the run (s, c, d): takes (pushing new runs to
   * `out`), ignores or dies. Returns the new dead mask; `lastBit` is left at the chain's end.
   */
  private step(s: number, c: number, d: number, fresh: number, list: EventNode | null, q: number, t0: number, e: T, seq: number, isNew: boolean): number {
    const n = this.stages.length;
    // NOT stages guard the gap after the last taken event: a forbidden event kills every
    // position of that gap (all but "more of the same stage").
    let guardHit = false;
    if (list !== null) {
      const guards = (this.stages[list.s] as Stage<T>).guards;
      for (let g = 0; g < guards.length && !guardHit; g++) {
        const guard = guards[g] as (typeof guards)[number];
        if (guard.nextOnly && fresh === 0) continue;
        guardHit = this.holds(guard.cond, e, list);
      }
    }
    let j = s;
    let cnt = c;
    let bit = 1;
    for (;;) {
      if ((d & bit) === 0) {
        if (guardHit && (j !== s || c === 0)) d |= bit;
        else if (j === n) {
          // The end, behind end guards: notNext completes on the first event that is not forbidden.
          if (!this.plan.endGuardUntilWithin) {
            this.doneList.push(list as EventNode);
            this.doneStart.push(q);
            d |= bit;
          }
        } else {
          const stage = this.stages[j] as Stage<T>;
          if (stage.until !== undefined && this.holds(stage.until, e, list)) d |= bit;
          else {
            const taken = stage.cond === undefined || this.holds(stage.cond, e, list);
            if (taken) this.take(j, cnt + 1, list, e, seq, q, t0);
            const mode = j === s && c > 0 ? stage.inner : stage.entry;
            if (isNew || (mode !== ANY && (mode !== RELAXED || taken))) d |= bit;
            if (taken && stage.greedy) {
              // Greedy: while the stage takes events, the match does not move past it.
              d |= ~((bit << 1) - 1);
            }
          }
        }
      }
      if (j >= this.limit || !this.canExit(j, cnt)) break;
      j++;
      cnt = 0;
      bit <<= 1;
    }
    this.lastBit = bit;
    return d;
  }

  /** Stage j takes e as its n-th event: a new run (when anything can follow) and maybe a complete match. */
  private take(j: number, n: number, list: EventNode | null, e: T, seq: number, q: number, t0: number): void {
    const node: EventNode = { e, s: j, q: seq, p: list };
    const stage = this.stages[j] as Stage<T>;
    const exits = n >= stage.min;
    if (exits && stage.lastRequired && !this.plan.endGuard) {
      this.doneList.push(node);
      this.doneStart.push(q);
    }
    if (n < stage.max) this.out.push({ s: j, c: n, d: 0, f: 1, l: node, q, t: t0 });
    else if (exits && j < this.limit) this.out.push({ s: j + 1, c: 0, d: 0, f: 1, l: node, q, t: t0 });
  }

  /** The run's end position (behind end guards) is live. */
  private endAlive(r: Run): boolean {
    const n = this.stages.length;
    let cnt = r.c;
    for (let j = r.s; j < n; j++, cnt = 0) if (!this.canExit(j, cnt)) return false;
    return (r.d & (1 << (n - r.s))) === 0;
  }

  /** Emits (noSkip) or holds the matches completed since the last call, then releases what may go. */
  private finish(st: CepKeyState, sink: MatchSink): void {
    const list = this.doneList;
    const start = this.doneStart;
    if (this.plan.skip === "noSkip") {
      for (let i = 0; i < list.length; i++) sink.match(list[i] as EventNode);
      list.length = 0;
      start.length = 0;
      return;
    }
    if (list.length > 0) {
      const h = (st.h ??= []);
      for (let i = 0; i < list.length; i++) {
        const q = start[i] as number;
        // Stable insertion by start: equal starts keep completion order.
        let at = h.length;
        while (at > 0 && (h[at - 1] as Held).q > q) at--;
        h.splice(at, 0, { q, l: list[i] as EventNode });
      }
      list.length = 0;
      start.length = 0;
    }
    const h = st.h;
    if (h === undefined) return;
    while (h.length > 0) {
      const m = h[0] as Held;
      const first = st.r[0];
      // An earlier-started run could still complete and discard this match: wait for it.
      if (first !== undefined && first.q < m.q) break;
      h.shift();
      sink.match(m.l);
      const target = skipTarget(this.plan.skip, this.plan.skipStage, m.q, m.l);
      if (target > 0) {
        let k = 0;
        while (k < st.r.length && (st.r[k] as Run).q < target) k++;
        if (k > 0) st.r.splice(0, k);
        k = 0;
        while (k < h.length && (h[k] as Held).q < target) k++;
        if (k > 0) h.splice(0, k);
      }
    }
    if (h.length === 0) st.h = undefined;
  }
}
