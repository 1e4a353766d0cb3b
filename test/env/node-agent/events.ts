// Kubernetes Events about pods, as the kubelet records them (Started, Killing, BackOff, …).
import type { V1Pod } from "@kubernetes/client-node";
import type { Clients } from "./kube.ts";
import { errorText, log } from "./log.ts";

/** Records core/v1 Events for pods, fire-and-forget. */
export class EventRecorder {
  private readonly clients: Clients;
  private readonly nodeName: string;
  private seq = 0;

  /** Creates a recorder reporting as the kubelet of `nodeName`. */
  constructor(clients: Clients, nodeName: string) {
    this.clients = clients;
    this.nodeName = nodeName;
  }

  /** Records an event about a pod (optionally one of its containers); never throws. */
  record(pod: V1Pod, type: "Normal" | "Warning", reason: string, message: string, container?: string): void {
    const md = pod.metadata ?? {};
    const namespace = md.namespace ?? "default";
    const now = new Date();
    const name = `${md.name}.${Date.now().toString(16)}${(this.seq++ % 4096).toString(16).padStart(3, "0")}`;
    this.clients.core
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          involvedObject: {
            apiVersion: "v1",
            kind: "Pod",
            name: md.name,
            namespace,
            uid: md.uid,
            fieldPath: container ? `spec.containers{${container}}` : undefined,
          },
          type,
          reason,
          message,
          source: { component: "kubelet", host: this.nodeName },
          reportingComponent: "kubelet",
          reportingInstance: this.nodeName,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch((err: unknown) => {
        if (!errorText(err).includes("being terminated")) log("event-failed", { reason, error: errorText(err) });
      });
  }
}
