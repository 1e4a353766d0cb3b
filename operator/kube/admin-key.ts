/**
 * The operator's admin key: one Secret in the operator's own namespace, read by name at start
 * (created with a random key when missing). Each job's worker admin token is derived from it,
 * so the operator writes the job's token Secret but never reads a Secret in a job's namespace
 * (ADR 28): its RBAC needs no get, list or watch on Secrets there.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { StreamJob } from "../../runtime/spec/generated/types.ts";
import { isNotFound, kubeError, statusOf } from "../errors.ts";
import type { KubeClients } from "./client.ts";

/** The data key of the admin key Secret. */
export const ADMIN_KEY_FIELD = "key";

/** Where the admin key lives. */
export interface AdminKeyOptions {
  clients: KubeClients;
  namespace: string;
  name: string;
}

async function readKey(options: AdminKeyOptions): Promise<Buffer | undefined> {
  try {
    const secret = await options.clients.core.readNamespacedSecret({ namespace: options.namespace, name: options.name });
    const encoded = secret.data?.[ADMIN_KEY_FIELD];
    if (!encoded)
      throw kubeError(
        `read Secret ${options.namespace}/${options.name}`,
        new Error(`it has no data.${ADMIN_KEY_FIELD}; delete it and the operator creates a new key`),
      );
    return Buffer.from(encoded, "base64");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw kubeError(`read Secret ${options.namespace}/${options.name}`, err);
  }
}

/** Reads the admin key, creating its Secret with a random key when there is none yet (two replicas may race: the loser reads the winner's). */
export async function loadAdminKey(options: AdminKeyOptions): Promise<Buffer> {
  const existing = await readKey(options);
  if (existing) return existing;
  const body: V1Secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: options.name, namespace: options.namespace, labels: { "app.kubernetes.io/managed-by": "runnel-operator" } },
    type: "Opaque",
    data: { [ADMIN_KEY_FIELD]: randomBytes(32).toString("base64") },
  };
  try {
    await options.clients.core.createNamespacedSecret({ namespace: options.namespace, body });
  } catch (err) {
    if (statusOf(err) !== 409) throw kubeError(`create Secret ${options.namespace}/${options.name}`, err);
  }
  const created = await readKey(options);
  if (!created) throw kubeError(`read Secret ${options.namespace}/${options.name}`, new Error("it vanished right after it was created"));
  return created;
}

/** A job's worker admin token: HMAC-SHA256 of its namespace, name and uid under the admin key. */
export function deriveAdminToken(key: Buffer, job: StreamJob): string {
  const { namespace = "", name = "", uid = "" } = job.metadata ?? {};
  return createHmac("sha256", key).update(`${namespace}/${name}/${uid}`).digest("hex");
}
