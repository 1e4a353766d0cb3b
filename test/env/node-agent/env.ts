// Container environment: env/envFrom resolution and the kubelet's $(VAR) expansion.
import type { V1ConfigMap, V1Container, V1Pod, V1ResourceFieldSelector, V1Secret } from "@kubernetes/client-node";
import { statusCode, type Clients } from "./kube.ts";

/** A container config problem the kubelet reports as CreateContainerConfigError. */
export class ConfigError extends Error {}

/** Reads ConfigMaps and Secrets once per container start. */
export class ObjectReader {
  private readonly clients: Clients;
  private readonly cache = new Map<string, Promise<unknown>>();

  /** Creates a reader with an empty cache. */
  constructor(clients: Clients) {
    this.clients = clients;
  }

  /** Reads a ConfigMap, or undefined when it does not exist. */
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    return this.cached(`cm/${namespace}/${name}`, () => this.clients.core.readNamespacedConfigMap({ name, namespace }));
  }

  /** Reads a Secret, or undefined when it does not exist. */
  secret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return this.cached(`secret/${namespace}/${name}`, () => this.clients.core.readNamespacedSecret({ name, namespace }));
  }

  private cached<T>(key: string, read: () => Promise<T>): Promise<T | undefined> {
    let p = this.cache.get(key) as Promise<T | undefined> | undefined;
    if (!p) {
      p = read().catch((err: unknown) => {
        if (statusCode(err) === 404) return undefined;
        throw err;
      });
      this.cache.set(key, p);
    }
    return p;
  }
}

export interface EnvContext {
  pod: V1Pod;
  podIP: string;
  hostIP: string;
  reader: ObjectReader;
  /** Node allocatable, for resourceFieldRef without limits. */
  nodeCpu: string;
  nodeMemory: string;
}

/** Resolves a container's environment (envFrom, then env, with $(VAR) expansion) on top of `base`. */
export async function resolveEnv(ctx: EnvContext, container: V1Container, base: Record<string, string>): Promise<Record<string, string>> {
  const ns = ctx.pod.metadata?.namespace ?? "default";
  const env: Record<string, string> = { ...base };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? "";
    if (from.configMapRef) {
      const cm = await ctx.reader.configMap(ns, from.configMapRef.name ?? "");
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ConfigError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) env[prefix + k] = v;
    } else if (from.secretRef) {
      const secret = await ctx.reader.secret(ns, from.secretRef.name ?? "");
      if (!secret) {
        if (from.secretRef.optional) continue;
        throw new ConfigError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(secret.data ?? {})) env[prefix + k] = decode(v);
    }
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = expandVars(e.value ?? "", env);
      continue;
    }
    const value = await resolveValueFrom(ctx, container, e.name, e.valueFrom);
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

async function resolveValueFrom(
  ctx: EnvContext,
  container: V1Container,
  name: string,
  from: NonNullable<NonNullable<V1Container["env"]>[number]["valueFrom"]>,
): Promise<string | undefined> {
  const ns = ctx.pod.metadata?.namespace ?? "default";
  if (from.fieldRef) return fieldPathValue(ctx.pod, from.fieldRef.fieldPath, ctx.podIP, ctx.hostIP);
  if (from.resourceFieldRef) return resourceFieldValue(ctx, container, from.resourceFieldRef);
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const cm = await ctx.reader.configMap(ns, ref.name ?? "");
    const value = cm?.data?.[ref.key];
    if (value === undefined && !ref.optional) {
      throw new ConfigError(cm ? `couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}` : `configmap "${ref.name}" not found`);
    }
    return value;
  }
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const secret = await ctx.reader.secret(ns, ref.name ?? "");
    const value = secret?.data?.[ref.key];
    if (value === undefined && !ref.optional) {
      throw new ConfigError(secret ? `couldn't find key ${ref.key} in Secret ${ns}/${ref.name}` : `secret "${ref.name}" not found`);
    }
    return value === undefined ? undefined : decode(value);
  }
  throw new ConfigError(`env ${name}: unsupported valueFrom`);
}

/** Returns the value of a downward API field path (metadata.name, status.podIP, metadata.labels['x'], …). */
export function fieldPathValue(pod: V1Pod, fieldPath: string, podIP: string, hostIP: string): string {
  const md = pod.metadata ?? {};
  const mapKey = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (mapKey) {
    const map = mapKey[1] === "labels" ? md.labels : md.annotations;
    return map?.[mapKey[2]!] ?? "";
  }
  switch (fieldPath) {
    case "metadata.name":
      return md.name ?? "";
    case "metadata.namespace":
      return md.namespace ?? "";
    case "metadata.uid":
      return md.uid ?? "";
    case "metadata.labels":
      return formatMap(md.labels);
    case "metadata.annotations":
      return formatMap(md.annotations);
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "default";
    case "status.podIP":
    case "status.podIPs":
      return podIP;
    case "status.hostIP":
    case "status.hostIPs":
      return hostIP;
    default:
      throw new ConfigError(`unsupported fieldRef ${fieldPath}`);
  }
}

/** Formats labels/annotations like the downward API volume: `key="value"` lines, sorted. */
export function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map![k])}`)
    .join("\n");
}

/** Returns a resourceFieldRef value (limits/requests of cpu or memory, node allocatable without a limit). */
export function resourceFieldValue(ctx: EnvContext, container: V1Container, ref: V1ResourceFieldSelector): string {
  const [kind, resource] = ref.resource.split(".") as [string, string];
  const bag = kind === "requests" ? container.resources?.requests : container.resources?.limits;
  const fallback = resource === "cpu" ? ctx.nodeCpu : resource === "memory" ? ctx.nodeMemory : "0";
  const raw = bag?.[resource] ?? (kind === "limits" ? fallback : "0");
  const divisor = parseQuantity(ref.divisor ?? "1");
  return String(Math.ceil(parseQuantity(String(raw)) / (divisor || 1)));
}

/** Parses a Kubernetes quantity ("500m", "1Gi", "2") into a number. */
export function parseQuantity(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return 0;
  const scale: Record<string, number> = {
    "": 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  return Number(m[1]) * (scale[m[2]!] ?? 1);
}

/** Expands `$(VAR)` references like the kubelet: unknown ones stay as written, `$$` escapes `$`. */
export function expandVars(input: string, env: Record<string, string>): string {
  let out = "";
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (ch !== "$" || i + 1 >= input.length) {
      out += ch;
      i++;
      continue;
    }
    const next = input[i + 1]!;
    if (next === "$") {
      out += "$";
      i += 2;
    } else if (next === "(") {
      const end = input.indexOf(")", i + 2);
      if (end < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, end);
      out += Object.hasOwn(env, name) ? env[name] : `$(${name})`;
      i = end + 1;
    } else {
      out += "$" + next;
      i += 2;
    }
  }
  return out;
}

function decode(b64: string): string {
  return Buffer.from(b64, "base64").toString("utf8");
}
