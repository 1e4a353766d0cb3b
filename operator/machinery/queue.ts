/**
 * The work queue every controller pulls from: keys (`namespace/name`), never objects, so many
 * events for one object collapse into one reconcile of its latest state. A key is queued at most
 * once, and never handed out while it is being processed: adding a key in flight marks it dirty
 * and it is queued again when `done()` is called. Retries back off per key, exponentially with
 * jitter, so one failing object never starves the others or hammers the apiserver.
 */

/** Per-key exponential backoff: base·2^failures, capped, with ±jitter. */
export interface BackoffOptions {
  /** First retry delay (default 500 ms). */
  baseMs?: number;
  /** Largest delay (default 5 min). */
  maxMs?: number;
  /** Fraction of the delay randomised each way (default 0.2: 80 %…120 %). */
  jitter?: number;
  /** Random numbers in [0, 1) (tests). */
  random?: () => number;
}

/** What the queue reports to metrics. */
export interface QueueObserver {
  /** A key was handed out after waiting `waitedMs` in the queue. */
  onGet?(waitedMs: number): void;
  /** A retry was scheduled after a failure. */
  onRetry?(): void;
  /** The number of queued keys changed. */
  onDepth?(depth: number): void;
}

/** Options of a work queue. */
export interface WorkQueueOptions {
  backoff?: BackoffOptions;
  observer?: QueueObserver;
  /** The clock (tests). */
  now?: () => number;
}

/** A de-duplicating, per-key rate-limited work queue. */
export interface WorkQueue {
  /** Queues `key` now (no-op if queued; marks dirty if in flight). */
  add(key: string): void;
  /** Queues `key` after `delayMs` (an earlier pending delay for the key wins). */
  addAfter(key: string, delayMs: number): void;
  /** Queues `key` after its next backoff delay and counts a failure for it. */
  addRateLimited(key: string): void;
  /** Clears `key`'s failure count (after a success). */
  forget(key: string): void;
  /** Failures counted for `key` since its last success. */
  failures(key: string): number;
  /** Waits for the next key; undefined once shut down. The caller must call done(key). */
  get(): Promise<string | undefined>;
  /** Ends processing of `key`; a key added meanwhile is queued again. */
  done(key: string): void;
  /** Keys queued now (not in flight, not delayed). */
  depth(): number;
  /** Stops handing out keys; pending get() calls resolve undefined. */
  shutdown(): void;
}

/** The delay before retry number `failures` (1-based) of a key. */
export function backoffDelay(failures: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 300_000;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const raw = Math.min(max, base * 2 ** Math.max(0, failures - 1));
  return Math.max(0, Math.round(raw * (1 - jitter + 2 * jitter * random())));
}

/** Creates a work queue. */
export function createWorkQueue(options: WorkQueueOptions = {}): WorkQueue {
  const now = options.now ?? Date.now;
  const observer = options.observer ?? {};
  /** Queued keys in order, with when each was queued. */
  const queue = new Map<string, number>();
  const processing = new Set<string>();
  const dirty = new Set<string>();
  const failureCounts = new Map<string, number>();
  const delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  const waiters: ((key: string | undefined) => void)[] = [];
  let closed = false;

  const depthChanged = (): void => observer.onDepth?.(queue.size);

  function hand(key: string, queuedAt: number): string {
    processing.add(key);
    observer.onGet?.(now() - queuedAt);
    return key;
  }

  function add(key: string): void {
    if (closed) return;
    if (processing.has(key)) {
      dirty.add(key);
      return;
    }
    if (queue.has(key)) return;
    const waiter = waiters.shift();
    if (waiter) {
      waiter(hand(key, now()));
      return;
    }
    queue.set(key, now());
    depthChanged();
  }

  function addAfter(key: string, delayMs: number): void {
    if (closed) return;
    if (delayMs <= 0) return add(key);
    const at = now() + delayMs;
    const pending = delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      delayed.delete(key);
      add(key);
    }, delayMs);
    timer.unref();
    delayed.set(key, { at, timer });
  }

  return {
    add,
    addAfter,
    addRateLimited(key) {
      const n = (failureCounts.get(key) ?? 0) + 1;
      failureCounts.set(key, n);
      observer.onRetry?.();
      addAfter(key, backoffDelay(n, options.backoff));
    },
    forget: (key) => void failureCounts.delete(key),
    failures: (key) => failureCounts.get(key) ?? 0,
    async get() {
      if (closed) return undefined;
      const first = queue.entries().next();
      if (!first.done) {
        const [key, queuedAt] = first.value;
        queue.delete(key);
        depthChanged();
        return hand(key, queuedAt);
      }
      return new Promise<string | undefined>((resolve) => waiters.push(resolve));
    },
    done(key) {
      processing.delete(key);
      if (dirty.delete(key)) add(key);
    },
    depth: () => queue.size,
    shutdown() {
      closed = true;
      for (const d of delayed.values()) clearTimeout(d.timer);
      delayed.clear();
      queue.clear();
      for (const w of waiters.splice(0)) w(undefined);
    },
  };
}
