// Kubernetes API clients for the agent and small helpers around client-node 2.x.
import { CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, StorageV1Api, VersionApi, setHeaderOptions } from "@kubernetes/client-node";

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  coord: CoordinationV1Api;
  storage: StorageV1Api;
  /** The apiserver URL from the kubeconfig. */
  server: URL;
}

/** Loads a kubeconfig file and builds the API clients the agent uses. */
export function makeClients(kubeconfigPath: string): Clients {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig ${kubeconfigPath} has no current cluster`);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    coord: kc.makeApiClient(CoordinationV1Api),
    storage: kc.makeApiClient(StorageV1Api),
    server: new URL(cluster.server),
  };
}

/** Returns the apiserver's gitVersion (e.g. v1.36.3), or a fallback when it cannot be read. */
export async function serverVersion(clients: Clients): Promise<string> {
  try {
    const info = await clients.kc.makeApiClient(VersionApi).getCode();
    return info.gitVersion;
  } catch {
    return "v0.0.0-unknown";
  }
}

/** Returns the HTTP status code of a client-node API error, if it is one. */
export function statusCode(err: unknown): number | undefined {
  if (err && typeof err === "object" && "code" in err && typeof err.code === "number") {
    return (err as { code: number }).code;
  }
  return undefined;
}

/** Request options that send a patch body as a strategic merge patch. */
export const strategicMerge = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

/** Request options that send a patch body as a JSON merge patch. */
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
