// List-then-watch with a watchdog: client-node watches can stall silently, so every watch is
// bounded (server timeout plus a local deadline) and the full list is re-read periodically.
import { Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { errorText, log, sleep } from "./log.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface ListWatchOptions<T extends KubernetesObject> {
  /** Name used in log lines. */
  name: string;
  kc: KubeConfig;
  /** Collection path, e.g. `/api/v1/pods`. */
  path: string;
  /** Extra query parameters for the watch, e.g. a fieldSelector (the list must apply the same). */
  query?: Record<string, string>;
  /** Lists the collection. */
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  /** Receives every full list (objects missing from it are gone). */
  onSnapshot: (items: T[]) => void;
  /** Receives every watch event. */
  onEvent: (type: WatchEventType, obj: T) => void;
  /** Full re-list interval; the watchdog. Default 60 s. */
  resyncMs?: number;
}

/** A list-watch loop over one collection that survives errors, expiry and stalled watches. */
export class ListWatch<T extends KubernetesObject> {
  private readonly opts: ListWatchOptions<T>;
  private readonly stopper = new AbortController();
  private current: AbortController | undefined;
  private loop: Promise<void> | undefined;

  /** Creates the loop; call start() to run it. */
  constructor(opts: ListWatchOptions<T>) {
    this.opts = opts;
  }

  /** Starts listing and watching in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the loop and aborts the open watch. */
  async stop(): Promise<void> {
    this.stopper.abort();
    this.current?.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const resyncMs = this.opts.resyncMs ?? 60_000;
    let failures = 0;
    while (!this.stopper.signal.aborted) {
      try {
        const list = await this.opts.list();
        if (this.stopper.signal.aborted) return;
        this.opts.onSnapshot(list.items);
        failures = 0;
        let rv = list.metadata?.resourceVersion ?? "";
        const listedAt = Date.now();
        while (!this.stopper.signal.aborted && Date.now() - listedAt < resyncMs) {
          const next = await this.watchOnce(rv);
          if (next === undefined) break; // expired or failed: re-list
          rv = next;
        }
      } catch (err) {
        failures++;
        log("watch-error", { watch: this.opts.name, error: errorText(err) });
        await sleep(Math.min(500 * 2 ** failures, 5000), this.stopper.signal);
      }
    }
  }

  /** Runs one bounded watch; returns the last resourceVersion, or undefined to force a re-list. */
  private watchOnce(rv: string): Promise<string | undefined> {
    const serverTimeout = 20 + Math.floor(Math.random() * 10);
    return new Promise((resolve) => {
      let last: string | undefined = rv;
      let settled = false;
      const finish = (value: string | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.current?.abort();
        resolve(value);
      };
      // Watchdog: a watch that outlives its server-side timeout has stalled.
      const deadline = setTimeout(
        () => {
          log("watch-stalled", { watch: this.opts.name });
          finish(undefined);
        },
        (serverTimeout + 15) * 1000,
      );
      const query = { ...this.opts.query, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: serverTimeout };
      new Watch(this.opts.kc)
        .watch(
          this.opts.path,
          query,
          (type: string, obj: T & { code?: number }) => {
            if (type === "ERROR") {
              last = undefined; // 410 Gone and friends: start again from a list
              return;
            }
            const objRv = obj.metadata?.resourceVersion;
            if (objRv && last !== undefined) last = objRv;
            if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") this.opts.onEvent(type, obj);
          },
          (err: unknown) => {
            if (err && !this.stopper.signal.aborted && !settled) {
              log("watch-closed", { watch: this.opts.name, error: errorText(err) });
              finish(undefined);
            } else finish(last);
          },
        )
        .then((ctl) => {
          this.current = ctl;
          if (settled || this.stopper.signal.aborted) ctl.abort();
        })
        .catch((err: unknown) => {
          log("watch-error", { watch: this.opts.name, error: errorText(err) });
          finish(undefined);
        });
    });
  }
}
