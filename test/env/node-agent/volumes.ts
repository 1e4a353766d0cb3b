// Pod volumes materialised as host paths: configMap/secret/downwardAPI/projected files, emptyDir,
// PVCs (the provisioner's host folders) and hostPath. Containers bind-mount these (mounts.ts).
import { existsSync, mkdirSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { V1KeyToPath, V1Pod, V1Volume } from "@kubernetes/client-node";
import { fieldPathValue, formatMap, ObjectReader, resourceFieldValue, type EnvContext } from "./env.ts";
import { type FileSet, writeFileSet } from "./files.ts";
import { statusCode, type Clients } from "./kube.ts";

/** A volume that cannot be set up yet (kubelet's FailedMount). */
export class VolumeError extends Error {}

export interface VolumeContext {
  clients: Clients;
  pod: V1Pod;
  /** The pod's folder under the state dir; pod-local volumes live in `<podDir>/volumes`. */
  podDir: string;
  podIP: string;
  hostIP: string;
  nodeCpu: string;
  nodeMemory: string;
}

interface CachedToken {
  token: string;
  refreshAt: number;
}

/** The volumes of one pod: host paths by volume name, kept fresh while the pod runs. */
export class PodVolumes {
  /** Volume name → host path (a directory, or a file for file-typed hostPaths). */
  readonly paths = new Map<string, string>();
  private readonly ctx: VolumeContext;
  private readonly tokens = new Map<string, CachedToken>();

  /** Creates the volume set for a pod. */
  constructor(ctx: VolumeContext) {
    this.ctx = ctx;
  }

  /** Materialises every volume; throws VolumeError (or an API error) when one cannot be set up yet. */
  async prepare(): Promise<void> {
    const reader = new ObjectReader(this.ctx.clients);
    for (const vol of this.ctx.pod.spec?.volumes ?? []) {
      this.paths.set(vol.name, await this.materialise(vol, reader));
    }
  }

  /** Re-writes configMap/secret/downwardAPI/projected volumes (updates, token refresh). */
  async refresh(): Promise<void> {
    const reader = new ObjectReader(this.ctx.clients);
    for (const vol of this.ctx.pod.spec?.volumes ?? []) {
      if (vol.configMap || vol.secret || vol.projected || vol.downwardAPI) await this.materialise(vol, reader);
    }
  }

  /** Removes the pod-local volume folders (never PVC or hostPath data). */
  async cleanup(): Promise<void> {
    await rm(path.join(this.ctx.podDir, "volumes"), { recursive: true, force: true });
  }

  private localDir(kind: string, name: string): string {
    return path.join(this.ctx.podDir, "volumes", kind, name);
  }

  private async materialise(vol: V1Volume, reader: ObjectReader): Promise<string> {
    const ns = this.ctx.pod.metadata?.namespace ?? "default";
    if (vol.emptyDir) {
      const dir = this.localDir("empty-dir", vol.name);
      mkdirSync(dir, { recursive: true });
      return dir;
    }
    if (vol.hostPath) return hostPath(vol.hostPath.path, vol.hostPath.type ?? "");
    if (vol.persistentVolumeClaim) return this.claimPath(vol.persistentVolumeClaim.claimName);
    if (vol.ephemeral) return this.claimPath(`${this.ctx.pod.metadata?.name}-${vol.name}`);
    const files: FileSet = new Map();
    let kind: string;
    if (vol.configMap) {
      kind = "configmap";
      const src = vol.configMap;
      await this.addConfigMap(files, reader, ns, src.name ?? "", src.items, src.optional, src.defaultMode);
    } else if (vol.secret) {
      kind = "secret";
      const src = vol.secret;
      await this.addSecret(files, reader, ns, src.secretName ?? "", src.items, src.optional, src.defaultMode);
    } else if (vol.downwardAPI) {
      kind = "downward-api";
      this.addDownward(files, vol.downwardAPI.items ?? [], vol.downwardAPI.defaultMode);
    } else if (vol.projected) {
      kind = "projected";
      const mode = vol.projected.defaultMode;
      for (const [i, src] of (vol.projected.sources ?? []).entries()) {
        if (src.configMap) await this.addConfigMap(files, reader, ns, src.configMap.name ?? "", src.configMap.items, src.configMap.optional, mode);
        else if (src.secret) await this.addSecret(files, reader, ns, src.secret.name ?? "", src.secret.items, src.secret.optional, mode);
        else if (src.downwardAPI) this.addDownward(files, src.downwardAPI.items ?? [], mode);
        else if (src.serviceAccountToken) {
          const t = src.serviceAccountToken;
          const token = await this.token(`${vol.name}/${i}`, t.audience, t.expirationSeconds ?? 3600);
          files.set(t.path, { content: Buffer.from(token), mode: mode ?? 0o644 });
        } else throw new VolumeError(`volume ${vol.name}: unsupported projected source ${Object.keys(src).join(",")}`);
      }
    } else {
      throw new VolumeError(
        `volume ${vol.name}: unsupported volume type ${Object.keys(vol)
          .filter((k) => k !== "name")
          .join(",")}`,
      );
    }
    const dir = this.localDir(kind, vol.name);
    writeFileSet(dir, files);
    return dir;
  }

  private async claimPath(claimName: string): Promise<string> {
    const { core } = this.ctx.clients;
    const namespace = this.ctx.pod.metadata?.namespace ?? "default";
    let pvc;
    try {
      pvc = await core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace });
    } catch (err) {
      if (statusCode(err) === 404) throw new VolumeError(`persistentvolumeclaim "${claimName}" not found`);
      throw err;
    }
    const pvName = pvc.spec?.volumeName;
    if (pvc.status?.phase !== "Bound" || !pvName) throw new VolumeError(`persistentvolumeclaim "${claimName}" is not bound`);
    const pv = await core.readPersistentVolume({ name: pvName });
    const dir = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
    if (!dir) throw new VolumeError(`persistentvolume "${pvName}" has no hostPath or local path`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  private async addConfigMap(
    files: FileSet,
    reader: ObjectReader,
    ns: string,
    name: string,
    items: V1KeyToPath[] | undefined,
    optional: boolean | undefined,
    mode: number | undefined,
  ): Promise<void> {
    const cm = await reader.configMap(ns, name);
    if (!cm) {
      if (optional) return;
      throw new VolumeError(`configmap "${name}" not found`);
    }
    const data = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(cm.data ?? {})) data.set(k, Buffer.from(v));
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) data.set(k, Buffer.from(v, "base64"));
    addKeys(files, data, items, optional, mode, `configmap "${name}"`);
  }

  private async addSecret(
    files: FileSet,
    reader: ObjectReader,
    ns: string,
    name: string,
    items: V1KeyToPath[] | undefined,
    optional: boolean | undefined,
    mode: number | undefined,
  ): Promise<void> {
    const secret = await reader.secret(ns, name);
    if (!secret) {
      if (optional) return;
      throw new VolumeError(`secret "${name}" not found`);
    }
    const data = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(secret.data ?? {})) data.set(k, Buffer.from(v, "base64"));
    addKeys(files, data, items, optional, mode, `secret "${name}"`);
  }

  private addDownward(
    files: FileSet,
    items: Array<{
      path: string;
      fieldRef?: { fieldPath: string };
      resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
      mode?: number;
    }>,
    mode: number | undefined,
  ): void {
    const { pod, podIP, hostIP } = this.ctx;
    for (const item of items) {
      let value = "";
      if (item.fieldRef) {
        const fp = item.fieldRef.fieldPath;
        value =
          fp === "metadata.labels"
            ? formatMap(pod.metadata?.labels)
            : fp === "metadata.annotations"
              ? formatMap(pod.metadata?.annotations)
              : fieldPathValue(pod, fp, podIP, hostIP);
      } else if (item.resourceFieldRef) {
        const ref = item.resourceFieldRef;
        const container = pod.spec?.containers.find((c) => c.name === ref.containerName) ?? pod.spec?.containers[0];
        const envCtx: EnvContext = { ...this.ctx, reader: new ObjectReader(this.ctx.clients) };
        value = container ? resourceFieldValue(envCtx, container, ref) : "0";
      }
      files.set(item.path, { content: Buffer.from(value), mode: item.mode ?? mode ?? 0o644 });
    }
  }

  /** Returns a bound service account token from the TokenRequest API, refreshed at 80% of its life. */
  private async token(key: string, audience: string | undefined, expirationSeconds: number): Promise<string> {
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const pod = this.ctx.pod;
    const tr = await this.ctx.clients.core.createNamespacedServiceAccountToken({
      name: pod.spec?.serviceAccountName || "default",
      namespace: pod.metadata?.namespace ?? "default",
      body: {
        spec: {
          audiences: audience ? [audience] : [],
          expirationSeconds,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata?.name, uid: pod.metadata?.uid },
        },
      },
    });
    const token = tr.status?.token;
    if (!token) throw new VolumeError("TokenRequest returned no token");
    const expires = tr.status?.expirationTimestamp ? new Date(tr.status.expirationTimestamp).getTime() : Date.now() + expirationSeconds * 1000;
    this.tokens.set(key, { token, refreshAt: Date.now() + 0.8 * (expires - Date.now()) });
    return token;
  }
}

function addKeys(
  files: FileSet,
  data: Map<string, Buffer>,
  items: V1KeyToPath[] | undefined,
  optional: boolean | undefined,
  mode: number | undefined,
  what: string,
): void {
  if (!items || items.length === 0) {
    for (const [k, v] of data) files.set(k, { content: v, mode: mode ?? 0o644 });
    return;
  }
  for (const item of items) {
    const value = data.get(item.key);
    if (value === undefined) {
      if (optional) continue;
      throw new VolumeError(`${what} has no key "${item.key}"`);
    }
    files.set(item.path, { content: value, mode: item.mode ?? mode ?? 0o644 });
  }
}

function hostPath(p: string, type: string): string {
  if (type === "DirectoryOrCreate") mkdirSync(p, { recursive: true });
  else if (type === "FileOrCreate" && !existsSync(p)) {
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSyncEmpty(p);
  } else if (type && type !== "") {
    if (!existsSync(p)) throw new VolumeError(`hostPath ${p} (${type}) does not exist`);
    const st = statSync(p);
    if (type === "Directory" && !st.isDirectory()) throw new VolumeError(`hostPath ${p} is not a directory`);
    if (type === "File" && !st.isFile()) throw new VolumeError(`hostPath ${p} is not a file`);
  }
  return p;
}

function writeFileSyncEmpty(p: string): void {
  writeFileSet(path.dirname(p), new Map([[path.basename(p), { content: Buffer.alloc(0), mode: 0o644 }]]), false);
}
