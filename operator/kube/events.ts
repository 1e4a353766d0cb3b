/**
 * Kubernetes Events (events.k8s.io/v1) for every transition the operator makes, so `kubectl
 * describe sj/x` and `kubectl events` tell the job's story. The same reason and message for the
 * same object within a few minutes are written once. Failing to write an event never fails a
 * reconcile: events are for people, the status is the record.
 */
import { V1MicroTime } from "@kubernetes/client-node";
import type { Logger } from "../../runtime/log.ts";
import { apiMessage } from "../errors.ts";
import type { KubeClients } from "./client.ts";
import type { ObjectLike } from "./informer.ts";

/** Normal for progress, Warning for anything a person may need to act on. */
export type EventType = "Normal" | "Warning";

/** Writes events about objects. */
export interface EventRecorder {
  /** Records `reason` (CamelCase) with a message about `regarding`; `action` is what the operator did or is doing. */
  record(regarding: ObjectLike, type: EventType, reason: string, message: string, action?: string): void;
}

/** The controller name events are reported by. */
export const REPORTING_CONTROLLER = "runnel.dev/operator";

/** Creates an event recorder writing through the API (identity: this replica). */
export function createEventRecorder(options: { clients: KubeClients; identity: string; log: Logger; dedupeMs?: number }): EventRecorder {
  const recent = new Map<string, number>();
  const dedupeMs = options.dedupeMs ?? 300_000;
  return {
    record(regarding, type, reason, message, action = reason) {
      const meta = regarding.metadata ?? {};
      const namespace = meta.namespace ?? "default";
      const key = `${meta.uid ?? meta.name}\u0000${reason}\u0000${message}`;
      const now = Date.now();
      if (now - (recent.get(key) ?? -Infinity) < dedupeMs) return;
      recent.set(key, now);
      if (recent.size > 10_000) for (const [k, t] of recent) if (now - t > dedupeMs) recent.delete(k);
      options.clients.events
        .createNamespacedEvent({
          namespace,
          body: {
            // Named like client-go's recorder: <object>.<time in hex><random>.
            metadata: { name: `${meta.name ?? "object"}.${now.toString(16)}${Math.random().toString(16).slice(2, 8)}`, namespace },
            eventTime: new V1MicroTime(),
            reportingController: REPORTING_CONTROLLER,
            reportingInstance: options.identity.slice(0, 128),
            action: action.slice(0, 128),
            reason: reason.slice(0, 128),
            note: message.slice(0, 1024),
            type,
            regarding: {
              apiVersion: regarding.apiVersion ?? "",
              kind: regarding.kind ?? "",
              name: meta.name ?? "",
              namespace,
              ...(meta.uid ? { uid: meta.uid } : {}),
            },
          },
        })
        .catch((err: unknown) => options.log.debug("could not write an event", { reason, error: apiMessage(err) }));
    },
  };
}
