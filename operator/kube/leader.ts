/**
 * Leader election on a coordination.k8s.io Lease, so that of several operator replicas exactly
 * one acts. A candidate takes the Lease when it is free or its holder has not renewed it for a
 * whole lease duration, measured on this replica's own clock from when it last saw the record
 * change (clocks of different machines are never compared). Every write carries the
 * resourceVersion it read, so two candidates cannot both win. A leader that cannot renew within
 * the renew deadline (shorter than the lease duration) stops acting before anyone else may start.
 */
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "../../runtime/log.ts";
import { isNotFound, kubeError } from "../errors.ts";
import type { KubeClients } from "./client.ts";

/** Options of leader election. */
export interface LeaderElectionOptions {
  clients: KubeClients;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This replica's identity (pod name and a random suffix). */
  identity: string;
  log: Logger;
  /** How long a holder's claim lasts without renewal (default 15 s). */
  leaseDurationMs?: number;
  /** A leader that could not renew for this long gives up (default 10 s; below the lease duration). */
  renewDeadlineMs?: number;
  /** Time between attempts (default 2 s). */
  retryPeriodMs?: number;
  /** Release the Lease on stop() so a standby takes over at once (default true). */
  releaseOnStop?: boolean;
  onStartedLeading(): void;
  /** Called once when leadership is lost (not on stop()). */
  onStoppedLeading(): void;
}

/** A running election. */
export interface LeaderElection {
  isLeader(): boolean;
  /** Stops campaigning; a leader releases the Lease so a standby takes over at once. */
  stop(): Promise<void>;
}

/** Starts campaigning for the Lease. */
export function startLeaderElection(options: LeaderElectionOptions): LeaderElection {
  const leaseMs = options.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  const retryMs = options.retryPeriodMs ?? 2_000;
  const { clients, namespace, name, identity } = options;
  const log = options.log.child({ lease: `${namespace}/${name}`, identity }, "leader");
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  /** The last holder/renewTime seen, and when (local clock). */
  let observed: { record: string; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  /** Set by an attempt that found another holder's live claim. */
  let heldByOther = false;

  const spec = (transitions: number, acquired: boolean, lease?: V1Lease): V1Lease["spec"] => ({
    holderIdentity: identity,
    leaseDurationSeconds: Math.ceil(leaseMs / 1000),
    acquireTime: acquired ? new V1MicroTime() : (lease?.spec?.acquireTime ?? new V1MicroTime()),
    renewTime: new V1MicroTime(),
    leaseTransitions: transitions,
  });

  async function tryAcquireOrRenew(): Promise<boolean> {
    let lease: V1Lease;
    try {
      lease = await clients.coordination.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw kubeError(`read Lease ${namespace}/${name}`, err);
      await clients.coordination.createNamespacedLease({
        namespace,
        body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec: spec(0, true) },
      });
      return true;
    }
    const holder = lease.spec?.holderIdentity ?? "";
    const record = `${holder}@${String(lease.spec?.renewTime?.valueOf() ?? "")}`;
    if (observed?.record !== record) observed = { record, at: Date.now() };
    const duration = (lease.spec?.leaseDurationSeconds ?? Math.ceil(leaseMs / 1000)) * 1000;
    const held = holder !== "" && holder !== identity && Date.now() - observed.at < duration;
    if (held) {
      heldByOther = true;
      return false;
    }
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    lease.spec = spec(transitions, holder !== identity, lease);
    // replace carries metadata.resourceVersion: if another candidate wrote first, this fails with 409.
    await clients.coordination.replaceNamespacedLease({ name, namespace, body: lease });
    return true;
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    let ok = false;
    heldByOther = false;
    try {
      ok = await tryAcquireOrRenew();
    } catch (err) {
      log.debug("lease attempt failed", { error: (err as Error).message });
    }
    if (stopped) return;
    if (ok) {
      lastRenew = Date.now();
      if (!leader) {
        leader = true;
        log.info("became the leader");
        options.onStartedLeading();
      }
    } else if (leader && (heldByOther || Date.now() - lastRenew > renewDeadlineMs)) {
      leader = false;
      log.error(
        heldByOther ? "another replica holds the leader Lease; stopping" : "lost the leader Lease (could not renew within the renew deadline); stopping",
      );
      options.onStoppedLeading();
      return;
    }
    timer = setTimeout(() => {
      running = tick();
    }, retryMs);
  }

  log.info("campaigning for the leader Lease");
  running = tick();
  return {
    isLeader: () => leader,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      if (!leader) return;
      leader = false;
      if (options.releaseOnStop === false) return;
      try {
        const lease = await clients.coordination.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity !== identity) return;
        lease.spec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 };
        await clients.coordination.replaceNamespacedLease({ name, namespace, body: lease });
        log.info("released the leader Lease");
      } catch (err) {
        log.warn("could not release the leader Lease", { error: (err as Error).message });
      }
    },
  };
}
