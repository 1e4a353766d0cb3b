// The pods bound to this node: one PodWorker per pod uid, fed by a list-watch on spec.nodeName.
import type { V1Pod } from "@kubernetes/client-node";
import { ListWatch, type WatchEventType } from "./list-watch.ts";
import { log } from "./log.ts";
import { PodWorker, type AgentContext } from "./pod-worker.ts";

/** Keeps one worker per pod bound to this node, in step with the apiserver. */
export class PodManager {
  private readonly agent: AgentContext;
  private readonly workers = new Map<string, PodWorker>();
  private readonly watch: ListWatch<V1Pod>;
  private shuttingDown = false;

  /** Creates the manager; call start() to begin watching. */
  constructor(agent: AgentContext) {
    this.agent = agent;
    const fieldSelector = `spec.nodeName=${agent.nodeName}`;
    this.watch = new ListWatch<V1Pod>({
      name: "pods",
      kc: agent.clients.kc,
      path: "/api/v1/pods",
      query: { fieldSelector },
      list: () => agent.clients.core.listPodForAllNamespaces({ fieldSelector }),
      onSnapshot: (pods) => this.snapshot(pods),
      onEvent: (type, pod) => this.event(type, pod),
      resyncMs: 30_000,
    });
  }

  /** Starts watching pods bound to the node. */
  start(): void {
    this.watch.start();
  }

  /** Finds the worker of a pod by namespace and name (newest if several). */
  find(namespace: string, name: string): PodWorker | undefined {
    let found: PodWorker | undefined;
    for (const w of this.workers.values()) {
      if (w.pod.metadata?.namespace === namespace && w.pod.metadata?.name === name) found = w;
    }
    return found;
  }

  /** Stops watching and stops every pod's processes (SIGTERM, then SIGKILL after `graceMs`). */
  async shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    await this.watch.stop();
    await Promise.all([...this.workers.values()].map((w) => w.shutdown(graceMs)));
  }

  private snapshot(pods: V1Pod[]): void {
    const seen = new Set<string>();
    for (const pod of pods) {
      const phase = pod.status?.phase;
      const uid = pod.metadata?.uid;
      if (uid && !this.workers.has(uid) && phase !== "Succeeded" && phase !== "Failed") this.agent.ipPool.reserve(pod.status?.podIP);
    }
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (!uid) continue;
      seen.add(uid);
      this.upsert(pod);
    }
    for (const [uid, worker] of this.workers) {
      if (!seen.has(uid)) this.remove(uid, worker);
    }
  }

  private event(type: WatchEventType, pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    if (type === "DELETED") {
      const worker = this.workers.get(uid);
      if (worker) this.remove(uid, worker);
      return;
    }
    this.upsert(pod);
  }

  private upsert(pod: V1Pod): void {
    if (this.shuttingDown) return;
    const uid = pod.metadata!.uid!;
    const existing = this.workers.get(uid);
    if (existing) {
      // Ignore stale events: only take newer resource versions.
      if (Number(pod.metadata?.resourceVersion ?? 0) >= Number(existing.pod.metadata?.resourceVersion ?? 0)) existing.update(pod);
      return;
    }
    const worker = new PodWorker(this.agent, pod);
    this.workers.set(uid, worker);
    worker.start();
  }

  private remove(uid: string, worker: PodWorker): void {
    this.workers.delete(uid);
    worker.vanished();
    void worker.finished.then(() => log("pod-forgotten", { uid }));
  }
}
