/**
 * The operator's caches: one informer per watched kind and namespace (or one cluster-wide),
 * joined per kind behind one lookup. Reconcilers read only from here; the API is for writes.
 */
import type { V1ConfigMap, V1Pod, V1PodDisruptionBudget, V1Secret, V1Service, V1StatefulSet, V1Job } from "@kubernetes/client-node";
import type { Logger } from "../../runtime/log.ts";
import type { StreamJob, StreamSavepoint } from "../../runtime/spec/generated/types.ts";
import type { OperatorMetrics } from "../machinery/metrics.ts";
import type { KubeClients } from "./client.ts";
import { createInformer, type Informer, type InformerEvent, type ObjectLike } from "./informer.ts";
import { sourcesFor, type KindName } from "./resources.ts";

/** One kind's cache over all watched namespaces. */
export interface KindCache<T extends ObjectLike> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): T[];
  on(handler: (event: InformerEvent, obj: T, old?: T) => void): void;
}

/** Every cache the operator keeps. */
export interface Caches {
  streamjobs: KindCache<StreamJob>;
  streamsavepoints: KindCache<StreamSavepoint>;
  statefulsets: KindCache<V1StatefulSet>;
  pods: KindCache<V1Pod>;
  configmaps: KindCache<V1ConfigMap>;
  secrets: KindCache<V1Secret>;
  services: KindCache<V1Service>;
  poddisruptionbudgets: KindCache<V1PodDisruptionBudget>;
  jobs: KindCache<V1Job>;
  /** Starts every informer; resolves when all listed once. */
  start(): Promise<void>;
  stop(): void;
  /** Undefined when every informer has synced, else which have not. */
  notSynced(): string | undefined;
  /** The longest any watch has been silent, ms. */
  maxSilenceMs(): number;
}

/** Options of the caches. */
export interface CacheOptions {
  clients: KubeClients;
  /** Watched namespaces; undefined: cluster-wide. */
  namespaces: string[] | undefined;
  log: Logger;
  metrics?: OperatorMetrics;
  watchdogMs?: number;
}

/** Creates the caches (not started). */
export function createCaches(options: CacheOptions): Caches {
  const all: Informer<ObjectLike>[] = [];
  function kind<T extends ObjectLike>(name: KindName): KindCache<T> {
    const informers = sourcesFor<T>(options.clients, name, options.namespaces).map((source) =>
      createInformer<T>({
        source,
        watch: options.clients.watch,
        log: options.log,
        ...(options.watchdogMs ? { watchdogMs: options.watchdogMs } : {}),
        onRestart: (reason) => options.metrics?.watchRestarted(name, reason),
      }),
    );
    all.push(...(informers as unknown as Informer<ObjectLike>[]));
    const byNamespace = (namespace: string): Informer<T> | undefined =>
      options.namespaces === undefined ? informers[0] : informers[options.namespaces.indexOf(namespace)];
    return {
      get: (namespace, n) => byNamespace(namespace)?.get(namespace, n),
      list: (namespace) =>
        namespace === undefined
          ? informers.flatMap((i) => i.list())
          : (byNamespace(namespace)
              ?.list()
              .filter((o) => o.metadata?.namespace === namespace) ?? []),
      on: (handler) => {
        for (const i of informers) i.on(handler);
      },
    };
  }
  return {
    streamjobs: kind("streamjobs"),
    streamsavepoints: kind("streamsavepoints"),
    statefulsets: kind("statefulsets"),
    pods: kind("pods"),
    configmaps: kind("configmaps"),
    secrets: kind("secrets"),
    services: kind("services"),
    poddisruptionbudgets: kind("poddisruptionbudgets"),
    jobs: kind("jobs"),
    async start() {
      await Promise.all(all.map((i) => i.start()));
    },
    stop() {
      for (const i of all) i.stop();
    },
    notSynced() {
      const missing = all.filter((i) => !i.synced()).length;
      return missing === 0 ? undefined : `${missing} of ${all.length} caches not synced yet`;
    },
    maxSilenceMs: () => Math.max(0, ...all.map((i) => i.silentForMs())),
  };
}
