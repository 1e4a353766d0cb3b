/**
 * Remembered coordinators — the second change Runnel makes to kafkajs's internals (ADR 30; the
 * first is batch-patch.ts, the third send-patch.ts). kafkajs 2.2.x asks the cluster for a coordinator (FindCoordinator)
 * before every transactional request: adding partitions, adding offsets, committing offsets and
 * ending the transaction each pay a round trip first — four of the nine round trips of an
 * exactly-once checkpoint, every second, per task. Loading this module makes each kafkajs cluster
 * (one per producer, consumer or admin) remember the broker it found per coordinator key, as
 * Kafka's Java client does, and forget it as soon as any request to that broker fails (a moved
 * coordinator answers NOT_COORDINATOR; kafkajs's own retries then look it up again) or its
 * connection is gone. Process-wide, applied once; refuses any kafkajs other than 2.2.x.
 */
import { createRequire } from "node:module";
import { kafkajsVersionChecked } from "./batch-patch.ts";

/** The parts of a kafkajs broker the cache reads. */
export interface CoordinatorBroker {
  isConnected(): boolean;
}

/** kafkajs's Cluster.findGroupCoordinator: the broker coordinating a group or transactional id. */
export type CoordinatorLookup = (this: object, params: { groupId: string; coordinatorType?: number }) => Promise<CoordinatorBroker>;

/** The part of kafkajs's Cluster the cache redefines. */
interface ClusterPrototype {
  findGroupCoordinator: CoordinatorLookup;
  runnelRemembersCoordinators?: boolean;
}

/** A view of `broker` whose failing requests drop it from `cache`, so the next lookup asks the cluster again. */
function forgettingOnFailure(broker: CoordinatorBroker, cache: Map<string, CoordinatorBroker>, key: string): CoordinatorBroker {
  const forget = (err: unknown): never => {
    cache.delete(key);
    throw err;
  };
  return new Proxy(broker, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]): unknown => {
        try {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          return result instanceof Promise ? result.catch(forget) : result;
        } catch (err) {
          return forget(err);
        }
      };
    },
  });
}

/** `lookUp` remembering, per cluster (`this`) and coordinator key, the broker it found while it stays connected and answers. */
export function rememberingLookup(lookUp: CoordinatorLookup): CoordinatorLookup {
  const remembered = new WeakMap<object, Map<string, CoordinatorBroker>>();
  return async function findGroupCoordinator(this: object, params) {
    let cache = remembered.get(this);
    if (!cache) remembered.set(this, (cache = new Map<string, CoordinatorBroker>()));
    const key = `${params.coordinatorType ?? 0}:${params.groupId}`;
    const known = cache.get(key);
    if (known?.isConnected()) return known;
    const found = forgettingOnFailure(await lookUp.call(this, params), cache, key);
    cache.set(key, found);
    return found;
  };
}

/** Makes kafkajs clusters remember coordinators (once per process); returns whether it was already applied. */
export function rememberCoordinators(): boolean {
  kafkajsVersionChecked();
  const require = createRequire(import.meta.url);
  const proto = (require("kafkajs/src/cluster/index.js") as { prototype: ClusterPrototype }).prototype;
  if (proto.runnelRemembersCoordinators === true) return true;
  proto.runnelRemembersCoordinators = true;
  proto.findGroupCoordinator = rememberingLookup(proto.findGroupCoordinator);
  return false;
}
