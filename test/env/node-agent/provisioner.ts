// A local-path volume provisioner: StorageClass `runnel-local` (the default class); each Pending
// claim of a class with our provisioner gets a hostPath PV in `<state-dir>/volumes/<pv>` with a
// claimRef, which kube-controller-manager's PV controller binds. Released PVs with reclaim
// policy Delete are removed together with their folder.
import { rmSync } from "node:fs";
import path from "node:path";
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { statusCode, type Clients } from "./kube.ts";
import { ListWatch } from "./list-watch.ts";
import { errorText, log } from "./log.ts";

export const PROVISIONER = "runnel.dev/local-path";
export const STORAGE_CLASS = "runnel-local";
const PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";

/** Provisions hostPath PersistentVolumes for claims of the runnel-local class. */
export class LocalPathProvisioner {
  private readonly clients: Clients;
  private readonly nodeName: string;
  private readonly root: string;
  private readonly claims = new Map<string, V1PersistentVolumeClaim>();
  private readonly volumes = new Map<string, V1PersistentVolume>();
  private readonly classes = new Map<string, V1StorageClass>();
  private readonly watches: Array<ListWatch<never>> = [];
  private readonly inProgress = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  /** Creates the provisioner; volumes live under `<stateDir>/volumes`. */
  constructor(clients: Clients, nodeName: string, stateDir: string) {
    this.clients = clients;
    this.nodeName = nodeName;
    this.root = path.join(stateDir, "volumes");
  }

  /** Creates the default StorageClass if absent and starts watching claims and volumes. */
  async start(): Promise<void> {
    await this.ensureStorageClass();
    const { kc, core, storage } = this.clients;
    const track = <T extends { metadata?: { name?: string; namespace?: string } }>(
      name: string,
      p: string,
      map: Map<string, T>,
      list: () => Promise<{ items: T[] }>,
    ) => {
      const key = (o: T) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
      const w = new ListWatch<T & { metadata?: object }>({
        name,
        kc,
        path: p,
        list: list,
        onSnapshot: (items) => {
          map.clear();
          for (const o of items) map.set(key(o), o);
          this.kick();
        },
        onEvent: (type, o) => {
          if (type === "DELETED") map.delete(key(o));
          else map.set(key(o), o);
          this.kick();
        },
      });
      w.start();
      this.watches.push(w as unknown as ListWatch<never>);
    };
    track("storageclasses", "/apis/storage.k8s.io/v1/storageclasses", this.classes, () => storage.listStorageClass());
    track("pvcs", "/api/v1/persistentvolumeclaims", this.claims, () => core.listPersistentVolumeClaimForAllNamespaces());
    track("pvs", "/api/v1/persistentvolumes", this.volumes, () => core.listPersistentVolume());
  }

  /** Stops watching. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.watches.map((w) => w.stop()));
  }

  private async ensureStorageClass(): Promise<void> {
    try {
      await this.clients.storage.createStorageClass({
        body: {
          apiVersion: "storage.k8s.io/v1",
          kind: "StorageClass",
          metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
          provisioner: PROVISIONER,
          reclaimPolicy: "Delete",
          volumeBindingMode: "Immediate",
        },
      });
      log("storageclass-created", { name: STORAGE_CLASS });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reconcile(), 50);
  }

  private reconcile(): void {
    const ours = new Set([...this.classes.values()].filter((c) => c.provisioner === PROVISIONER).map((c) => c.metadata?.name));
    for (const pvc of this.claims.values()) {
      const cls = pvc.spec?.storageClassName;
      if (!cls || !ours.has(cls) || pvc.spec?.volumeName || pvc.metadata?.deletionTimestamp) continue;
      if (pvc.status?.phase && pvc.status.phase !== "Pending") continue;
      const pvName = `pvc-${pvc.metadata?.uid}`;
      if (this.volumes.has(`/${pvName}`) || this.inProgress.has(pvName)) continue;
      this.track(pvName, this.provision(pvc, pvName, this.classes.get(`/${cls}`)));
    }
    for (const pv of this.volumes.values()) {
      const name = pv.metadata?.name ?? "";
      if (pv.metadata?.annotations?.[PROVISIONED_BY] !== PROVISIONER || this.inProgress.has(name)) continue;
      if (pv.status?.phase === "Released" && pv.spec?.persistentVolumeReclaimPolicy === "Delete" && !pv.metadata?.deletionTimestamp) {
        this.track(name, this.remove(pv));
      }
    }
  }

  private track(name: string, work: Promise<void>): void {
    this.inProgress.add(name);
    work
      .catch((err: unknown) => log("provisioner-error", { pv: name, error: errorText(err) }))
      .finally(() => {
        this.inProgress.delete(name);
        this.kick();
      });
  }

  private async provision(pvc: V1PersistentVolumeClaim, pvName: string, cls: V1StorageClass | undefined): Promise<void> {
    const md = pvc.metadata ?? {};
    const dir = path.join(this.root, pvName);
    const storage = pvc.spec?.resources?.requests?.storage ?? "1Gi";
    try {
      await this.clients.core.createPersistentVolume({
        body: {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: pvName, annotations: { [PROVISIONED_BY]: PROVISIONER } },
          spec: {
            capacity: { storage },
            accessModes: pvc.spec?.accessModes?.length ? pvc.spec.accessModes : ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: cls?.reclaimPolicy ?? "Delete",
            storageClassName: pvc.spec?.storageClassName,
            volumeMode: pvc.spec?.volumeMode ?? "Filesystem",
            hostPath: { path: dir, type: "DirectoryOrCreate" },
            claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: md.namespace, name: md.name, uid: md.uid },
            nodeAffinity: {
              required: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [this.nodeName] }] }],
              },
            },
          },
        },
      });
      log("pv-provisioned", { pv: pvName, claim: `${md.namespace}/${md.name}`, path: dir });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }

  private async remove(pv: V1PersistentVolume): Promise<void> {
    const name = pv.metadata?.name ?? "";
    const dir = pv.spec?.hostPath?.path;
    if (dir && path.dirname(path.resolve(dir)) === path.resolve(this.root)) rmSync(dir, { recursive: true, force: true });
    try {
      await this.clients.core.deletePersistentVolume({ name });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    log("pv-deleted", { pv: name, path: dir });
  }
}
