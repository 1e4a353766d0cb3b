/**
 * An informer: a local cache of one resource kind, kept current by list + watch. It lists once,
 * then watches from the list's resourceVersion (with bookmarks, so the version keeps moving on a
 * quiet watch). A watch that ends normally is resumed from the last version seen; a 410 Gone
 * (the version fell out of the apiserver's window) or repeated watch failures relist, emitting
 * the differences as events, so nothing is missed. client-node's watches can stall silently, so
 * a watchdog restarts (and relists) a watch that has shown no sign of life for too long.
 */
import type { Watch } from "@kubernetes/client-node";
import type { Logger } from "../../runtime/log.ts";

/** Any Kubernetes object as far as a cache cares: its name, namespace and version. */
export interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** What changed in the cache. */
export type InformerEvent = "add" | "update" | "delete";

/** A list answer: the objects and the collection's resourceVersion. */
export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** One resource kind to keep: how to list it and where to watch it. */
export interface InformerSource<T extends ObjectLike> {
  /** Name in logs and metrics, e.g. `statefulsets` or `streamjobs@ns1`. */
  name: string;
  /** Lists the objects (plain JSON: timestamps as strings). */
  list(): Promise<ListResult<T>>;
  /** The watch path, e.g. /apis/apps/v1/namespaces/ns1/statefulsets. */
  path: string;
  labelSelector?: string;
}

/** Options of an informer. */
export interface InformerOptions<T extends ObjectLike> {
  source: InformerSource<T>;
  watch: Watch;
  log: Logger;
  /** Restart a watch with no event or bookmark for this long (default 120 s). */
  watchdogMs?: number;
  /** Ask the apiserver to end each watch after this many seconds (default 300), resumed at once. */
  watchTimeoutSeconds?: number;
  /** Watch failures in a row before relisting (default 5). */
  maxWatchFailures?: number;
  /** Called when a watch is restarted (expired, watchdog, error). */
  onRestart?: (reason: "expired" | "watchdog" | "error") => void;
}

/** A running informer. */
export interface Informer<T extends ObjectLike> {
  /** Starts listing and watching; resolves once the first list is in the cache. */
  start(): Promise<void>;
  stop(): void;
  /** Calls `handler` for every change (after the cache is updated). */
  on(handler: (event: InformerEvent, obj: T, old?: T) => void): void;
  get(namespace: string | undefined, name: string): T | undefined;
  list(): T[];
  /** True once the first list completed. */
  synced(): boolean;
  /** Milliseconds since the watch last showed a sign of life (an event, a bookmark, a (re)start). */
  silentForMs(): number;
}

/** The cache key of an object. */
export function objectKey(obj: ObjectLike): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

type WatchEnd = "closed" | "expired" | "error" | "watchdog" | "stopped";

/** Creates an informer (not started). */
export function createInformer<T extends ObjectLike>(options: InformerOptions<T>): Informer<T> {
  const { source } = options;
  const log = options.log.child({ resource: source.name }, "informer");
  const cache = new Map<string, T>();
  const handlers: ((event: InformerEvent, obj: T, old?: T) => void)[] = [];
  const watchdogMs = options.watchdogMs ?? 120_000;
  let resourceVersion = "";
  let isSynced = false;
  let stopped = false;
  let lastActivity = Date.now();
  let abortCurrent: (() => void) | undefined;

  function emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of handlers) {
      try {
        h(event, obj, old);
      } catch (err) {
        log.error("informer handler failed", { error: (err as Error).message });
      }
    }
  }

  function put(obj: T): void {
    const key = objectKey(obj);
    const old = cache.get(key);
    cache.set(key, obj);
    if (!old) emit("add", obj);
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) emit("update", obj, old);
  }

  function remove(obj: T): void {
    const key = objectKey(obj);
    const old = cache.get(key);
    if (!cache.delete(key)) return;
    emit("delete", obj, old);
  }

  async function relist(): Promise<void> {
    const { items, resourceVersion: rv } = await source.list();
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(objectKey(item));
      put(item);
    }
    for (const [key, obj] of [...cache]) if (!seen.has(key)) remove(obj);
    resourceVersion = rv;
    lastActivity = Date.now();
    isSynced = true;
  }

  /** One watch from the current resourceVersion, until it ends; says why it ended. */
  function watchOnce(): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve) => {
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (end: WatchEnd): void => {
        if (settled) return;
        settled = true;
        clearInterval(dog);
        abortCurrent = undefined;
        controller?.abort();
        resolve(end);
      };
      lastActivity = Date.now();
      const dog = setInterval(
        () => {
          if (Date.now() - lastActivity > watchdogMs) finish("watchdog");
        },
        Math.min(watchdogMs, 5_000),
      );
      dog.unref();
      abortCurrent = () => finish("stopped");
      const params = {
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: options.watchTimeoutSeconds ?? 300,
        ...(source.labelSelector ? { labelSelector: source.labelSelector } : {}),
      };
      options.watch
        .watch(
          source.path,
          params,
          (type: string, obj: T & { code?: number; message?: string }) => {
            if (settled) return;
            lastActivity = Date.now();
            if (type === "ERROR") {
              finish(obj.code === 410 ? "expired" : "error");
              if (obj.code !== 410) log.warn("watch error event", { code: obj.code, message: obj.message });
              return;
            }
            const rv = obj.metadata?.resourceVersion;
            if (type === "BOOKMARK") {
              if (rv) resourceVersion = rv;
              return;
            }
            if (type === "ADDED" || type === "MODIFIED") put(obj);
            else if (type === "DELETED") remove(obj);
            if (rv) resourceVersion = rv;
          },
          (err: unknown) => {
            if (err === null || err === undefined) return finish("closed");
            const status = (err as { statusCode?: number }).statusCode;
            if (status === 410) return finish("expired");
            // client-node ends a watch with no data for 30 s with a TimeoutError: a quiet watch, not a failure.
            if ((err as { name?: string }).name === "TimeoutError" || (err as { name?: string }).name === "AbortError") return finish("closed");
            log.debug("watch ended with an error", { error: err instanceof Error ? err.message : JSON.stringify(err) });
            finish("error");
          },
        )
        .then(
          (c) => {
            controller = c;
            if (settled) c.abort();
          },
          (err: unknown) => {
            log.debug("watch could not start", { error: (err as Error).message });
            finish("error");
          },
        );
    });
  }

  async function sleep(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms).unref());
  }

  async function loop(firstList: () => void, firstListFailed: (err: Error) => void): Promise<void> {
    let listFailures = 0;
    let first = true;
    while (!stopped) {
      try {
        await relist();
        listFailures = 0;
        if (first) firstList();
        first = false;
      } catch (err) {
        listFailures++;
        log.warn("list failed; retrying", { error: (err as Error).message, failures: listFailures });
        if (first && listFailures >= 3) firstListFailed(err as Error);
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(listFailures, 6)));
        continue;
      }
      let failures = 0;
      for (;;) {
        if (stopped) return;
        const end = await watchOnce();
        if (end === "stopped") return;
        if (end === "closed") {
          failures = 0;
          continue;
        }
        options.onRestart?.(end);
        if (end === "expired" || end === "watchdog") {
          log.info(end === "expired" ? "watch expired (410 Gone); relisting" : `watch silent for ${Math.round(watchdogMs / 1000)} s; restarting and relisting`);
          break;
        }
        failures++;
        if (failures >= (options.maxWatchFailures ?? 5)) {
          log.warn("watch keeps failing; relisting", { failures });
          break;
        }
        await sleep(Math.min(10_000, 200 * 2 ** failures));
      }
    }
  }

  return {
    start() {
      return new Promise<void>((resolve, reject) => {
        void loop(resolve, reject);
      });
    },
    stop() {
      stopped = true;
      abortCurrent?.();
    },
    on: (h) => void handlers.push(h),
    get: (namespace, name) => cache.get(`${namespace ?? ""}/${name}`),
    list: () => [...cache.values()],
    synced: () => isSynced,
    silentForMs: () => Date.now() - lastActivity,
  };
}
